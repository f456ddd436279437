"""The paper's two learned stages as replica-parallel programs over the folds.

Stage 1 (autoencoder): each fold's AE is fit only on that fold's training pairs (its own 8:2
fit/validation split), then encodes every labelled pair to a latent code.
Stage 2 (classifier): `[pair 256 | latent 16]` = 272 dims, read as 17 steps × 16, into a 3-layer LSTM.

Device data is shared where it can be: the [n_pairs, 256] pair features sit on the device once; each
replica carries only its index arrays (and, for stage 2, its own latent codes and input statistics).
"""

import dataclasses
import functools
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from mirjax import models, replicas
from mirjax.errors import ConfigError
from mirjax.placement import Placement

AE_STAGE, LSTM_STAGE = "ae", "lstm"
FINAL_PREFIX = "final_"  # the optional model fit on all labelled pairs: stages final_ae, final_lstm
# Each stage draws its randomness from its own stream (changing these changes every result).
STAGE_IDS = {AE_STAGE: 1, LSTM_STAGE: 2, FINAL_PREFIX + AE_STAGE: 3, FINAL_PREFIX + LSTM_STAGE: 4}


@dataclasses.dataclass(frozen=True)
class Replicas:
  """What tells apart the replicas of one compiled program: one entry (row) per replica.

  A replica's randomness depends only on its (seed, fold), never on its position, so a fold trained
  inside a sweep is the same model as that fold of a standalone run with the same settings.
  """
  train_idx: np.ndarray  # int32 [R, n]: the replica's training rows of the shared pair pool
  folds: np.ndarray  # int [R]
  seeds: np.ndarray  # int [R]
  ae_lr: np.ndarray  # float [R]
  lstm_lr: np.ndarray  # float [R]

  @classmethod
  def of_run(cls, cfg: ml_collections.ConfigDict, train_idx: np.ndarray) -> "Replicas":
    """The replicas of one run: row k of `train_idx` is fold k, all with the config's settings."""
    k = len(train_idx)
    return cls(np.asarray(train_idx, np.int32), np.arange(k), np.full(k, cfg.seed),
               np.full(k, cfg.ae.learning_rate), np.full(k, cfg.lstm.learning_rate))

  def __len__(self) -> int:
    return len(self.train_idx)


@dataclasses.dataclass(frozen=True)
class ReplicaSplits:
  """Per-replica index arrays into the pair pool, int32 [n_replicas, n]."""
  fit: np.ndarray  # examples the optimizer sees
  val: np.ndarray  # held out of the replica's training pairs, for monitoring only


def monitoring_split(reps: Replicas, val_fraction: float, stage: str) -> ReplicaSplits:
  """Splits each replica's training rows into fit/val, seeded per (seed, fold, stage)."""
  n_val = int(round(val_fraction * reps.train_idx.shape[1]))
  fit, val = [], []
  for row, seed, fold in zip(reps.train_idx, reps.seeds, reps.folds):
    perm = np.random.default_rng([int(seed), int(fold), STAGE_IDS[stage]]).permutation(row)
    val.append(np.sort(perm[:n_val]))
    fit.append(np.sort(perm[n_val:]))
  return ReplicaSplits(np.stack(fit).astype(np.int32),
                       np.stack(val).astype(np.int32).reshape(len(reps), n_val))


def replica_keys(reps: Replicas, stage: str) -> jax.Array:
  """One key per replica, depending only on (seed, stage, fold)."""
  def key(seed, fold):
    return jax.random.fold_in(jax.random.fold_in(jax.random.PRNGKey(seed), STAGE_IDS[stage]), fold)
  return jax.vmap(key)(jnp.asarray(reps.seeds), jnp.asarray(reps.folds))


# Adam at rate 1; each replica's own learning rate multiplies the update inside the epoch (it is
# per-replica data, so a learning-rate sweep shares one compiled program). Same arithmetic as
# optax.adam(lr): the sign flip is exact.
UNIT_ADAM = optax.adam(1.0)


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


def init_ae(model, key, in_dim: int):
  k_init, k_shuffle = jax.random.split(key)
  variables = model.init(k_init, jnp.zeros((2, in_dim)), train=False)
  return replicas.init_state(variables["params"], variables["batch_stats"], UNIT_ADAM, k_shuffle)


