"""Design selection for the windows of the cold and papers protocols, without their reported folds.

  MIRJAX_DATA_DIR=../shared/data/raw python -m benchmarks.window_selection --protocol=cold \\
      --workdir=runs/select_cold_shaped
  ... --shaped_windows=False --workdir=runs/select_cold_cuts
  ... --protocol=papers --universe=grid --workdir=runs/select_papers_grid_shaped

The inner temporal splits that choose the model's design (docs/reports/prospective.md) share the
time-cut windows' blind spots: no test node there lacks records, and no test pair there keeps its
nodes' later records. Here the reported fold 1 leaves the table with every record: for `cold`, the
miRNAs of the new-miRNA fold 1 and the genes of the new-gene fold 1 (and the universe); for `papers`,
the papers of the papers-held-out fold 1. Then the protocol(s) run on what remains, with the model's
windows shaped like the test (`prospective.shaped_windows`) or as time cuts. (For `papers`, a pair that
only the left-out papers report can be drawn as an inner test negative: the left-out papers are not in
the table. It is the same for both settings.) The workdir gets the usual config.json, results.json,
metrics.csv and leaderboard.md of those inner folds.
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
_PROTOCOL = flags.DEFINE_enum("protocol", "cold", ["cold", "papers"],
                              "cold: new miRNAs and new genes; papers: papers held out.")
_UNIVERSE = flags.DEFINE_enum("universe", "whole", list(universe_lib.UNIVERSES), "The universe.")
_SHAPED = flags.DEFINE_bool("shaped_windows", True, "config.prospective.shaped_windows.")


def left_out(u: universe_lib.Universe, section) -> universe_lib.Universe:
  """The universe without the reported fold 1 of the protocols in section `protocols`."""
  reported = {s.protocol: s for s in protocols.splits(u, section) if s.index == 0}
  r = u.records
  if "papers" in reported:
    logging.info("left out: %d records of the papers fold 1", (~reported["papers"].train).sum())
    return dataclasses.replace(u, records=r.select(reported["papers"].train))
  mirnas, genes = reported["cold_mirna"].test_mirnas, reported["cold_gene"].test_genes
  keep = ~mirnas[r.mirna] & ~genes[r.gene]
  logging.info("left out: %d miRNAs, %d genes, %d records", mirnas.sum(), genes.sum(),
               (~keep).sum())
  return dataclasses.replace(u, records=r.select(keep), mirna_in=u.mirna_in & ~mirnas,
                             gene_in=u.gene_in & ~genes)


def main(argv):
  del argv
  if os.path.exists(_WORKDIR.value):
    raise app.UsageError(f"--workdir={_WORKDIR.value} exists; give a new one.")
  c = config_lib.default_config()
  c.protocols.universe = _UNIVERSE.value
  c.protocols.protocols = (("cold_mirna", "cold_gene") if _PROTOCOL.value == "cold"
                           else ("papers",))
  c.prospective.shaped_windows = _SHAPED.value
  inner = left_out(universe_lib.build(_UNIVERSE.value, c.data), c.protocols)
  os.makedirs(_WORKDIR.value)
  evaluate.run(inner, c.protocols, c.prospective, c.train, _WORKDIR.value, time.perf_counter(),
               lambda: workdir.write_header(c, _WORKDIR.value, "window_selection", features.INPUTS))


if __name__ == "__main__":
  app.run(main)
