"""The honest evaluation: the same folds, test sets, ranking lists and baselines for every model.

A fold's test pairs (its held-out positives, its own-strategy negatives and its random never-labelled
negatives) never enter training in any role: not as graph edges, degrees or features, not as sampled
negatives, not in hyperparameter selection. `Fold` holds exactly what a model may use
(`train_positive`, `allowed_negative`) beside what it is judged on (`tests`, `test_positive`); every
model and baseline is scored as a full [n_mirna, n_gene] grid and measured by `evaluate`:

- `own_*`: the fold's labelled test pairs (negatives of the run's own strategy), as the paper did;
- `random_*`: the fold's held-out positives against as many never-labelled pairs drawn at random;
- `low_degree_auc`: the random test restricted to positives whose miRNA or gene is in the bottom
  third of training degree, so that popularity cannot pass for prediction;
- `{mirna,gene}_recall@k`, `*_mrr`: full rankings (mirjax/evaluation/ranking_metrics.py).
Cold-start splits (data.split mirna / gene / both) hold whole nodes out: their rows (columns) are
empty in `train_positive` and `allowed_negative`.

In a cold-start split the ranking lists hold the setting's pairs only (`candidate`): the pairs
with a new miRNA ('mirna'), with a new gene ('gene'), or of a new miRNA and a new gene ('both'), the
pairs the random test draws from. Why, for 'both': a new miRNA's pairs with known genes are kept out
of training and test (~5,000 recorded positives per fold, against ~600 test positives). Left in the
lists they are true interactions scored as misses; filtered out, the known genes that remain are
exactly the ones that do not interact, a selection no model can see. Either way the list would
reward or punish a model for how it ranks known partners, not new ones.
"""

import dataclasses

import numpy as np

from mirjax import rng
from mirjax.data import content
from mirjax.data import dataset as dataset_lib
from mirjax.evaluation import baselines, metrics, ranking_metrics

TEST_SETS = ("own", "random")
# Every metric `evaluate` reports, in report order.
METRICS = ("random_auc", "random_aupr", "mirna_recall@20", "gene_recall@20", "mirna_mrr",
           "gene_mrr", "low_degree_auc", "own_auc", "own_aupr", "mirna_recall@10",
           "mirna_recall@50", "gene_recall@10", "gene_recall@50")
_COLD_SIDE = {(0,): "mirna", (1,): "gene", (0, 1): "both"}


@dataclasses.dataclass(frozen=True)
class Fold:
  index: int
  train_positive: np.ndarray  # bool [n_mirna, n_gene]: the training graph
  allowed_negative: np.ndarray  # bool: pairs a model may sample as unlabelled negatives
  test_positive: np.ndarray  # bool: the held-out positives (the ranking metrics' targets)
  candidate: np.ndarray  # bool: the pairs the ranking lists hold (a cold split: the setting's pairs)
  tests: dict  # 'own' / 'random' -> int [n, 3] rows (miRNA, gene, label)
  cold: tuple  # the pair columns whose test nodes are new (0 miRNA, 1 gene)

  @property
  def test_pairs(self) -> np.ndarray:
    """bool [n_mirna, n_gene]: every pair of every test set of the fold."""
    mask = np.zeros_like(self.train_positive)
    for rows in self.tests.values():
      mask[rows[:, 0], rows[:, 1]] = True
    return mask


def folds(ds: dataset_lib.Dataset, split: str, data_seed: int) -> list[Fold]:
  """The honest view of each fold of `ds` (built with data.split=split)."""
  random_tests = dataset_lib.random_negative_tests(ds, split, data_seed)
  cold = dataset_lib.cold_columns(split)
  never_recorded = (ds.status == dataset_lib.UNKNOWN) | (ds.status == dataset_lib.NEGATIVE)
  out = []
  for f, (test_idx, train_idx) in enumerate(zip(ds.folds, ds.train_idx)):
    own = np.concatenate([ds.pairs[test_idx], ds.labels[test_idx, None]], axis=1)
    train = np.zeros(ds.status.shape, bool)
    pos = train_idx[ds.labels[train_idx] == 1]
    train[ds.pairs[pos, 0], ds.pairs[pos, 1]] = True
    test_pos = np.zeros_like(train)
    held = own[own[:, 2] == 1]
    test_pos[held[:, 0], held[:, 1]] = True
    fold = Fold(f, train, never_recorded.copy(), test_pos, np.ones_like(train),
                {"own": own, "random": random_tests[f]}, cold)
    allowed = never_recorded & ~train & ~fold.test_pairs
    # Labelled pairs this fold neither trains nor tests on (cut to make the folds equal, or across
    # a cold split's boundary) are off the lists: their label must not count either way.
    candidate = np.ones_like(train)
    unused = np.setdiff1d(np.arange(len(ds.pairs)), np.concatenate([test_idx, train_idx]))
    candidate[ds.pairs[unused, 0], ds.pairs[unused, 1]] = False
    for col in cold:  # a new node has no pairs at all in training
      new = np.zeros(train.shape[col], bool)
      new[np.unique(own[:, col])] = True
      allowed[new if col == 0 else slice(None), slice(None) if col == 0 else new] = False
      candidate &= new[:, None] if col == 0 else new[None, :]
    out.append(dataclasses.replace(fold, allowed_negative=allowed, candidate=candidate))
  return out


def _low_degree_positive(fold: Fold, rows: np.ndarray) -> np.ndarray:
  """Which rows' miRNA or gene sits in the bottom third of training degree."""
  deg_m, deg_g = fold.train_positive.sum(1), fold.train_positive.sum(0)
  return ((deg_m[rows[:, 0]] <= np.quantile(deg_m, 1 / 3))
          | (deg_g[rows[:, 1]] <= np.quantile(deg_g, 1 / 3)))


def evaluate(scores: np.ndarray, fold: Fold) -> dict:
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


def baseline_scores(ds: dataset_lib.Dataset, fold: Fold, data_seed: int,
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
    side = _COLD_SIDE[fold.cold]
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


def _tuned(fold: Fold, name: str, draw: np.random.Generator, **fixed) -> tuple[np.ndarray, float]:
  """(grid scores, selected value) of tunable baseline `name` (its other arguments `fixed`): the
  value chosen on an inner split of the fold's training graph (holding whole nodes out where the
  fold does), the baseline refit on all of it."""
  value, _ = baselines.select(fold.train_positive, fold.allowed_negative, name,
                              baselines.DEFAULT_GRIDS[name], draw,
                              cold=(0 in fold.cold, 1 in fold.cold), **fixed)
  function, parameter = baselines.TUNABLE[name]
  return function(fold.train_positive, **{parameter: value}, **fixed), value


def baseline_grids(ds: dataset_lib.Dataset, folds: list[Fold], data_seed: int
                   ) -> tuple[dict, list[dict]]:
  """({baseline: [k, n_mirna, n_gene] scores}, per fold {baseline: selected hyperparameter})."""
  nodes = content.node_content(ds)
  per_fold = [baseline_scores(ds, f, data_seed, nodes) for f in folds]
  names = per_fold[0][0]
  return ({n: np.stack([p[0][n] for p in per_fold]) for n in names}, [p[1] for p in per_fold])
