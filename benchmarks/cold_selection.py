"""Design selection for the cold protocols without touching their reported folds.

  MIRJAX_DATA_DIR=../shared/data/raw python -m benchmarks.cold_selection --workdir=runs/cold_on
  ... --cold_windows=False --workdir=runs/cold_off

The inner temporal splits that choose the model's design (docs/reports/prospective.md) share the
time-cut windows' blind spot: no test node there lacks records. Here the miRNAs of the reported
`cold_mirna` fold 1 and the genes of the reported `cold_gene` fold 1 leave the table with every record
(and the universe), and both cold protocols run on what remains, with the model's windows as node folds
(`prospective.cold_windows`) or as time cuts. The workdir gets the usual results.json, metrics.csv
and leaderboard.md of those inner folds.
"""

import dataclasses
import os
import time

from absl import app, flags, logging

from mirjax import config as config_lib
from mirjax import workdir
from mirjax.data import protocols
from mirjax.data import universe as universe_lib
from mirjax.prospective import evaluate, features

_WORKDIR = flags.DEFINE_string("workdir", None, "A new directory for the inner folds' results.",
                               required=True)
_COLD = flags.DEFINE_bool("cold_windows", True, "config.prospective.cold_windows of the model.")


def main(argv):
  del argv
  if os.path.exists(_WORKDIR.value):
    raise app.UsageError(f"--workdir={_WORKDIR.value} exists; give a new one.")
  c = config_lib.default_config()
  c.protocols.universe = "whole"
  c.protocols.protocols = ("cold_mirna", "cold_gene")
  c.prospective.cold_windows = _COLD.value
  u = universe_lib.build("whole", c.data)
  reported = {s.protocol: s for s in protocols.splits(u, c.protocols) if s.index == 0}
  mirnas, genes = reported["cold_mirna"].test_mirnas, reported["cold_gene"].test_genes
  r = u.records
  keep = ~mirnas[r.mirna] & ~genes[r.gene]
  inner = dataclasses.replace(u, records=r.select(keep), mirna_in=u.mirna_in & ~mirnas,
                              gene_in=u.gene_in & ~genes)
  logging.info("left out: %d miRNAs, %d genes, %d records", mirnas.sum(), genes.sum(),
               (~keep).sum())
  os.makedirs(_WORKDIR.value)
  evaluate.run(inner, c.protocols, c.prospective, c.train, _WORKDIR.value, time.time(),
               lambda: workdir.write_header(c, _WORKDIR.value, "cold_selection", features.INPUTS))


if __name__ == "__main__":
  app.run(main)
