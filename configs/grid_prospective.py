"""The paper's 383 x 318 grid under the prospective protocols of configs/whole.py: the same splits,
model and baselines, tested on grid pairs only. Every input is read from the split's training
records of the whole table, so the side graph (records with one end outside the grid) is rebuilt
from the training papers too.

Launch:
  MIRJAX_DATA_DIR=../shared/data/raw python launch.py --config=configs/grid_prospective.py \
      --workdir=runs/grid_prospective
"""

from mirjax.config import default_config


def get_config():
  config = default_config()
  config.protocols.universe = "grid"
  return config
