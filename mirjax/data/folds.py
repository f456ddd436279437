"""K-fold splits with equal-sized folds, so folds stack into one static (K, n) array.

Static shapes are what let all folds train as one compiled program. 'pairs' is stratified: when a
class count is not divisible by K, the few leftover examples of that class (at most K-1) are left
out of every fold. 'mirna' / 'gene' are cold-start splits: whole miRNAs (genes) are assigned to
folds, balancing pair counts, and each fold is then cut to the smallest fold's size; the cut pairs
are in no fold (neither trained on nor tested), and their count is reported.
"""

import numpy as np

from mirjax.errors import ConfigError


SPLITS = ("pairs", "mirna", "gene")


def stratified_folds(labels: np.ndarray, k: int, rng: np.random.Generator) -> tuple[np.ndarray, int]:
  """Returns (folds, n_left_out): folds is int32 [k, n], each row the test indices of one fold."""
  if k < 2:
    raise ConfigError(f"data.folds={k}: cross-validation needs at least 2 folds.")
  parts, left_out = [], 0
  for cls in np.unique(labels):
    idx = rng.permutation(np.flatnonzero(labels == cls))
    usable = idx.size - idx.size % k
    if usable == 0:
      raise ConfigError(f"class {cls} has {idx.size} example(s), fewer than data.folds={k}.")
    left_out += idx.size - usable
    parts.append(idx[:usable].reshape(k, -1))
  folds = np.concatenate(parts, axis=1)
  folds = np.stack([rng.permutation(row) for row in folds])
  return folds.astype(np.int32), left_out


def train_indices(folds: np.ndarray) -> np.ndarray:
  """int32 [k, (k-1)*n]: for each fold, the test indices of all other folds."""
  k = folds.shape[0]
  return np.stack([np.concatenate([folds[j] for j in range(k) if j != i]) for i in range(k)])


def group_folds(groups: np.ndarray, k: int, rng: np.random.Generator) -> tuple[np.ndarray, int]:
  """Folds where each group (e.g. a miRNA) is entirely in one fold's test set.

  Groups are dealt largest first (ties in random order) to the fold with the fewest pairs so far,
  then every fold is cut at random to the smallest fold's size. Returns (folds [k, n], n_left_out).
  """
  if k < 2:
    raise ConfigError(f"data.folds={k}: cross-validation needs at least 2 folds.")
  names, counts = np.unique(groups, return_counts=True)
  if names.size < k:
    raise ConfigError(f"a cold-start split needs at least data.folds={k} groups; the labelled "
                      f"pairs have {names.size}.")
  order = rng.permutation(names.size)
  order = order[np.argsort(-counts[order], kind="stable")]
  members, sizes = [[] for _ in range(k)], np.zeros(k, int)
  for g in order:
    f = int(np.argmin(sizes))
    members[f].append(names[g])
    sizes[f] += counts[g]
  n = int(sizes.min())
  folds = [rng.permutation(np.flatnonzero(np.isin(groups, m)))[:n] for m in members]
  return np.stack(folds).astype(np.int32), int(sizes.sum() - n * k)
