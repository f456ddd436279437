"""Scoring pairs with trained replicas, and restoring a finished run's replicas to score with.

Nothing here trains or writes. `restore` opens the checkpoints read-only and requires the finished
epoch of every stage, so a workdir can be scored from a read-only disk, and scoring never changes
the record of the run (its checkpoints and metrics.jsonl).
"""

import dataclasses
import functools
import os
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from mirjax import features, models, replicas
from mirjax.errors import MirjaxError
from mirjax.placement import Placement
from mirjax.train.checkpoints import ReplicaCheckpoints


def probability(log_odds) -> np.ndarray:
  """P(association) from log-odds, in float64 (saturates at 1 only beyond log-odds ~37)."""
  return 1.0 / (1.0 + np.exp(-np.asarray(log_odds, np.float64)))


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
  def build(cls, cfg: ml_collections.ConfigDict, x: jax.Array, reps: replicas.Replicas,
            ae_params, batch_stats, params, stage: str) -> "TrainedReplicas":
    """From trained weights: recomputes the latent codes and the input statistics of `stage`'s fit
    rows exactly as training computed them."""
    ae = models.autoencoder(cfg, x.shape[1]) if cfg.ae.enabled else None
    _, _, mean, std = features.classifier_features(cfg, x, reps, ae, ae_params, batch_stats, stage)
    return cls(ae, models.classifier(cfg), ae_params, batch_stats, params, mean, std)

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

  def scorer(self, placement: Placement, per_replica_x: bool = False):
    """`log_odds` with the replicas spread over the placement's devices: returns `score(x)`, for
    x [n, 256] (or [n_replicas, n, 256] with per_replica_x), giving the log-odds of the padded
    replicas as a sharded array; read it with `placement.to_host(out, n_replicas)`. Compiles once
    per shape of x; calls are dispatched without waiting."""
    n = self.n_replicas
    fn = functools.partial(_replica_log_odds, self.ae, self.classifier)
    program = jax.jit(placement.replica_program(lambda w, rows: fn(*w, rows),
                                                (True, per_replica_x)))
    weights, valid = placement.place(self._weights(), n), placement.valid(n)
    return lambda x: program(weights, placement.place(x, n, replicated=not per_replica_x), valid)


def _replica_log_odds(ae, clf, ae_params, batch_stats, params, mean, std, rows):
  if ae is None:
    z = rows[:, :0]
  else:
    z = ae.apply({"params": ae_params, "batch_stats": batch_stats}, rows,
                 method=models.Autoencoder.encode)
  logits = clf.apply({"params": params}, features.classifier_inputs(rows, z, mean, std))
  return logits[:, 1] - logits[:, 0]  # softmax(logits)[:, 1] == sigmoid(this)


@functools.partial(jax.jit, static_argnums=(0, 1))
def _log_odds(ae, clf, ae_params, batch_stats, params, mean, std, x):
  x_axis = 0 if x.ndim == 3 else None
  return jax.vmap(functools.partial(_replica_log_odds, ae, clf),
                  in_axes=(0, 0, 0, 0, 0, x_axis))(ae_params, batch_stats, params, mean, std, x)


def _restore_finished(directory: str, epochs: int) -> dict:
  """The finished state of one stage, read-only; raises MirjaxError naming what was found."""
  if not os.path.isdir(directory):
    raise MirjaxError(f"{directory} does not exist: this workdir has no trained models. Run "
                      "--mode=train with the same --config and --workdir first.")
  ckpt = ReplicaCheckpoints(directory, read_only=True)
  try:
    state, step = ckpt.restore_latest()
    if step != epochs:
      raise MirjaxError(
          f"{directory} has no restorable checkpoint of a finished run (newest restorable epoch "
          f"{step} of {epochs}; steps on disk: {ckpt.steps()}). Finish it with --mode=train and "
          "the same --config and --workdir.")
    return state
  finally:
    ckpt.close()


def restore(cfg: ml_collections.ConfigDict, pool_x: np.ndarray, reps: replicas.Replicas,
            checkpoint_root: str, label_prefix: str = "", stage_prefix: str = ""
            ) -> TrainedReplicas:
  """The finished replicas of a `train` run (or, with stage_prefix=FINAL_PREFIX, its final model).

  pool_x and reps must be those the replicas were trained with; label_prefix names a sweep group's
  checkpoint directories, as in training.
  """
  x = jnp.asarray(pool_x)
  ae_params = batch_stats = None
  if cfg.ae.enabled:
    ae = _restore_finished(
        os.path.join(checkpoint_root, label_prefix + stage_prefix + replicas.AE_STAGE),
        cfg.ae.epochs)
    ae_params, batch_stats = ae["params"], ae["model_state"]
  stage = stage_prefix + replicas.CLASSIFIER_STAGE
  clf = _restore_finished(os.path.join(checkpoint_root, label_prefix + stage),
                          cfg.classifier.epochs)
  return TrainedReplicas.build(cfg, x, reps, ae_params, batch_stats, clf["params"], stage)


def pair_log_odds(trained: TrainedReplicas, mirna_vectors: np.ndarray, gene_vectors: np.ndarray,
                  pairs: np.ndarray, chunk: int, train_cfg) -> np.ndarray:
  """[n_replicas, n_pairs] log-odds of association of (miRNA, gene) index pairs, `chunk` at a time.

  Every chunk has the same shape (the last is padded), so the scorer compiles once; the replicas
  are spread over the devices as in training (`train_cfg`); chunks are dispatched without waiting,
  and the host reads the results once at the end.
  """
  place = Placement.from_config(train_cfg, trained.n_replicas)
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


@dataclasses.dataclass(frozen=True)
class TrainedGraph:
  """The graph model's replicas: parameters [R, ...] and each replica's training graph, which is
  its input graph at prediction time."""
  config: ml_collections.ConfigDict
  params: Any
  train: np.ndarray  # bool [R, n_mirna, n_gene]

  @property
  def n_replicas(self) -> int:
    return len(self.train)

  def grid_log_odds(self, content) -> np.ndarray:
    """[R, n_mirna, n_gene] log-odds of every pair, per replica, given the nodes' content
    (mirjax/data/content.NodeContent)."""
    net = models.graph_scorer(self.config, *self.train.shape[1:])
    content = jax.tree.map(jnp.asarray, content)
    one = jax.jit(jax.vmap(lambda p, x: models.graph_log_odds(net, self.config, p, x, content)))
    return np.asarray(one(self.params, jnp.asarray(self.train, jnp.float32)))


def restore_graph(cfg: ml_collections.ConfigDict, train: np.ndarray, checkpoint_root: str,
                  label_prefix: str = "") -> TrainedGraph:
  """The finished graph replicas of a `train` run, read-only (their best-epoch parameters)."""
  state = _restore_finished(os.path.join(checkpoint_root, label_prefix + replicas.GRAPH_STAGE),
                            cfg.classifier.epochs)
  return TrainedGraph(cfg, state["best_params"], train)
