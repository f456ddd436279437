"""K-fold splits with equal-sized folds, so folds stack into one static (K, n) array.

Static shapes are what let all folds train as one compiled program. 'pairs' is stratified: when a
class count is not divisible by K, the few leftover examples of that class (at most K-1) are left
out of every fold. 'mirna' / 'gene' are cold-start splits: whole miRNAs (genes) are assigned to
folds, balancing pair counts, and each fold is then cut to the smallest fold's size; the cut pairs
are in no fold (neither trained on nor tested), and their count is reported. 'both' deals miRNAs and
genes to folds independently: fold f tests the pairs of its miRNAs with its genes and trains on the
pairs that touch neither, so both partners of every test pair are new; its training rows are cut to
the smallest fold's count too.
"""

import numpy as np

from mirjax.errors import ConfigError


SPLITS = ("pairs", "mirna", "gene", "both")


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


def _deal(groups: np.ndarray, k: int, rng: np.random.Generator) -> list[np.ndarray]:
  """Deals the distinct values of `groups` to k folds, largest first (ties in random order), each
  to the fold with the fewest pairs so far. Returns each fold's values."""
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
  return [np.asarray(m) for m in members]


def _cut(rows: list[np.ndarray], rng: np.random.Generator) -> np.ndarray:
  """Each fold's rows cut at random to the smallest fold's count: one static [k, n] array."""
  n = min(len(r) for r in rows)
  return np.stack([rng.permutation(r)[:n] for r in rows]).astype(np.int32)


def group_folds(groups: np.ndarray, k: int, rng: np.random.Generator) -> tuple[np.ndarray, int]:
  """Folds where each group (e.g. a miRNA) is entirely in one fold's test set.

  Returns (folds [k, n], n_left_out): every fold cut to the smallest fold's size.
  """
  if k < 2:
    raise ConfigError(f"data.folds={k}: cross-validation needs at least 2 folds.")
  folds = _cut([np.flatnonzero(np.isin(groups, m)) for m in _deal(groups, k, rng)], rng)
  return folds, int(groups.size - folds.size)


def held_out_nodes(train: np.ndarray, cold, n: int, rng: np.random.Generator
                   ) -> tuple[np.ndarray, np.ndarray]:
  """An inner cold-start split of a training graph (bool [n_mirna, n_gene]): (region, excluded).

  Nodes of the cold side(s) (cold: two bools, miRNA and gene) that have edges are held out in
  random order (for both sides, alternately) until `region`, the pairs whose every cold side is
  held out, holds >= n training positives; `excluded` is every pair that touches a held-out node,
  what an inner model must not train on, as the outer cold folds do.
  """
  cold = np.asarray(cold, bool)
  order = [rng.permutation(np.flatnonzero(train.any(axis=1 - side))) for side in (0, 1)]
  held = [np.zeros(train.shape[side], bool) for side in (0, 1)]
  sides = [side for side in (0, 1) if cold[side]]
  for step in range(sum(len(order[side]) for side in sides)):
    side = sides[step % len(sides)]
    taken = held[side].sum()
    if taken < len(order[side]):
      held[side][order[side][taken]] = True
    region = np.outer(held[0] | ~cold[0], held[1] | ~cold[1])
    if (train & region).sum() >= n:
      return region, np.add.outer(held[0], held[1]) > 0
  raise ConfigError(f"an inner cold-start split needs {n} training positives on its new side(s); "
                    f"the training graph has {int(train.sum())}.")


def block_folds(mirnas: np.ndarray, genes: np.ndarray, k: int, rng: np.random.Generator
                ) -> tuple[np.ndarray, np.ndarray, int]:
  """Both-cold folds: (test [k, n], train [k, m], n_left_out); see the module docstring."""
  if k < 2:
    raise ConfigError(f"data.folds={k}: cross-validation needs at least 2 folds.")
  m_members, g_members = _deal(mirnas, k, rng), _deal(genes, k, rng)
  in_m = [np.isin(mirnas, m) for m in m_members]
  in_g = [np.isin(genes, g) for g in g_members]
  test = _cut([np.flatnonzero(a & b) for a, b in zip(in_m, in_g)], rng)
  train = _cut([np.flatnonzero(~a & ~b) for a, b in zip(in_m, in_g)], rng)
  return test, train, int(mirnas.size - test.size)
