"""Replica-parallel training: one epoch as a pure function, all replicas in one compiled program.

A replica is one independent training run (a fold now; fold × seed × sweep point later). Its state is a
plain pytree `{'params', 'model_state', 'opt_state', 'key', 'epoch'}` with a leading replica axis. An
epoch is a `lax.scan` over minibatches inside one compiled call, so the host only sees the device
once per epoch: to log, check for NaN, and checkpoint.
"""

import time
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax
from absl import logging

from mirjax.checkpoints import ReplicaCheckpoints
from mirjax.errors import MirjaxError
from mirjax.metrics_log import MetricsLog
from mirjax.placement import BATCH_AXIS, Placement

# loss_fn(params, model_state, data, idx, train) -> (scalar loss, new model_state)
LossFn = Callable[[Any, Any, dict, jax.Array, bool], tuple[jax.Array, Any]]


class NonFiniteLossError(MirjaxError, FloatingPointError):
  """A replica's loss became NaN or infinite."""


def init_state(params, model_state, tx: optax.GradientTransformation, key: jax.Array) -> dict:
  return {"params": params, "model_state": model_state, "opt_state": tx.init(params),
          "key": key, "epoch": jnp.zeros((), jnp.int32)}


def make_epoch_fn(loss_fn: LossFn, tx: optax.GradientTransformation, batch_size: int,
                  n_fit: int) -> Callable[[dict, dict], tuple[dict, dict]]:
  """One replica's epoch: shuffle its `fit_idx`, scan over full batches, then score `val_idx`.

  Shuffling uses `fold_in(key, epoch)`, so an epoch's batches depend only on the replica's key and
  the epoch number: a resumed run sees exactly the batches of an uninterrupted one. The last partial
  batch is dropped (a different one each epoch) to keep shapes static.

  Runs inside `Placement.replica_program`. When the placement splits minibatches over BATCH_AXIS,
  each device takes its contiguous slice of every minibatch and the gradients (and losses) are
  averaged over the axis: the mean over equal slices is the minibatch mean, so the update is the
  unsplit one up to float reassociation, and identical on every device of the axis. The validation
  loss is computed whole on each of them.
  """
  n_batches = n_fit // batch_size

  def epoch_fn(state, data):
    shards = jax.lax.axis_size(BATCH_AXIS)
    if shards > 1 and jax.tree.leaves(state["model_state"]):
      raise ValueError("minibatches split over devices need a model without batch statistics "
                       "(BatchNorm); use config.train.batch_shards=1.")
    perm = jax.random.permutation(jax.random.fold_in(state["key"], state["epoch"]), data["fit_idx"])
    batches = perm[: n_batches * batch_size].reshape(n_batches, batch_size)

    def step(carry, idx):
      params, model_state, opt_state = carry
      if shards > 1:
        idx = idx.reshape(shards, batch_size // shards)[jax.lax.axis_index(BATCH_AXIS)]
      (loss, model_state), grads = jax.value_and_grad(loss_fn, has_aux=True)(
          params, model_state, data, idx, True)
      if shards > 1:
        loss, grads = jax.lax.pmean((loss, grads), BATCH_AXIS)
      updates, opt_state = tx.update(grads, opt_state, params)
      if "learning_rate" in data:  # a per-replica rate; `tx` is then the rate-1 optimizer
        updates = jax.tree.map(lambda u: u * data["learning_rate"], updates)
      return (optax.apply_updates(params, updates), model_state, opt_state), loss

    (params, model_state, opt_state), losses = jax.lax.scan(
        step, (state["params"], state["model_state"], state["opt_state"]), batches)
    metrics = {"train_loss": losses.mean()}
    if data["val_idx"].shape[-1]:
      metrics["val_loss"] = loss_fn(params, model_state, data, data["val_idx"], False)[0]
    new_state = {"params": params, "model_state": model_state, "opt_state": opt_state,
                 "key": state["key"], "epoch": state["epoch"] + 1}
    return new_state, metrics

  return epoch_fn


def split_data(data: dict, data_axes: dict) -> tuple[dict, dict]:
  """(per-replica entries, shared entries) of a data dict, by `data_axes` (0 or None)."""
  own = {k: v for k, v in data.items() if data_axes[k] is not None}
  return own, {k: v for k, v in data.items() if data_axes[k] is None}


def compile_epoch(epoch_fn, placement: Placement, state, own: dict, shared: dict):
  """Returns `run(state, own, shared, valid) -> (state, metrics)` over all replicas, compiled.

  Arguments are as `Placement.place` returns them (padded and sharded over the placement's mesh;
  `shared` replicated). The state is donated: its buffers are reused in place.
  """
  def one(state, own, shared):
    return epoch_fn(state, {**own, **shared})
  program = jax.jit(placement.replica_program(one, (True, True, False)), donate_argnums=0)
  n = jax.tree.leaves(state)[0].shape[0]
  return program.lower(state, own, shared, placement.valid(n)).compile()


def train(stage: str, epoch_fn, state: dict, data: dict, data_axes: dict, *, epochs: int,
          samples_per_epoch: int, placement: Placement, checkpoint_dir: str, checkpoint_every: int,
          keep_checkpoints: int, metrics_log: MetricsLog, require_finished: bool = False) -> dict:
  """Trains all replicas for `epochs`, resuming from the newest checkpoint in `checkpoint_dir`.

  Args:
    samples_per_epoch: training examples seen per epoch per replica (for samples/s).
    require_finished: never train; return the finished state or raise MirjaxError.
  Raises:
    NonFiniteLossError: as soon as any replica's training loss is NaN or infinite.
  """
  ckpt = ReplicaCheckpoints(checkpoint_dir, keep_checkpoints)
  state, start = ckpt.restore_latest(state)
  if require_finished and start != epochs:
    ckpt.close()
    raise MirjaxError(
        f"{stage}: {checkpoint_dir} has no restorable checkpoint of a finished run matching this "
        f"config (found epoch {start} of {epochs}; steps on disk: {ckpt.steps()}). Run "
        "--mode=train with the same --config and --workdir first.")
  metrics_log.truncate(stage, start)
  if start:
    logging.info("%s: %s checkpoint at epoch %d/%d", stage,
                 "restored the finished" if start == epochs else "resuming from the", start, epochs)
  n_replicas = jax.tree.leaves(state)[0].shape[0]
  if start >= epochs:
    ckpt.close()
    return state
  t0 = time.perf_counter()
  own, shared = split_data(data, data_axes)
  state = placement.place(state, n_replicas)
  own = placement.place(own, n_replicas)
  shared = placement.place(shared, n_replicas, replicated=True)
  valid = placement.valid(n_replicas)
  run = compile_epoch(epoch_fn, placement, state, own, shared)
  logging.info("%s: compiled in %.1fs (%s)", stage, time.perf_counter() - t0,
               placement.describe(n_replicas))
  t_start = time.perf_counter()
  try:
    for epoch in range(start + 1, epochs + 1):
      t = time.perf_counter()
      state, metrics = run(state, own, shared, valid)
      metrics = placement.to_host(metrics, n_replicas)  # the one host synchronisation per epoch
      dt = time.perf_counter() - t
      train_loss = np.asarray(metrics["train_loss"])
      if not np.isfinite(train_loss).all():
        bad = np.flatnonzero(~np.isfinite(train_loss)).tolist()
        raise NonFiniteLossError(
            f"{stage}: training loss became non-finite at epoch {epoch} in replica(s) {bad}. "
            f"Lower the {stage} learning rate (config.{stage}.learning_rate) or standardize the "
            "inputs; checkpoints before this epoch are intact.")
      throughput = samples_per_epoch * n_replicas / dt
      metrics_log.append([
          {"stage": stage, "epoch": epoch, "replica": r, "train_loss": float(train_loss[r]),
           "val_loss": float(metrics["val_loss"][r]) if "val_loss" in metrics else None,
           "samples_per_s": throughput, "epoch_seconds": dt}
          for r in range(n_replicas)])
      done = epoch - start
      eta = (time.perf_counter() - t_start) / done * (epochs - epoch)
      val = (f" val {np.mean(metrics['val_loss']):.4f}" if "val_loss" in metrics else "")
      logging.info("%s epoch %d/%d: loss %.4f%s | %.0f samples/s | ETA %.0fs", stage, epoch, epochs,
                   train_loss.mean(), val, throughput, eta)
      if epoch % checkpoint_every == 0 or epoch == epochs:
        ckpt.save(epoch, placement.unpad(state, n_replicas))
  finally:
    ckpt.close()
  return placement.unpad(state, n_replicas)
