"""The paper's two learned stages as replica-parallel programs over the folds.

Stage 1 (autoencoder): each fold's AE is fit only on that fold's training pairs (its own 8:2
fit/validation split), then encodes every labelled pair to a latent code.
Stage 2 (classifier): `[pair 256 | latent 16]` = 272 dims, read as 17 steps × 16, into a 3-layer LSTM.

Device data is shared where it can be: the [n_pairs, 256] pair features sit on the device once; each
replica carries only its index arrays (and, for stage 2, its own latent codes and input statistics).
"""

import dataclasses
import functools

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from mirjax import models, replicas
from mirjax.data import dataset as dataset_lib
from mirjax.errors import ConfigError

AE_STAGE, LSTM_STAGE = "ae", "lstm"
FINAL_PREFIX = "final_"  # the optional model fit on all labelled pairs: stages final_ae, final_lstm
# Each stage draws its randomness from its own stream (changing these changes every result).
STAGE_IDS = {AE_STAGE: 1, LSTM_STAGE: 2, FINAL_PREFIX + AE_STAGE: 3, FINAL_PREFIX + LSTM_STAGE: 4}


@dataclasses.dataclass(frozen=True)
class ReplicaSplits:
  """Per-replica index arrays into the labelled pairs, int32 [n_replicas, n]."""
  fit: np.ndarray  # examples the optimizer sees
  val: np.ndarray  # held out of the replica's training pairs, for monitoring only


def monitoring_split(train_idx: np.ndarray, val_fraction: float, seed: int,
                     stage: str) -> ReplicaSplits:
  """Splits each replica's training pairs into fit/val, seeded per (seed, replica, stage)."""
  n_val = int(round(val_fraction * train_idx.shape[1]))
  fit, val = [], []
  for k, row in enumerate(train_idx):
    perm = np.random.default_rng([seed, k, STAGE_IDS[stage]]).permutation(row)
    val.append(np.sort(perm[:n_val]))
    fit.append(np.sort(perm[n_val:]))
  return ReplicaSplits(np.stack(fit).astype(np.int32),
                       np.stack(val).astype(np.int32).reshape(len(train_idx), n_val))


def replica_keys(seed: int, stage: str, n_replicas: int) -> jax.Array:
  """One key per replica, depending only on (seed, stage, replica index)."""
  base = jax.random.fold_in(jax.random.PRNGKey(seed), STAGE_IDS[stage])
  return jax.vmap(lambda r: jax.random.fold_in(base, r))(jnp.arange(n_replicas))


def adam(learning_rate: float) -> optax.GradientTransformation:
  return optax.adam(learning_rate)


# ----------------------------------------------------------------------------- autoencoder

def autoencoder(cfg: ml_collections.ConfigDict, in_dim: int) -> models.Autoencoder:
  return models.Autoencoder(hidden=tuple(cfg.ae.hidden), latent=cfg.ae.latent, out_dim=in_dim,
                            slope=cfg.ae.leaky_slope)


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


def init_ae(cfg, model, key, in_dim: int):
  k_init, k_shuffle = jax.random.split(key)
  variables = model.init(k_init, jnp.zeros((2, in_dim)), train=False)
  return replicas.init_state(variables["params"], variables["batch_stats"],
                             adam(cfg.ae.learning_rate), k_shuffle)


def encode(model, state, x):
  """Latent codes of all rows of x for every replica: [n_replicas, n, latent]."""
  def one(params, batch_stats):
    return model.apply({"params": params, "batch_stats": batch_stats}, x,
                       method=models.Autoencoder.encode)
  return jax.jit(jax.vmap(one))(state["params"], state["model_state"])


# ----------------------------------------------------------------------------- classifier

def classifier(cfg: ml_collections.ConfigDict) -> models.LSTMClassifier:
  return models.LSTMClassifier(hidden=cfg.lstm.hidden, layers=cfg.lstm.layers,
                               step_features=cfg.lstm.step_features,
                               fused_backward=cfg.lstm.fused_backward,
                               matmul_dtype=cfg.lstm.matmul_dtype)


