"""Scoring pairs with trained pairwise replicas, and restoring a finished run's replicas.

Nothing here trains or writes: `restore` opens the checkpoints read-only and requires the finished
epoch of every stage (train/checkpoints.restore_finished), so a workdir can be scored from a
read-only disk, and scoring never changes the record of the run.
"""

import dataclasses
import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from mirjax.pairwise import inputs, models, replicas
from mirjax.pairwise.settings import Settings
from mirjax.placement import Placement
from mirjax.train import loop
from mirjax.train.checkpoints import restore_finished

@dataclasses.dataclass(frozen=True)
class TrainedReplicas:
  """Everything needed to score pairs with each replica's AE + classifier (replica axis leading)."""
  ae: models.Autoencoder | None  # None: the classifier reads the pair features only
  classifier: Any
  ae_params: Any  # None without an autoencoder
  batch_stats: Any
  params: Any  # the classifier's
  mean: jax.Array  # [n_replicas, width] input statistics of each replica's fit rows
  std: jax.Array

  @classmethod
  def build(cls, settings: Settings, x: jax.Array, reps: replicas.Replicas,
            ae_params, batch_stats, params, stage: str) -> "TrainedReplicas":
    """From trained weights: recomputes the latent codes and the input statistics of `stage`'s fit
    rows exactly as training computed them."""
    ae = settings.autoencoder(x.shape[1])
    _, _, mean, std = inputs.classifier_features(settings.classifier, x, reps, ae, ae_params,
                                                 batch_stats, stage)
    return cls(ae, settings.net, ae_params, batch_stats, params, mean, std)

  @property
  def n_replicas(self) -> int:
    return int(self.mean.shape[0])

  def _weights(self):
    return (self.ae_params, self.batch_stats, self.params, self.mean, self.std)

  def log_odds(self, x: jax.Array) -> jax.Array:
    """Logit(P(association)) [n_replicas, n] of pair features x: [n, 256] or [n_replicas, n, 256].

    Unlike the probability it does not saturate at 1.0 in float32, so it still orders the pairs an
    over-confident model calls certain.
    """
    return _log_odds(self.ae, self.classifier, *self._weights(), x)

  def scorer(self, placement: Placement):
    """`log_odds` with the replicas spread over the placement's devices: returns `score(x)`, for
    x [n, 256] shared by every replica, giving the log-odds of the padded replicas as a sharded
    array; read it with `placement.to_host(out, n_replicas)`. Compiles once per shape of x; calls
    are dispatched without waiting."""
    n = self.n_replicas
    fn = functools.partial(_replica_log_odds, self.ae, self.classifier)
    program = jax.jit(placement.replica_program(lambda w, rows: fn(*w, rows),
                                                (True, False)))
    weights, valid = placement.place(self._weights(), n), placement.valid(n)
    return lambda x: program(weights, placement.place(x, n, replicated=True), valid)


def _replica_log_odds(ae, clf, ae_params, batch_stats, params, mean, std, rows):
  if ae is None:
    z = rows[:, :0]
  else:
    z = ae.apply({"params": ae_params, "batch_stats": batch_stats}, rows,
                 method=models.Autoencoder.encode)
  logits = clf.apply({"params": params}, inputs.classifier_inputs(rows, z, mean, std))
  return logits[:, 1] - logits[:, 0]  # softmax(logits)[:, 1] == sigmoid(this)


@functools.partial(jax.jit, static_argnums=(0, 1))
def _log_odds(ae, clf, ae_params, batch_stats, params, mean, std, x):
  x_axis = 0 if x.ndim == 3 else None
  return jax.vmap(functools.partial(_replica_log_odds, ae, clf),
                  in_axes=(0, 0, 0, 0, 0, x_axis))(ae_params, batch_stats, params, mean, std, x)


def restore(settings: Settings, pool_x: np.ndarray, reps: replicas.Replicas,
            store: loop.Store) -> TrainedReplicas:
  """The finished replicas of a `train` run (its final model comes from stages.train_replicas).

  pool_x and reps must be those the replicas were trained with, `store` where they were trained.
  """
  x = jnp.asarray(pool_x)
  ae_params = batch_stats = None
  if settings.ae.enabled:
    ae = restore_finished(store.directory(replicas.AE_STAGE), settings.ae.epochs)
    ae_params, batch_stats = ae["params"], ae["model_state"]
  clf = restore_finished(store.directory(replicas.CLASSIFIER_STAGE), settings.classifier.epochs)
  return TrainedReplicas.build(settings, x, reps, ae_params, batch_stats, clf["params"],
                               replicas.CLASSIFIER_STAGE)


def pair_log_odds(trained: TrainedReplicas, mirna_vectors: np.ndarray, gene_vectors: np.ndarray,
                  pairs: np.ndarray, chunk: int, train) -> np.ndarray:
  """[n_replicas, n_pairs] log-odds of association of (miRNA, gene) index pairs, `chunk` at a time.

  Every chunk has the same shape (the last is padded), so the scorer compiles once; the replicas
  are spread over the devices as in training (section `train`); chunks are dispatched without waiting,
  and the host reads the results once at the end.
  """
  place = Placement.from_config(train, trained.n_replicas)
  score = trained.scorer(place)
  chunk = min(chunk, len(pairs))
  n_chunks = -(-len(pairs) // chunk)
  padded = np.zeros((n_chunks * chunk, 2), np.int32)
  padded[: len(pairs)] = pairs
  m, g = jnp.asarray(mirna_vectors), jnp.asarray(gene_vectors)
  outs = []
  for c in range(n_chunks):
    p = jnp.asarray(padded[c * chunk:(c + 1) * chunk])
    outs.append(score(jnp.concatenate([m[p[:, 0]], g[p[:, 1]]], axis=1)))
  return np.concatenate([place.to_host(o, trained.n_replicas) for o in outs],
                        axis=1)[:, : len(pairs)]
