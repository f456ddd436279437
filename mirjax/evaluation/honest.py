"""The honest evaluation: the same measures and baselines for every model of every fold.

Every model and baseline is scored as a full [n_mirna, n_gene] grid and measured by `evaluate` on a
fold's test sets (mirjax/data/testsets.py: what the fold tests and what a model may use):
- `own_*`: the fold's labelled test pairs (negatives of the run's own strategy), as the paper did;
- `random_*`: the fold's held-out positives against as many never-labelled pairs drawn at random;
- `low_degree_auc`: the random test restricted to positives whose miRNA or gene is in the bottom
  third of training degree, so that popularity cannot pass for prediction;
- `{mirna,gene}_recall@k`, `*_mrr`: full rankings (mirjax/evaluation/ranking_metrics.py) over the
  fold's `candidate` pairs.
`baseline_grids` fits every baseline on each fold's training graph only, its hyperparameters chosen
on inner splits of it.
"""

import time

import numpy as np
from absl import logging

from mirjax import rng
from mirjax.data import content, testsets
from mirjax.data import dataset as dataset_lib
from mirjax.evaluation import baselines, metrics, ranking_metrics

TEST_SETS = ("own", "random")
# Every metric `evaluate` reports, in report order.
METRICS = ("random_auc", "random_aupr", "mirna_recall@20", "gene_recall@20", "mirna_mrr",
           "gene_mrr", "low_degree_auc", "own_auc", "own_aupr", "mirna_recall@10",
           "mirna_recall@50", "gene_recall@10", "gene_recall@50")


def _low_degree_positive(fold: testsets.Fold, rows: np.ndarray) -> np.ndarray:
  """Which rows' miRNA or gene sits in the bottom third of training degree."""
  deg_m, deg_g = fold.train_positive.sum(1), fold.train_positive.sum(0)
  return ((deg_m[rows[:, 0]] <= np.quantile(deg_m, 1 / 3))
          | (deg_g[rows[:, 1]] <= np.quantile(deg_g, 1 / 3)))


def evaluate(scores: np.ndarray, fold: testsets.Fold) -> dict:
  """Every metric of the protocol for one fold's grid scores [n_mirna, n_gene] (higher = more
  likely associated; log-odds, probabilities and raw baseline scores alike)."""
  out = {}
  for name, rows in fold.tests.items():
    labels, s = rows[:, 2], scores[rows[:, 0], rows[:, 1]]
    out[f"{name}_auc"] = metrics.roc_auc(labels, s)
    out[f"{name}_aupr"] = metrics.average_precision(labels, s)
  rows = fold.tests["random"]
  keep = (rows[:, 2] == 0) | _low_degree_positive(fold, rows)
  if rows[keep, 2].any():
    out["low_degree_auc"] = metrics.roc_auc(rows[keep, 2], scores[rows[keep, 0], rows[keep, 1]])
  ranks = ranking_metrics.ranking_metrics(scores, fold.train_positive, fold.test_positive,
                                          candidates=fold.candidate)
  for side, values in ranks.items():
    for k, v in values.items():
      if not k.startswith("n_"):
        out[f"{side}_{k}"] = v
  return out


def baseline_scores(ds: dataset_lib.Dataset, fold: testsets.Fold, data_seed: int,
                    nodes: content.NodeContent) -> tuple[dict, dict]:
  """({baseline: grid scores}, {baseline: selected hyperparameter}) on this fold's training graph
  and the nodes' content (content.node_content(ds)); hyperparameters are chosen on an inner split
  of its training positives."""
  draw = rng.generator(data_seed, "baselines", fold.index)
  max_rank = min(fold.train_positive.shape) - 1  # small (synthetic) grids cannot take every rank
  ranks = tuple(r for r in baselines.DEFAULT_GRIDS["truncated_svd"] if r <= max_rank) or (max_rank,)
  scores, selected = baselines.fit_all(fold.train_positive, fold.allowed_negative, draw,
                                       {"truncated_svd": ranks})
  scores = {"distance": -ds.dissimilarity, **scores}
  chosen = {name: value for name, (value, _) in selected.items()}
  if fold.cold:  # what a new node still has: its partners' degrees, its content, its name
    side = testsets.COLD_SIDE[fold.cold]
    vectors = dict(mirna_vectors=nodes.mirna, gene_vectors=nodes.gene, side=side)
    scores["partner_popularity"] = baselines.partner_popularity(fold.train_positive, side)
    for name in ("embedding_knn", "content_degree"):
      scores[name], chosen[name] = _tuned(fold, name, draw, **vectors)
    if side == "mirna":
      scores["name_family"] = baselines.name_family(fold.train_positive, nodes.mirna_family)
  if nodes.mirna_side is not None:  # data.side_graph: EASE with miRTarBase outside the grid
    scores["ease_side_graph"], chosen["ease_side_graph"] = _tuned(
        fold, "ease_side_graph", draw, mirna_side=nodes.mirna_side, gene_side=nodes.gene_side)
  return scores, chosen


def _tuned(fold: testsets.Fold, name: str, draw: np.random.Generator, **fixed) -> tuple[np.ndarray, float]:
  """(grid scores, selected value) of tunable baseline `name` (its other arguments `fixed`): the
  value chosen on an inner split of the fold's training graph (holding whole nodes out where the
  fold does), the baseline refit on all of it."""
  value, _ = baselines.select(fold.train_positive, fold.allowed_negative, name,
                              baselines.DEFAULT_GRIDS[name], draw,
                              cold=(0 in fold.cold, 1 in fold.cold), **fixed)
  function, parameter = baselines.TUNABLE[name]
  return function(fold.train_positive, **{parameter: value}, **fixed), value


def baseline_grids(ds: dataset_lib.Dataset, folds: list[testsets.Fold], data_seed: int
                   ) -> tuple[dict, list[dict]]:
  """({baseline: [k, n_mirna, n_gene] scores}, per fold {baseline: selected hyperparameter})."""
  nodes = content.node_content(ds)
  per_fold = []
  for f in folds:  # the slow part of an evaluation (inner splits and refits): say where it is
    t = time.perf_counter()
    per_fold.append(baseline_scores(ds, f, data_seed, nodes))
    logging.info("baselines: fold %d/%d fitted and tuned in %.1fs (%s)", f.index + 1, len(folds),
                 time.perf_counter() - t, ", ".join(per_fold[-1][0]))
  names = per_fold[0][0]
  return ({n: np.stack([p[0][n] for p in per_fold]) for n in names}, [p[1] for p in per_fold])