def classifier_inputs(pair_x, latent, mean, std):
  """The classifier's input: `[pair | latent]`, standardized (stats are identity if disabled)."""
  return (jnp.concatenate([pair_x, latent], axis=-1) - mean) / std


def lstm_features(data, idx):
  """Classifier inputs of the labelled pairs `idx` for one replica."""
  return classifier_inputs(data["x"][idx], data["latent"][idx], data["mean"], data["std"])


def lstm_loss_fn(model: models.LSTMClassifier):
  def loss_fn(params, model_state, data, idx, train):
    del train  # no dropout or batch statistics in the classifier
    logits = model.apply({"params": params}, lstm_features(data, idx))
    loss = optax.softmax_cross_entropy_with_integer_labels(logits, data["labels"][idx]).mean()
    return loss, model_state
  return loss_fn


def init_lstm(cfg, model, key, in_dim: int):
  k_init, k_shuffle = jax.random.split(key)
  params = model.init(k_init, jnp.zeros((2, in_dim)))["params"]
  return replicas.init_state(params, {}, adam(cfg.lstm.learning_rate), k_shuffle)


def input_stats(x_all: jax.Array, latent: jax.Array, fit_idx: np.ndarray, standardize: bool):
  """Per-replica mean and std of the 272-dim inputs over that replica's fit rows only."""
  def one(lat, rows):
    x = jnp.concatenate([x_all[rows], lat[rows]], axis=-1)
    return x.mean(0), x.std(0) + 1e-6
  if not standardize:
    shape = (latent.shape[0], x_all.shape[1] + latent.shape[2])
    return jnp.zeros(shape), jnp.ones(shape)
  return jax.jit(jax.vmap(one))(latent, jnp.asarray(fit_idx))


# ----------------------------------------------------------------------------- both stages

@dataclasses.dataclass(frozen=True)
class TrainedReplicas:
  """Everything needed to score pairs with each replica's AE + LSTM (replica axis leading)."""
  ae: models.Autoencoder
  classifier: models.LSTMClassifier
  ae_state: dict
  lstm_state: dict
  mean: jax.Array  # [n_replicas, 272] input statistics of each replica's fit rows
  std: jax.Array

  @property
  def n_replicas(self) -> int:
    return int(self.mean.shape[0])

  def log_odds(self, x: jax.Array) -> jax.Array:
    """Logit(P(association)) [n_replicas, n] of pair features x: [n, 256] or [n_replicas, n, 256].

    Unlike the probability it does not saturate at 1.0 in float32, so it still orders the pairs an
    over-confident model calls certain.
    """
    return _log_odds(self.ae, self.classifier, self.ae_state["params"],
                     self.ae_state["model_state"], self.lstm_state["params"], self.mean, self.std, x)

  def score(self, x: jax.Array) -> jax.Array:
    """P(association) [n_replicas, n]: the softmax probability of class 1."""
    return jax.nn.sigmoid(self.log_odds(x))


@functools.partial(jax.jit, static_argnums=(0, 1))
def _log_odds(ae, clf, ae_params, batch_stats, lstm_params, mean, std, x):
  def one(ae_p, bs, p, mu, sd, rows):
    z = ae.apply({"params": ae_p, "batch_stats": bs}, rows, method=models.Autoencoder.encode)
    logits = clf.apply({"params": p}, classifier_inputs(rows, z, mu, sd))
    return logits[:, 1] - logits[:, 0]  # softmax(logits)[:, 1] == sigmoid(this)
  x_axis = 0 if x.ndim == 3 else None
  return jax.vmap(one, in_axes=(0, 0, 0, 0, 0, x_axis))(ae_params, batch_stats, lstm_params,
                                                        mean, std, x)


