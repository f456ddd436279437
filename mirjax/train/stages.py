"""The paper's two learned stages as replica-parallel programs over the replicas (folds).

Stage 1 (autoencoder): each replica's AE is fit only on that replica's training pairs (its own 8:2
fit/validation split), then encodes every pair of the pool to a latent code.
Stage 2 (classifier): `[pair 256 | latent 16]` = 272 dims into `config.classifier.model` (the paper's
3-layer LSTM reads them as 17 steps × 16).

Device data is shared where it can be: the [n_pairs, 256] pair features sit on the device once; each
replica carries only its index arrays, learning rate and (stage 2) its latent codes and statistics.
"""

import os

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from mirjax import features, models
from mirjax.errors import ConfigError
from mirjax.inference import TrainedReplicas
from mirjax.placement import Placement
from mirjax.replicas import (AE_STAGE, CLASSIFIER_STAGE, Replicas, monitoring_split,
                             replica_keys)
from mirjax.train import loop
from mirjax.train.metrics_log import MetricsLog

# Adam at rate 1; each replica's own learning rate multiplies the update inside the epoch (it is
# per-replica data, so a learning-rate sweep shares one compiled program). Same arithmetic as
# optax.adam(lr): the sign flip is exact.
UNIT_ADAM = optax.adam(1.0)


def check_batch_sizes(cfg: ml_collections.ConfigDict, n_train: int) -> None:
  """Refuses, before anything trains, a stage whose minibatch is larger than its fit rows."""
  for section in ("ae", "classifier"):
    st = cfg[section]
    n_fit = n_train - int(round(st.val_fraction * n_train))
    if st.batch_size > n_fit:
      raise ConfigError(f"config.{section}.batch_size={st.batch_size} is larger than the {n_fit} "
                        f"pairs each replica fits on ({n_train} training pairs less "
                        f"{section}.val_fraction); lower it.")


def ae_loss_fn(model: models.Autoencoder):
  def loss_fn(params, batch_stats, data, idx, train):
    x = data["x"][idx]
    variables = {"params": params, "batch_stats": batch_stats}
    if train:
      (recon, _), updates = model.apply(variables, x, train=True, mutable=["batch_stats"])
      batch_stats = updates["batch_stats"]
    else:
      recon, _ = model.apply(variables, x, train=False)
    return jnp.mean((recon - x) ** 2), batch_stats
  return loss_fn


def init_ae(model, key, in_dim: int):
  k_init, k_shuffle = jax.random.split(key)
  variables = model.init(k_init, jnp.zeros((2, in_dim)), train=False)
  return loop.init_state(variables["params"], variables["batch_stats"], UNIT_ADAM, k_shuffle)


def classifier_loss_fn(model):
  def loss_fn(params, model_state, data, idx, train):
    del train  # no dropout or batch statistics in the classifier
    x = features.classifier_inputs(data["x"][idx], data["latent"][idx], data["mean"], data["std"])
    logits = model.apply({"params": params}, x)
    loss = optax.softmax_cross_entropy_with_integer_labels(logits, data["labels"][idx]).mean()
    return loss, model_state
  return loss_fn


def init_classifier(model, key, in_dim: int):
  k_init, k_shuffle = jax.random.split(key)
  params = model.init(k_init, jnp.zeros((2, in_dim)))["params"]
  return loop.init_state(params, {}, UNIT_ADAM, k_shuffle)


def _stage(name: str, section, train_cfg, n_fit: int, checkpoint_root: str) -> loop.Stage:
  return loop.Stage(name=name, epochs=section.epochs, batch_size=section.batch_size, n_fit=n_fit,
                    checkpoint_dir=os.path.join(checkpoint_root, name),
                    checkpoint_every=train_cfg.checkpoint_every,
                    keep_checkpoints=train_cfg.keep_checkpoints)


def train_replicas(cfg: ml_collections.ConfigDict, pool_x: np.ndarray, pool_labels: np.ndarray,
                   reps: Replicas, *, checkpoint_root: str, metrics_log: MetricsLog,
                   stage_prefix: str = "", label_prefix: str = "") -> TrainedReplicas:
  """Runs both stages, one replica per entry of `reps`, all in one program per stage.

  pool_x [n, 256] / pool_labels [n]: the pairs the replicas index into (`reps.train_idx`).
  stage_prefix selects the random streams (FINAL_PREFIX for the all-pairs model); label_prefix
  only names the checkpoint directories and log stages (sweep groups). Resumes from (or, when
  finished, just restores) the checkpoints under `checkpoint_root`.
  """
  check_batch_sizes(cfg, reps.train_idx.shape[1])
  ae_stage, clf_stage = stage_prefix + AE_STAGE, stage_prefix + CLASSIFIER_STAGE
  x = jnp.asarray(pool_x)
  in_dim = x.shape[1]

  # Stage 1: autoencoder, one per replica, fit on that replica's training pairs only.
  ae = models.autoencoder(cfg, in_dim) if cfg.ae.enabled else None
  ae_params = batch_stats = None
  if ae is not None:
    split = monitoring_split(reps, cfg.ae.val_fraction, ae_stage)
    state = jax.vmap(lambda key: init_ae(ae, key, in_dim))(replica_keys(reps, ae_stage))
    data = loop.ReplicaData(
        own={"fit_idx": split.fit, "val_idx": split.val,
             "learning_rate": reps.ae_lr.astype(np.float32)},
        shared={"x": x})
    stage = _stage(label_prefix + ae_stage, cfg.ae, cfg.train, split.fit.shape[1], checkpoint_root)
    state = loop.train(stage, loop.make_epoch_fn(ae_loss_fn(ae), UNIT_ADAM, stage.batch_size,
                                                 stage.n_fit),
                       state, data, placement=Placement.from_config(cfg.train, len(reps)),
                       metrics_log=metrics_log)
    ae_params, batch_stats = state["params"], state["model_state"]

  # Stage 2: the classifier on [pair | latent], one per replica.
  latent, split, mean, std = features.classifier_features(cfg, x, reps, ae, ae_params, batch_stats,
                                                          clf_stage)
  clf = models.classifier(cfg)
  state = jax.vmap(lambda key: init_classifier(clf, key, in_dim + latent.shape[-1]))(
      replica_keys(reps, clf_stage))
  data = loop.ReplicaData(
      own={"latent": latent, "mean": mean, "std": std, "fit_idx": split.fit, "val_idx": split.val,
           "learning_rate": reps.classifier_lr.astype(np.float32)},
      shared={"x": x, "labels": jnp.asarray(pool_labels)})
  stage = _stage(label_prefix + clf_stage, cfg.classifier, cfg.train, split.fit.shape[1],
                 checkpoint_root)
  state = loop.train(stage, loop.make_epoch_fn(classifier_loss_fn(clf), UNIT_ADAM,
                                               stage.batch_size, stage.n_fit),
                     state, data,
                     placement=Placement.candidates(cfg.train, len(reps), stage.batch_size),
                     metrics_log=metrics_log)
  return TrainedReplicas(ae, clf, ae_params, batch_stats, state["params"], mean, std)
