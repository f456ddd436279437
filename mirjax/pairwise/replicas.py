"""What tells apart the replicas of one pairwise program, and the per-replica values derived from it.

A replica is one independent model: a fold of a run, or fold × seed × sweep point of a sweep. Its
randomness depends only on its (seed, fold), never on its position, so a fold trained inside a sweep
is the same model as that fold of a standalone run with the same settings.
"""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from mirjax import rng
from mirjax.train.loop import FINAL_PREFIX  # the optional model fit on all labelled pairs

# Stage names: checkpoint directories, metrics.jsonl rows and random streams (mirjax/rng.py).
AE_STAGE, CLASSIFIER_STAGE = "ae", "classifier"


@dataclasses.dataclass(frozen=True)
class Replicas:
  """One entry (row) per replica."""
  train_idx: np.ndarray  # int32 [R, n]: the replica's training rows of the shared pair pool
  folds: np.ndarray  # int [R]
  seeds: np.ndarray  # int [R]
  ae_lr: np.ndarray  # float [R]
  classifier_lr: np.ndarray  # float [R]

  def __len__(self) -> int:
    return len(self.train_idx)


@dataclasses.dataclass(frozen=True)
class ReplicaSplits:
  """Per-replica index arrays into the pair pool, int32 [n_replicas, n]."""
  fit: np.ndarray  # examples the optimizer sees
  val: np.ndarray  # held out of the replica's training pairs, for monitoring only


def monitoring_split(reps: Replicas, val_fraction: float, stage: str) -> ReplicaSplits:
  """Splits each replica's training rows into fit/val, from the stream (seed, stage, fold)."""
  n_val = int(round(val_fraction * reps.train_idx.shape[1]))
  fit, val = [], []
  for row, seed, fold in zip(reps.train_idx, reps.seeds, reps.folds):
    perm = rng.generator(seed, stage, fold).permutation(row)
    val.append(np.sort(perm[:n_val]))
    fit.append(np.sort(perm[n_val:]))
  return ReplicaSplits(np.stack(fit).astype(np.int32),
                       np.stack(val).astype(np.int32).reshape(len(reps), n_val))


def replica_keys(reps: Replicas, stage: str) -> jax.Array:
  """One key per replica, from the stream (seed, stage, fold)."""
  return jax.vmap(lambda seed, fold: rng.key(seed, stage, fold))(
      jnp.asarray(reps.seeds), jnp.asarray(reps.folds))
