"""--mode=predict: scores every miRNA–gene pair of the grid with a finished run's fold models.

The fold models are restored read-only (their family's `restore`), never retrained, and score the
grid together on the replica axis: the ensemble score is their mean probability, `score_std` their
spread. Outputs go to `W/predictions/`.
"""

import os

import numpy as np
import pandas as pd
from absl import logging

from mirjax import atomic, plots
from mirjax.data import dataset as dataset_lib
from mirjax.errors import MirjaxError
from mirjax.evaluation import metrics
from mirjax.prospective import files

PREDICTIONS_DIR = files.DIR
GRID_FILE = "all_pairs.csv"


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


def predict_grid(ds: dataset_lib.Dataset, trained, workdir: str, fam=None, final=None,
                 store=None) -> pd.DataFrame:
  """Scores the whole grid with `trained` (a family's restored fold models), writes
  predictions/all_pairs.csv and the plots, returns the table. With `final` (a mirjax.family.Member
  of all labelled pairs), `fam.final_model(final, store)` adds its probability as `final_score`."""
  out = os.path.join(workdir, PREDICTIONS_DIR)
  log_odds = trained.grid_log_odds().reshape(trained.n_replicas, -1)
  scores = metrics.probability(log_odds)
  extra = {}
  if final is not None:
    final_model = fam.final_model(final, store)
    extra["final_score"] = metrics.probability(final_model.grid_log_odds()[0].ravel())
  table = grid_table(ds, log_odds, scores, extra)
  with atomic.atomic_path(os.path.join(out, GRID_FILE)) as tmp:
    table.to_csv(tmp, index=False, float_format="%.10g")
  plots.score_distribution(os.path.join(out, "score_distribution.png"), table)
  plots.score_heatmap(os.path.join(out, "heatmap.png"),
                      scores.mean(0).reshape(ds.status.shape),
                      ds.status == dataset_lib.POSITIVE)
  logging.info("scored %d pairs with %d fold models -> %s", len(table), trained.n_replicas,
               os.path.join(out, GRID_FILE))
  return table


def read_grid(workdir: str) -> pd.DataFrame:
  path = os.path.join(workdir, PREDICTIONS_DIR, GRID_FILE)
  if not os.path.exists(path):
    raise MirjaxError(f"{path} does not exist: run --mode=predict with the same --config and "
                      "--workdir first.")
  try:
    table = pd.read_csv(path)
    pairs = table["mirna"].nunique() * table["gene"].nunique()
    whole = len(table) == pairs and table["rank"].notna().all()
  except (OSError, ValueError, KeyError) as e:  # pandas' ParserError is a ValueError
    raise MirjaxError(f"{path} cannot be read ({type(e).__name__}: {e}); run --mode=predict "
                      "again.") from None
  if not whole:  # predict writes it atomically: a partial copy, or a damaged disk
    raise MirjaxError(f"{path} holds {len(table):,} rows, not every pair of its miRNAs and genes "
                      f"({pairs:,}): it is damaged; run --mode=predict again.")
  return table