def _train_stage(stage: str, loss_fn, stage_cfg, train_cfg, split: ReplicaSplits, state, data,
                 axes, *, checkpoint_root: str, metrics_log, require_finished: bool):
  """Trains one stage for all replicas with that stage's optimizer, batch size and epochs."""
  n_fit, batch = split.fit.shape[1], stage_cfg.batch_size
  if batch > n_fit:
    raise ConfigError(f"config.{stage}.batch_size={batch} is larger than the {n_fit} pairs each "
                      f"replica trains on; lower it.")
  epoch_fn = replicas.make_epoch_fn(loss_fn, adam(stage_cfg.learning_rate), batch, n_fit)
  return replicas.train(
      stage, epoch_fn, state, data, axes, epochs=stage_cfg.epochs,
      samples_per_epoch=n_fit // batch * batch, parallel=train_cfg.parallel_folds,
      checkpoint_dir=f"{checkpoint_root}/{stage}", checkpoint_every=train_cfg.checkpoint_every,
      keep_checkpoints=train_cfg.keep_checkpoints, metrics_log=metrics_log,
      require_finished=require_finished)


def train_replicas(cfg: ml_collections.ConfigDict, ds: dataset_lib.Dataset, train_idx: np.ndarray,
                   *, checkpoint_root: str, metrics_log, stage_prefix: str = "",
                   require_finished: bool = False) -> TrainedReplicas:
  """Runs both stages, one replica per row of `train_idx` (indices into the labelled pairs).

  Resumes from (or, when finished, just restores) the checkpoints under `checkpoint_root`.
  require_finished=True never trains: it fails unless finished checkpoints exist.
  """
  k = train_idx.shape[0]
  ae_stage, lstm_stage = stage_prefix + AE_STAGE, stage_prefix + LSTM_STAGE
  x = jnp.asarray(ds.pair_features())
  in_dim = x.shape[1]
  common = dict(checkpoint_root=checkpoint_root, metrics_log=metrics_log,
                require_finished=require_finished)

  # Stage 1: autoencoder, one per replica, fit on that replica's training pairs only.
  ae = autoencoder(cfg, in_dim)
  ae_split = monitoring_split(train_idx, cfg.ae.val_fraction, cfg.seed, ae_stage)
  ae_state = jax.vmap(lambda key: init_ae(cfg, ae, key, in_dim))(replica_keys(cfg.seed, ae_stage, k))
  ae_data = {"x": x, "fit_idx": jnp.asarray(ae_split.fit), "val_idx": jnp.asarray(ae_split.val)}
  ae_axes = {"x": None, "fit_idx": 0, "val_idx": 0}
  ae_state = _train_stage(ae_stage, ae_loss_fn(ae), cfg.ae, cfg.train, ae_split, ae_state, ae_data,
                          ae_axes, **common)
  latent = encode(ae, ae_state, x)  # [k, n_pairs, latent]

  # Stage 2: LSTM on [pair | latent], one per replica.
  clf = classifier(cfg)
  split = monitoring_split(train_idx, cfg.lstm.val_fraction, cfg.seed, lstm_stage)
  mean, std = input_stats(x, latent, split.fit, cfg.lstm.standardize)
  state = jax.vmap(lambda key: init_lstm(cfg, clf, key, in_dim + cfg.ae.latent))(
      replica_keys(cfg.seed, lstm_stage, k))
  data = {"x": x, "labels": jnp.asarray(ds.labels), "latent": latent, "mean": mean, "std": std,
          "fit_idx": jnp.asarray(split.fit), "val_idx": jnp.asarray(split.val)}
  axes = {"x": None, "labels": None, "latent": 0, "mean": 0, "std": 0, "fit_idx": 0, "val_idx": 0}
  state = _train_stage(lstm_stage, lstm_loss_fn(clf), cfg.lstm, cfg.train, split, state, data,
                       axes, **common)
  return TrainedReplicas(ae, clf, ae_state, state, mean, std)
