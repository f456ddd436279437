"""Replica-parallel training: one epoch as a pure function, all replicas in one jit(vmap).

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
  """
  n_batches = n_fit // batch_size

  def epoch_fn(state, data):
    perm = jax.random.permutation(jax.random.fold_in(state["key"], state["epoch"]), data["fit_idx"])
    batches = perm[: n_batches * batch_size].reshape(n_batches, batch_size)

    def step(carry, idx):
      params, model_state, opt_state = carry
      (loss, model_state), grads = jax.value_and_grad(loss_fn, has_aux=True)(
          params, model_state, data, idx, True)
      updates, opt_state = tx.update(grads, opt_state, params)
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


def _take(tree, axes, i: int):
  """Replica i of a replica-stacked pytree, keeping a replica axis of size 1."""
  return jax.tree.map(lambda x, a: x if a is None else x[i:i + 1], tree, axes)


def _concat(trees):
  return jax.tree.map(lambda *xs: jnp.concatenate(xs), *trees)


def compile_epoch(epoch_fn, state, data, data_axes, *, parallel: bool):
  """Returns `run(state, data) -> (state, metrics)` over all replicas, already compiled.

  parallel=True: one program over the replica axis (jit of vmap). parallel=False: the same program
  compiled for one replica and called for each in turn, for benchmarking; same numbers up to float
  reassociation.
  """
  state_axes = jax.tree.map(lambda _: 0, state)
  vmapped = jax.jit(jax.vmap(epoch_fn, in_axes=(0, data_axes)), donate_argnums=0)
  if parallel:
    return vmapped.lower(state, data).compile()
  one = vmapped.lower(_take(state, state_axes, 0), _take(data, data_axes, 0)).compile()
  n = jax.tree.leaves(state)[0].shape[0]

  def run(state, data):
    outs = [one(_take(state, state_axes, i), _take(data, data_axes, i)) for i in range(n)]
    return _concat([s for s, _ in outs]), _concat([m for _, m in outs])
  return run


def train(stage: str, epoch_fn, state: dict, data: dict, data_axes: dict, *, epochs: int,
          samples_per_epoch: int, parallel: bool, checkpoint_dir: str, checkpoint_every: int,
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
  run = compile_epoch(epoch_fn, state, data, data_axes, parallel=parallel)
  logging.info("%s: compiled in %.1fs (%d replicas, %s)", stage, time.perf_counter() - t0,
               n_replicas, "vmapped" if parallel else "sequential")
  t_start = time.perf_counter()
  try:
    for epoch in range(start + 1, epochs + 1):
      t = time.perf_counter()
      state, metrics = run(state, data)
      metrics = jax.device_get(metrics)  # the one host synchronisation per epoch
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
        ckpt.save(epoch, state)
  finally:
    ckpt.close()
  return state
