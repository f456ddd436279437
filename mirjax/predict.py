"""--mode=predict: scores every miRNA–gene pair of the grid with a finished run's fold models.

The fold models are restored read-only (`inference.restore`), never retrained, and score the grid
together on the replica axis: the ensemble score is their mean probability, `score_std` their
spread. Outputs go to `W/predictions/`.
"""

import os

import numpy as np
import pandas as pd
from absl import logging

from mirjax import atomic, inference, plots
from mirjax.data import content
from mirjax.data import dataset as dataset_lib
from mirjax.errors import MirjaxError
from mirjax.evaluation import honest
from mirjax.replicas import FINAL_PREFIX, Replicas
from mirjax.train import stages
from mirjax.train.metrics_log import MetricsLog

PREDICTIONS_DIR = "predictions"
GRID_FILE = "all_pairs.csv"


def load_fold_models(config, ds: dataset_lib.Dataset, workdir: str):
  """The K fold models of a finished `train` run in `workdir` (raises if there are none)."""
  checkpoints = os.path.join(workdir, "checkpoints")
  if config.classifier.model == "graph":
    folds = honest.folds(ds, config.data.split, config.data.seed)
    return inference.restore_graph(config, np.stack([f.train_positive for f in folds]),
                                   checkpoints)
  return inference.restore(config, ds.pair_features(), Replicas.of_run(config, ds.train_idx),
                           checkpoints)


def fold_grid_log_odds(trained, ds: dataset_lib.Dataset, config) -> np.ndarray:
  """[K, n_mirna, n_gene]: every fold model's log-odds of every grid pair."""
  if isinstance(trained, inference.TrainedGraph):
    return trained.grid_log_odds(content.node_content(ds))
  return pair_log_odds(trained, ds, all_grid_pairs(ds), config).reshape(-1, *ds.status.shape)


def fold_pair_log_odds(config, ds: dataset_lib.Dataset, workdir: str, pairs: np.ndarray):
  """[K, n_pairs] log-odds of (miRNA, gene) index pairs by a finished run's fold models (the graph
  model scores the whole grid at once, so it is read from there)."""
  trained = load_fold_models(config, ds, workdir)
  if isinstance(trained, inference.TrainedGraph):
    return fold_grid_log_odds(trained, ds, config)[:, pairs[:, 0], pairs[:, 1]]
  return pair_log_odds(trained, ds, pairs, config)


def fit_final_model(config, ds: dataset_lib.Dataset, workdir: str) -> inference.TrainedReplicas:
  """One AE + classifier on all labelled pairs (trained once, then restored from its checkpoints)."""
  return stages.train_replicas(
      config, ds.pair_features(), ds.labels,
      Replicas.of_run(config, np.arange(ds.labels.size, dtype=np.int32)[None]),
      checkpoint_root=os.path.join(workdir, "checkpoints"),
      metrics_log=MetricsLog(os.path.join(workdir, "metrics.jsonl")), stage_prefix=FINAL_PREFIX)


def pair_log_odds(trained: inference.TrainedReplicas, ds: dataset_lib.Dataset, pairs: np.ndarray,
                  config) -> np.ndarray:
  return inference.pair_log_odds(trained, ds.mirna_vectors, ds.gene_vectors, pairs,
                                 config.predict.chunk, config.train)


def grid_table(ds: dataset_lib.Dataset, log_odds: np.ndarray, scores: np.ndarray,
               extra: dict | None = None) -> pd.DataFrame:
  """all_pairs table from [n_replicas, n_mirna * n_gene] log-odds and probabilities in grid order
  (plus `extra` grid-order columns), sorted by rank.

  Rank orders by the ensemble score, and pairs whose scores tie (e.g. all at 1.0) by their mean
  log-odds, so a saturated model's ranking is not decided by grid order.
  """
  n_m, n_g = len(ds.mirna_names), len(ds.gene_names)
  mean, std, logit = scores.mean(0), scores.std(0), log_odds.mean(0)
  order = np.lexsort((-logit, -mean))  # primary key last
  rank = np.empty(mean.size, np.int64)
  rank[order] = np.arange(1, mean.size + 1)
  status = np.vectorize(dataset_lib.STATUS_NAMES.get)(ds.status.ravel())
  table = pd.DataFrame({
      "mirna": np.repeat(np.asarray(ds.mirna_names), n_g),
      "gene": np.tile(np.asarray(ds.gene_names), n_m),
      "score": mean, "score_std": std, "log_odds": logit, "rank": rank, "status": status,
      **(extra or {})})
  return table.sort_values("rank", kind="stable").reset_index(drop=True)


def all_grid_pairs(ds: dataset_lib.Dataset) -> np.ndarray:
  n_m, n_g = len(ds.mirna_names), len(ds.gene_names)
  return np.stack(np.meshgrid(np.arange(n_m), np.arange(n_g), indexing="ij"), -1).reshape(-1, 2)


def predict_grid(config, ds: dataset_lib.Dataset, workdir: str) -> pd.DataFrame:
  """Scores the whole grid, writes predictions/all_pairs.csv and the plots, returns the table."""
  out = os.path.join(workdir, PREDICTIONS_DIR)
  models = load_fold_models(config, ds, workdir)
  pairs = all_grid_pairs(ds)
  log_odds = fold_grid_log_odds(models, ds, config).reshape(models.n_replicas, -1)
  scores = inference.probability(log_odds)
  extra = {}
  if config.predict.final_model:
    final = fit_final_model(config, ds, workdir)
    extra["final_score"] = inference.probability(pair_log_odds(final, ds, pairs, config)[0])
  table = grid_table(ds, log_odds, scores, extra)
  with atomic.atomic_path(os.path.join(out, GRID_FILE)) as tmp:
    table.to_csv(tmp, index=False, float_format="%.10g")
  plots.score_distribution(os.path.join(out, "score_distribution.png"), table)
  plots.score_heatmap(os.path.join(out, "heatmap.png"),
                      scores.mean(0).reshape(ds.status.shape),
                      ds.status == dataset_lib.POSITIVE)
  logging.info("scored %d pairs with %d fold models -> %s", len(table), models.n_replicas,
               os.path.join(out, GRID_FILE))
  return table


def read_grid(workdir: str) -> pd.DataFrame:
  path = os.path.join(workdir, PREDICTIONS_DIR, GRID_FILE)
  if not os.path.exists(path):
    raise MirjaxError(f"{path} does not exist: run --mode=predict with the same --config and "
                      "--workdir first.")
  return pd.read_csv(path)
