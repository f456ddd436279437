"""The paper's two learned stages as replica-parallel programs over the replicas (folds).

Stage 1 (autoencoder): each replica's AE is fit only on that replica's training pairs (its own 8:2
fit/validation split), then encodes every pair of the pool to a latent code.
Stage 2 (classifier): `[pair 256 | latent 16]` = 272 dims into the classifier (the paper's 3-layer
LSTM reads them as 17 steps × 16).

Device data is shared where it can be: the [n_pairs, 256] pair features sit on the device once; each
replica carries only its index arrays, learning rate and (stage 2) its latent codes and statistics.
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax

from mirjax.pairwise import inputs
from mirjax.pairwise.replicas import AE_STAGE, CLASSIFIER_STAGE, Replicas, monitoring_split, replica_keys
from mirjax.pairwise.scoring import TrainedReplicas
from mirjax.pairwise.settings import Settings
from mirjax.placement import Placement
from mirjax.train import loop

# Adam at rate 1; each replica's own learning rate multiplies the update inside the epoch (it is
# per-replica data, so a learning-rate sweep shares one compiled program). Same arithmetic as
# optax.adam(lr): the sign flip is exact.
UNIT_ADAM = optax.adam(1.0)


def ae_loss_fn(model):
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
    x = inputs.classifier_inputs(data["x"][idx], data["latent"][idx], data["mean"], data["std"])
    logits = model.apply({"params": params}, x)
    loss = optax.softmax_cross_entropy_with_integer_labels(logits, data["labels"][idx]).mean()
    return loss, model_state
  return loss_fn


def init_classifier(model, key, in_dim: int):
  k_init, k_shuffle = jax.random.split(key)
  params = model.init(k_init, jnp.zeros((2, in_dim)))["params"]
  return loop.init_state(params, {}, UNIT_ADAM, k_shuffle)


def train_replicas(settings: Settings, pool_x: np.ndarray, pool_labels: np.ndarray,
                   reps: Replicas, store: loop.Store, stage_prefix: str = "") -> TrainedReplicas:
  """Runs both stages, one replica per entry of `reps`, all in one program per stage.

  pool_x [n, 256] / pool_labels [n]: the pairs the replicas index into (`reps.train_idx`).
  stage_prefix selects the random streams (FINAL_PREFIX for the all-pairs model). Resumes from (or,
  when finished, just restores) the checkpoints in `store`. Batch sizes were checked by the family.
  """
  ae_stage, clf_stage = stage_prefix + AE_STAGE, stage_prefix + CLASSIFIER_STAGE
  x = jnp.asarray(pool_x)
  in_dim = x.shape[1]

  # Stage 1: autoencoder, one per replica, fit on that replica's training pairs only.
  ae = settings.autoencoder(in_dim)
  ae_params = batch_stats = None
  if ae is not None:
    split = monitoring_split(reps, settings.ae.val_fraction, ae_stage)
    state = jax.vmap(lambda key: init_ae(ae, key, in_dim))(replica_keys(reps, ae_stage))
    data = loop.ReplicaData(
        own={"fit_idx": split.fit, "val_idx": split.val,
             "learning_rate": reps.ae_lr.astype(np.float32)},
        shared={"x": x})
    stage = store.stage(ae_stage, settings.ae.epochs, settings.ae.batch_size, split.fit.shape[1])
    state = loop.train(stage, loop.make_epoch_fn(ae_loss_fn(ae), UNIT_ADAM, stage.batch_size,
                                                 stage.n_fit),
                       state, data, placement=Placement.from_config(settings.train, len(reps)),
                       metrics_log=store.log)
    ae_params, batch_stats = state["params"], state["model_state"]

  # Stage 2: the classifier on [pair | latent], one per replica.
  latent, split, mean, std = inputs.classifier_features(settings.classifier, x, reps, ae,
                                                        ae_params, batch_stats, clf_stage)
  state = jax.vmap(lambda key: init_classifier(settings.net, key, in_dim + latent.shape[-1]))(
      replica_keys(reps, clf_stage))
  data = loop.ReplicaData(
      own={"latent": latent, "mean": mean, "std": std, "fit_idx": split.fit, "val_idx": split.val,
           "learning_rate": reps.classifier_lr.astype(np.float32)},
      shared={"x": x, "labels": jnp.asarray(pool_labels)})
  stage = store.stage(clf_stage, settings.classifier.epochs, settings.classifier.batch_size,
                      split.fit.shape[1])
  state = loop.train(stage, loop.make_epoch_fn(classifier_loss_fn(settings.net), UNIT_ADAM,
                                               stage.batch_size, stage.n_fit),
                     state, data,
                     placement=Placement.candidates(settings.train, len(reps), stage.batch_size),
                     metrics_log=store.log)
  return TrainedReplicas(ae, settings.net, ae_params, batch_stats, state["params"], mean, std)
