"""The paper's pipeline shrunk to finish in about a minute on 2 CPU cores.

Same data, folds, models and losses as configs/paper.py; fewer epochs and a narrower LSTM.
Launch:
  MIRJAX_DATA_DIR=../shared/data/raw python launch.py --config=configs/quick.py --workdir=runs/quick
"""

from mirjax.config import default_config, quick_budget


def get_config():
  return quick_budget(default_config())
