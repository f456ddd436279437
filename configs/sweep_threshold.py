"""The paper's threshold search: distance-negative thresholds 3.00–3.40 (Euclidean), 5 folds × 2 seeds.

Launch (about 25 minutes on 2 CPU cores):
  MIRJAX_DATA_DIR=../shared/data/raw python launch.py --config=configs/sweep_threshold.py \
      --workdir=runs/sweep_threshold

All 9 × 2 × 5 = 90 replicas train as one program per stage (thresholds only change which pairs are
the negatives: index arrays into one shared pool). Every model is scored on its own fold's test
pairs and on a random-negative test set; the distance-only AUC of the same test sets is reported
next to it. Output: sweep.csv, sweep_threshold.png, REPORT.md.

Training budget: that of configs/quick.py (AE 20 epochs, LSTM 3×64 for 10 epochs), which on this
data scores at least as well as the paper's 200 epochs (that overfit; see README). For the paper's
budget add `--config.ae.epochs=200 --config.classifier.epochs=200 --config.lstm.hidden=128
--config.classifier.val_fraction=0` (about 20 CPU-hours on 2 cores; minutes on a GPU).
"""

from mirjax.config import default_config, quick_budget


def get_config():
  config = quick_budget(default_config())
  config.sweep.grid = ("data.negatives.threshold=" + ",".join(
      f"{3.0 + 0.05 * i:.2f}" for i in range(9)),)
  config.sweep.seeds = (0, 1)
  return config
