"""The whole human miRTarBase 7.0 table (2,599 miRNAs x 15,051 genes, 39.1 M pairs) under the
prospective protocols: who will be validated next, beside research attention and sequence.

Launch:
  MIRJAX_DATA_DIR=../shared/data/raw python launch.py --config=configs/whole.py --workdir=runs/whole
then `--mode=predict` (the model fit on all of 7.0 scores every pair) and
`--mode=query --gene=TP53 --top=20` with the same flags.

Every split of every protocol (mirjax/data/protocols.py: temporal cuts 23M/24M/25M, papers held out,
new miRNAs, new genes, random pairs) trains the prospective model (mirjax/prospective/) on inner
windows of its own training records, as one replica of one program, and measures it beside the
record baselines (degree products, recent degree, EASE of both sides, SVD, seed sites, TargetScan,
PITA) on all, strong-only and CLIP-only positives.
"""

from mirjax.config import default_config


def get_config():
  config = default_config()
  config.protocols.universe = "whole"
  return config
