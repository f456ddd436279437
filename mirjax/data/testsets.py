"""What each fold tests and what a model of it may use: the test sets of the honest protocol.

A fold's test pairs (its held-out positives, its own-strategy negatives and its random never-labelled
negatives) never enter training in any role: not as graph edges, degrees or features, not as sampled
negatives, not in hyperparameter selection. `Fold` holds exactly what a model may use
(`train_positive`, `allowed_negative`) beside what it is judged on (`tests`, `test_positive`,
`candidate`); mirjax/evaluation/honest.py measures scores on them.

Cold-start splits (data.split mirna / gene / both) hold whole nodes out: their rows (columns) are
empty in `train_positive` and `allowed_negative`, and the ranking lists hold the setting's pairs only
(`candidate`): the pairs with a new miRNA ('mirna'), with a new gene ('gene'), or of a new miRNA and
a new gene ('both'), the pairs the random test draws from. Why, for 'both': a new miRNA's pairs with
known genes are kept out of training and test (~5,000 recorded positives per fold, against ~600
test positives). Left in the lists they are true interactions scored as misses; filtered out, the
known genes that remain are exactly the ones that do not interact, a selection no model can see.
"""

import dataclasses

import numpy as np

from mirjax import rng
from mirjax.data import dataset as dataset_lib

COLD_SIDE = {(0,): "mirna", (1,): "gene", (0, 1): "both"}  # Fold.cold -> the setting's name


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


def cold_columns(split: str) -> tuple[int, ...]:
  """The pair columns (0 miRNA, 1 gene) whose test nodes never occur in training, per split."""
  return {"pairs": (), "mirna": (0,), "gene": (1,), "both": (0, 1)}[split]


def random_negative_tests(ds: dataset_lib.Dataset, split: str, seed: int) -> list[np.ndarray]:
  """For each fold, its test positives plus as many negatives drawn at random from the unknown
  pairs: int32 [n, 3] rows (miRNA, gene, label), one array per fold.

  The honest test set: a model that only learned the distance rule that built the training
  negatives scores no better than the distance itself here. Unknown pairs are never labelled
  anywhere, so none of these negatives was trained on. For a cold-start split, the negatives use
  only the fold's test miRNAs (genes; both for 'both'), so the test stays cold.
  """
  unknown = np.argwhere(ds.status == dataset_lib.UNKNOWN).astype(np.int32)
  out = []
  for f, idx in enumerate(ds.folds):
    pos = ds.pairs[idx][ds.labels[idx] == 1]
    pool = unknown
    for col in cold_columns(split):
      pool = pool[np.isin(pool[:, col], ds.pairs[idx, col])]
    draw = rng.generator(seed, "random_test", f)
    neg = pool[draw.choice(len(pool), size=min(len(pos), len(pool)), replace=False)]
    rows = np.concatenate([pos, neg])
    labels = np.r_[np.ones(len(pos)), np.zeros(len(neg))].astype(np.int32)
    out.append(np.concatenate([rows, labels[:, None]], axis=1))
  return out


def folds(ds: dataset_lib.Dataset, split: str, data_seed: int) -> list[Fold]:
  """The honest view of each fold of `ds` (built with data.split=split)."""
  random_tests = random_negative_tests(ds, split, data_seed)
  cold = cold_columns(split)
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
