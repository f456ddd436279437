"""The paper's pipeline shrunk to finish in a few minutes on 2 CPU cores.

Launch:
  MIRJAX_DATA_DIR=../shared/data/raw python launch.py --config=configs/quick.py --workdir=runs/quick
"""

from mirjax.config import default_config


def get_config():
  return default_config()