def encode(model, state, x):
  """Latent codes of all rows of x for every replica: [n_replicas, n, latent]."""
  def one(params, batch_stats):
    return model.apply({"params": params, "batch_stats": batch_stats}, x,
                       method=models.Autoencoder.encode)
  return jax.jit(jax.vmap(one))(state["params"], state["model_state"])


# ----------------------------------------------------------------------------- classifier

def classifier(cfg: ml_collections.ConfigDict):
  """The stage-2 model of `lstm.architecture`: the paper's LSTM, or a baseline on the same inputs."""
  arch = cfg.lstm.architecture
  if arch == "lstm":
    return models.LSTMClassifier(hidden=cfg.lstm.hidden, layers=cfg.lstm.layers,
                                 step_features=cfg.lstm.step_features,
                                 fused_backward=cfg.lstm.fused_backward,
                                 matmul_dtype=cfg.lstm.matmul_dtype)
  if arch == "mlp":
    return models.MLPClassifier(tuple(cfg.lstm.mlp_hidden))
  if arch == "logistic":
    return models.MLPClassifier(())
  raise ConfigError(f"config.lstm.architecture={arch!r} has no trained classifier.")


def classifier_inputs(pair_x, latent, mean, std):
  """The classifier's input: `[pair | latent]`, standardized (stats are identity if disabled)."""
  return (jnp.concatenate([pair_x, latent], axis=-1) - mean) / std


def lstm_features(data, idx):
  """Classifier inputs of the labelled pairs `idx` for one replica."""
  return classifier_inputs(data["x"][idx], data["latent"][idx], data["mean"], data["std"])


def lstm_loss_fn(model):
  def loss_fn(params, model_state, data, idx, train):
    del train  # no dropout or batch statistics in the classifier
    logits = model.apply({"params": params}, lstm_features(data, idx))
    loss = optax.softmax_cross_entropy_with_integer_labels(logits, data["labels"][idx]).mean()
    return loss, model_state
  return loss_fn


def init_classifier(model, key, in_dim: int):
  k_init, k_shuffle = jax.random.split(key)
  params = model.init(k_init, jnp.zeros((2, in_dim)))["params"]
  return replicas.init_state(params, {}, UNIT_ADAM, k_shuffle)


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
  """Everything needed to score pairs with each replica's AE + classifier (replica axis leading)."""
  ae: models.Autoencoder | None  # None: the classifier reads the pair features only
  classifier: Any
  ae_state: dict | None
  lstm_state: dict
  mean: jax.Array  # [n_replicas, width] input statistics of each replica's fit rows
  std: jax.Array

  @property
  def n_replicas(self) -> int:
    return int(self.mean.shape[0])

  def _weights(self):
    ae_params = None if self.ae is None else self.ae_state["params"]
    stats = None if self.ae is None else self.ae_state["model_state"]
    return (ae_params, stats, self.lstm_state["params"], self.mean, self.std)

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

  def score(self, x: jax.Array) -> jax.Array:
    """P(association) [n_replicas, n]: the softmax probability of class 1."""
    return jax.nn.sigmoid(self.log_odds(x))


def _replica_log_odds(ae, clf, ae_params, batch_stats, params, mean, std, rows):
  if ae is None:
    z = rows[:, :0]
  else:
    z = ae.apply({"params": ae_params, "batch_stats": batch_stats}, rows,
                 method=models.Autoencoder.encode)
  logits = clf.apply({"params": params}, classifier_inputs(rows, z, mean, std))
  return logits[:, 1] - logits[:, 0]  # softmax(logits)[:, 1] == sigmoid(this)


@functools.partial(jax.jit, static_argnums=(0, 1))
def _log_odds(ae, clf, ae_params, batch_stats, lstm_params, mean, std, x):
  x_axis = 0 if x.ndim == 3 else None
  return jax.vmap(functools.partial(_replica_log_odds, ae, clf),
                  in_axes=(0, 0, 0, 0, 0, x_axis))(ae_params, batch_stats, lstm_params, mean, std, x)


