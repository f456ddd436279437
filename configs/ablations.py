"""Ablations and baselines on the same folds, honest test sets and cold-start splits.

Launch (about 20 minutes on 2 CPU cores):
  MIRJAX_DATA_DIR=../shared/data/raw python launch.py --config=configs/ablations.py \
      --workdir=runs/ablations

Points (5 folds × 2 seeds each; REPORT.md checks the paper's claims by these names):
  full                 the paper's method: distance negatives, AE features, 3-layer LSTM
  no_ae                the LSTM on the 256 pair features only
  random_negatives     negatives drawn at random from the unknown pairs
  distance_only        no learning: score = -(miRNA–gene distance)
  logistic, mlp        logistic regression and an MLP (256-128) on the full method's inputs
  cold_mirna/cold_gene the full method where a test fold's miRNAs (genes) never occur in training
  distance_only_cold_* the distance baseline on those cold-start folds
Every trained model is scored on its own fold's test pairs and on a random-negative test set.

Training budget: that of configs/quick.py (AE 20 epochs, classifiers 10 epochs, LSTM 3×64); see
configs/sweep_threshold.py for how to run the paper's budget instead.
"""

from mirjax.config import default_config, quick_budget


def get_config():
  config = quick_budget(default_config())
  config.sweep.variants = (
      "full:",
      "no_ae: ae.enabled=False",
      "random_negatives: data.negatives.strategy=random",
      "distance_only: classifier.model=distance",
      "logistic: classifier.model=logistic",
      "mlp: classifier.model=mlp",
      "cold_mirna: data.split=mirna",
      "cold_gene: data.split=gene",
      "distance_only_cold_mirna: classifier.model=distance; data.split=mirna",
      "distance_only_cold_gene: classifier.model=distance; data.split=gene",
  )
  config.sweep.seeds = (0, 1)
  return config
