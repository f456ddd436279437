"""Stratified K-fold splits with equal-sized folds, so folds stack into one static (K, n) array.

Static shapes are what let all folds train as one vmapped, compiled program. When a class count is
not divisible by K, the few leftover examples of that class (at most K-1) are left out of every fold
and the number left out is reported.
"""

import numpy as np

from mirjax.errors import ConfigError


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