def _train_stage(stage: str, label: str, loss_fn, stage_cfg, train_cfg, split: ReplicaSplits,
                 state, data, axes, *, placement: Placement, checkpoint_root: str, metrics_log,
                 require_finished: bool):
  """Trains one stage for all replicas with that stage's batch size and epochs."""
  n_fit, batch = split.fit.shape[1], stage_cfg.batch_size
  if batch > n_fit:
    raise ConfigError(f"config.{stage.removeprefix(FINAL_PREFIX)}.batch_size={batch} is larger "
                      f"than the {n_fit} pairs each replica trains on; lower it.")
  epoch_fn = replicas.make_epoch_fn(loss_fn, UNIT_ADAM, batch, n_fit)
  return replicas.train(
      label, epoch_fn, state, data, axes, epochs=stage_cfg.epochs,
      samples_per_epoch=n_fit // batch * batch, placement=placement,
      checkpoint_dir=f"{checkpoint_root}/{label}", checkpoint_every=train_cfg.checkpoint_every,
      keep_checkpoints=train_cfg.keep_checkpoints, metrics_log=metrics_log,
      require_finished=require_finished)


def train_replicas(cfg: ml_collections.ConfigDict, pool_x: np.ndarray, pool_labels: np.ndarray,
                   reps: Replicas, *, checkpoint_root: str, metrics_log, stage_prefix: str = "",
                   label_prefix: str = "", require_finished: bool = False) -> TrainedReplicas:
  """Runs both stages, one replica per entry of `reps`, all in one program per stage.

  pool_x [n, 256] / pool_labels [n]: the pairs the replicas index into (`reps.train_idx`).
  stage_prefix selects the random streams (FINAL_PREFIX for the all-pairs model); label_prefix
  only names the checkpoint directories and log stages (sweep groups). Resumes from (or, when
  finished, just restores) the checkpoints under `checkpoint_root`. require_finished=True never
  trains: it fails unless finished checkpoints exist.
  """
  ae_stage, lstm_stage = stage_prefix + AE_STAGE, stage_prefix + LSTM_STAGE
  x = jnp.asarray(pool_x)
  in_dim = x.shape[1]
  common = dict(checkpoint_root=checkpoint_root, metrics_log=metrics_log,
                require_finished=require_finished)

  # Stage 1: autoencoder, one per replica, fit on that replica's training pairs only.
  ae, ae_state = None, None
  latent = jnp.zeros((len(reps), x.shape[0], 0))
  if cfg.ae.enabled:
    ae = autoencoder(cfg, in_dim)
    ae_split = monitoring_split(reps, cfg.ae.val_fraction, ae_stage)
    ae_state = jax.vmap(lambda key: init_ae(ae, key, in_dim))(replica_keys(reps, ae_stage))
    ae_data = {"x": x, "fit_idx": ae_split.fit, "val_idx": ae_split.val,
               "learning_rate": reps.ae_lr.astype(np.float32)}
    ae_axes = {"x": None, "fit_idx": 0, "val_idx": 0, "learning_rate": 0}
    ae_state = _train_stage(ae_stage, label_prefix + ae_stage, ae_loss_fn(ae), cfg.ae, cfg.train,
                            ae_split, ae_state, ae_data, ae_axes,
                            placement=Placement.from_config(cfg.train, len(reps)), **common)
    latent = encode(ae, ae_state, x)  # [R, n_pool, latent]

  # Stage 2: the classifier on [pair | latent], one per replica.
  clf = classifier(cfg)
  split = monitoring_split(reps, cfg.lstm.val_fraction, lstm_stage)
  mean, std = input_stats(x, latent, split.fit, cfg.lstm.standardize)
  state = jax.vmap(lambda key: init_classifier(clf, key, in_dim + latent.shape[-1]))(
      replica_keys(reps, lstm_stage))
  data = {"x": x, "labels": jnp.asarray(pool_labels), "latent": latent, "mean": mean, "std": std,
          "fit_idx": split.fit, "val_idx": split.val,
          "learning_rate": reps.lstm_lr.astype(np.float32)}
  axes = {"x": None, "labels": None, "latent": 0, "mean": 0, "std": 0, "fit_idx": 0, "val_idx": 0,
          "learning_rate": 0}
  state = _train_stage(lstm_stage, label_prefix + lstm_stage, lstm_loss_fn(clf), cfg.lstm,
                       cfg.train, split, state, data, axes,
                       placement=Placement.from_config(cfg.train, len(reps), cfg.lstm.batch_size),
                       **common)
  return TrainedReplicas(ae, clf, ae_state, state, mean, std)
