"""Scores every miRNA–gene pair of the grid with a finished run's fold models.

The fold models are restored from the workdir's orbax checkpoints, never retrained, and score the
grid together on the replica axis: the ensemble score is their mean probability, `score_std` their
spread. Outputs go to `W/predictions/`.
"""

import os

import jax.numpy as jnp
import numpy as np
import pandas as pd
from absl import logging

from mirjax import atomic, pipeline, plots
from mirjax.data import dataset as dataset_lib
from mirjax.data import folds as folds_lib
from mirjax.errors import MirjaxError
from mirjax.metrics_log import MetricsLog
from mirjax.placement import Placement

PREDICTIONS_DIR = "predictions"
GRID_FILE = "all_pairs.csv"


def load_fold_models(config, ds: dataset_lib.Dataset, workdir: str) -> pipeline.TrainedReplicas:
  """The K fold models of a finished `train` run in `workdir` (raises if there are none)."""
  return pipeline.train_replicas(
      config, ds.pair_features(), ds.labels,
      pipeline.Replicas.of_run(config, folds_lib.train_indices(ds.folds)),
      checkpoint_root=os.path.join(workdir, "checkpoints"),
      metrics_log=MetricsLog(os.path.join(workdir, "metrics.jsonl")), require_finished=True)


def fit_final_model(config, ds: dataset_lib.Dataset, workdir: str) -> pipeline.TrainedReplicas:
  """One AE + LSTM on all labelled pairs (trained once, then restored from its checkpoints)."""
  return pipeline.train_replicas(
      config, ds.pair_features(), ds.labels,
      pipeline.Replicas.of_run(config, np.arange(ds.labels.size, dtype=np.int32)[None]),
      checkpoint_root=os.path.join(workdir, "checkpoints"),
      metrics_log=MetricsLog(os.path.join(workdir, "metrics.jsonl")),
      stage_prefix=pipeline.FINAL_PREFIX)


def probability(log_odds: np.ndarray) -> np.ndarray:
  """P(association) from log-odds, in float64 (saturates at 1 only beyond log-odds ~37)."""
  return 1.0 / (1.0 + np.exp(-np.asarray(log_odds, np.float64)))


def pair_log_odds(models: pipeline.TrainedReplicas, ds: dataset_lib.Dataset, pairs: np.ndarray,
                  chunk: int, train_cfg) -> np.ndarray:
  """[n_replicas, n_pairs] log-odds of association of (miRNA, gene) index pairs, `chunk` at a time.

  Every chunk has the same shape (the last is padded), so the scorer compiles once; the replicas
  are spread over the devices as in training (`train_cfg`); chunks are dispatched without waiting,
  and the host reads the results once at the end.
  """
  place = Placement.from_config(train_cfg, models.n_replicas)
  score = models.scorer(place)
  chunk = min(chunk, len(pairs))
  n_chunks = -(-len(pairs) // chunk)
  padded = np.zeros((n_chunks * chunk, 2), np.int32)
  padded[: len(pairs)] = pairs
  m, g = jnp.asarray(ds.mirna_vectors), jnp.asarray(ds.gene_vectors)
  outs = []
  for c in range(n_chunks):
    p = jnp.asarray(padded[c * chunk:(c + 1) * chunk])
    outs.append(score(jnp.concatenate([m[p[:, 0]], g[p[:, 1]]], axis=1)))
  return np.concatenate([place.to_host(o, models.n_replicas) for o in outs],
                        axis=1)[:, : len(pairs)]


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
  log_odds = pair_log_odds(models, ds, pairs, config.predict.chunk, config.train)
  scores = probability(log_odds)
  extra = {}
  if config.predict.final_model:
    extra["final_score"] = probability(pair_log_odds(fit_final_model(config, ds, workdir), ds,
                                                     pairs, config.predict.chunk, config.train)[0])
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
