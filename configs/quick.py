"""The paper's pipeline shrunk to finish in a few minutes on 2 CPU cores.

Same data, folds, models and losses as configs/paper.py; fewer epochs and a narrower LSTM.
Launch:
  MIRJAX_DATA_DIR=../shared/data/raw python launch.py --config=configs/quick.py --workdir=runs/quick
"""

from mirjax.config import default_config


def get_config():
  config = default_config()
  config.ae.epochs = 20
  config.lstm.epochs = 10
  config.lstm.hidden = 64
  config.lstm.val_fraction = 0.1  # a validation curve to watch
  config.train.checkpoint_every = 5
  return config
