"""The paper's protocol (Yoon, Hwang & Lee, JICCE 2023) on the SG-LSTM-core data.

Launch:
  MIRJAX_DATA_DIR=../shared/data/raw python launch.py --config=configs/paper.py --workdir=runs/paper
Fastest on a CPU with AVX-512 BF16 (oneDNN's LSTM in bfloat16; BUILD.md, "Speed knobs"): add
  --config.lstm.backend=onednn --config.lstm.matmul_dtype=bfloat16

Negatives: unknown pairs farther (Euclidean) than the mean positive miRNA–gene distance (≈3.237).
The paper's tuned threshold: add `--config.data.negatives.threshold=3.15`.
"""

from mirjax.config import default_config


def get_config():
  return default_config()  # the defaults are the paper's settings
