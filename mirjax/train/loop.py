"""The training loop: one epoch as a pure function, all replicas in one compiled program.

A replica is one independent training run (a fold, or fold × seed × sweep point). Its state is a
plain pytree `{'params', 'model_state', 'opt_state', 'key', 'epoch'}` with a leading replica axis. An
epoch is a `lax.scan` over minibatches inside one compiled call, so the host only sees the device
once per epoch: to log, check for NaN, and checkpoint.
"""

import dataclasses
import json
import os
import time
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax
from absl import logging
from jax.experimental import multihost_utils

from mirjax import atomic, cluster
from mirjax.errors import MirjaxError
from mirjax.placement import BATCH_AXIS, Hybrid, Placement
from mirjax.train.checkpoints import ReplicaCheckpoints
from mirjax.train.metrics_log import MetricsLog

PLACEMENT_FILE = "placement.json"  # in a stage's checkpoint directory: train.placement='probe''s choice

# loss_fn(params, model_state, data, idx, train) -> (scalar loss, new model_state)
LossFn = Callable[[Any, Any, dict, jax.Array, bool], tuple[jax.Array, Any]]


class NonFiniteLossError(MirjaxError, FloatingPointError):
  """A replica's loss became NaN or infinite."""


@dataclasses.dataclass(frozen=True)
class ReplicaData:
  """An epoch's inputs: `own` entries carry a leading replica axis (index arrays, learning rates,
  per-replica codes), `shared` ones are one copy for all replicas (the pair pool)."""
  own: dict
  shared: dict


@dataclasses.dataclass(frozen=True)
class Stage:
  """How one stage trains and where it keeps its record."""
  name: str  # in log lines, metrics.jsonl rows and error messages
  epochs: int
  batch_size: int
  n_fit: int  # training examples per replica (its fit rows), or optimizer steps (unit 'steps')
  checkpoint_dir: str
  checkpoint_every: int  # epochs
  keep_checkpoints: int
  unit: str = "samples"  # what the throughput counts: 'samples', or 'steps' of the graph model

  @property
  def work_per_epoch(self) -> int:
    """Examples (full batches only) or steps each replica does per epoch."""
    return self.n_fit // self.batch_size * self.batch_size

# The stages of a model fit on all labelled pairs or records (after the cross-validated replicas):
# checkpoints/final_* and, for the pairwise family, the random streams of mirjax/rng.py.
FINAL_PREFIX = "final_"


@dataclasses.dataclass(frozen=True)
class Store:
  """Where a group of replicas keeps its record: a stage's checkpoints in root/<prefix><stage>,
  saved every `every` epochs (the newest `keep` kept), and the run's metrics log."""
  root: str
  log: MetricsLog
  every: int
  keep: int
  prefix: str = ""  # names a sweep group's directories and log rows

  @classmethod
  def of_workdir(cls, workdir: str, train) -> "Store":
    """The run's store in `workdir`, with the cadence of section `train`."""
    return cls(os.path.join(workdir, "checkpoints"), MetricsLog(os.path.join(workdir, "metrics.jsonl")),
               train.checkpoint_every, train.keep_checkpoints)

  def grouped(self, prefix: str) -> "Store":
    return dataclasses.replace(self, prefix=prefix)

  def directory(self, stage: str) -> str:
    return os.path.join(self.root, self.prefix + stage)

  def stage(self, name: str, epochs: int, batch_size: int, n_fit: int, unit: str = "samples"
            ) -> Stage:
    return Stage(self.prefix + name, epochs, batch_size, n_fit, self.directory(name), self.every,
                 self.keep, unit)


def init_state(params, model_state, tx: optax.GradientTransformation, key: jax.Array) -> dict:
  return {"params": params, "model_state": model_state, "opt_state": tx.init(params),
          "key": key, "epoch": jnp.zeros((), jnp.int32)}


def epoch_batches(state: dict, fit_idx: jax.Array, batch_size: int, n_batches: int) -> jax.Array:
  """[n_batches, batch_size]: `fit_idx` shuffled by fold_in(key, epoch), the last partial batch
  dropped (see make_epoch_fn)."""
  perm = jax.random.permutation(jax.random.fold_in(state["key"], state["epoch"]), fit_idx)
  return perm[: n_batches * batch_size].reshape(n_batches, batch_size)


def device_slice(idx: jax.Array, batch_size: int) -> jax.Array:
  """This device's contiguous slice of minibatch `idx` when the placement splits minibatches over
  BATCH_AXIS; the whole minibatch otherwise."""
  shards = jax.lax.axis_size(BATCH_AXIS)
  if shards == 1:
    return idx
  return idx.reshape(shards, batch_size // shards)[jax.lax.axis_index(BATCH_AXIS)]


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
    batches = epoch_batches(state, data["fit_idx"], batch_size, n_batches)

    def step(carry, idx):
      params, model_state, opt_state = carry
      idx = device_slice(idx, batch_size)
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


def compile_epoch(epoch_fn, placement: Placement | Hybrid, state, data: ReplicaData):
  """Returns `run(state, own, shared, valid) -> (state, metrics)` over all replicas, compiled.

  Arguments are as `Placement.place` returns them (padded and sharded over the placement's mesh;
  `shared` replicated). The state is donated: its buffers are reused in place.
  """
  def one(state, own, shared):
    return epoch_fn(state, {**own, **shared})
  return placement.compile(one, (True, True, False), (state, data.own, data.shared),
                           donate_argnums=(0,))


def train(stage: Stage, epoch_fn, state: dict, data: ReplicaData, *,
          placement: Placement | Hybrid | tuple, metrics_log: MetricsLog) -> dict:
  """Trains all replicas for `stage.epochs`, resuming from the newest checkpoint of the stage.

  `placement`: the layout, or candidate layouts (Placement.candidates) to choose from by
  `choose_placement`.

  Raises:
    NonFiniteLossError: as soon as any replica's training loss is NaN or infinite.
  """
  ckpt = ReplicaCheckpoints(stage.checkpoint_dir, stage.keep_checkpoints)
  try:
    state, start = ckpt.restore_latest(state)
    metrics_log.truncate(stage.name, start)
    if start:
      logging.info("%s: %s checkpoint at epoch %d/%d", stage.name, "restored the finished"
                   if start == stage.epochs else "resuming from the", start, stage.epochs)
    if start >= stage.epochs:
      return state
    run = None
    if isinstance(placement, tuple):
      placement, run = choose_placement(stage, epoch_fn, state, data, placement)
    return _run_epochs(stage, epoch_fn, state, data, start, placement, metrics_log, ckpt, run)
  finally:
    ckpt.close()


def choose_placement(stage: Stage, epoch_fn, state: dict, data: ReplicaData,
                     candidates: tuple):
  """(placement, its compiled epoch or None): the fastest of `candidates` for this stage's epoch.
  The one recorded in the stage's checkpoint directory (a resumed run keeps its layout), else the
  one whose second epoch ran faster (the first compiles and allocates) on copies of the state, then
  recorded there, with the program the probe compiled for it. Every process of a multi-process run
  takes process 0's choice."""
  if len(candidates) == 1:
    return candidates[0], None
  n = jax.tree.leaves(state)[0].shape[0]
  names = [c.describe(n) for c in candidates]
  path = os.path.join(stage.checkpoint_dir, PLACEMENT_FILE)
  recorded = -1  # process 0 reads the record and every process follows it, so none probes alone
  if cluster.is_writer() and os.path.exists(path):
    with open(path, encoding="utf-8") as f:
      chosen = json.load(f)["chosen"]
    recorded = names.index(chosen) if chosen in names else -1
  if jax.process_count() > 1:
    recorded = int(multihost_utils.broadcast_one_to_all(np.int32(recorded)))
  if recorded >= 0:
    logging.info("%s: placement %s (recorded by this run's probe)", stage.name, names[recorded])
    return candidates[recorded], None
  seconds, runs = [], []
  for place in candidates:
    # on a copy of the state: the probe's epochs donate it
    placed, placed_data, valid = _placed(place, jax.tree.map(np.array, state), data, n)
    run = compile_epoch(epoch_fn, place, placed, placed_data)
    runs.append(run)
    for _ in range(2):
      t = time.perf_counter()
      placed, metrics = run(placed, placed_data.own, placed_data.shared, valid)
      jax.block_until_ready(metrics)
    seconds.append(time.perf_counter() - t)
  best = int(np.argmin(seconds))
  if jax.process_count() > 1:
    best = int(multihost_utils.broadcast_one_to_all(np.int32(best)))
  logging.info("%s: placement probe, one epoch each: %s; chose %s", stage.name,
               "; ".join(f"{name}: {s:.2f}s" for name, s in zip(names, seconds)), names[best])
  atomic.write_json(path, {"chosen": names[best], "epoch_seconds": dict(zip(names, seconds))})
  return candidates[best], runs[best]


def _placed(placement: Placement | Hybrid, state, data: ReplicaData, n_replicas: int):
  """(state, data, valid-replica mask), laid out on the devices as `placement` says."""
  return (placement.place(state, n_replicas),
          ReplicaData(placement.place(data.own, n_replicas),
                      placement.place(data.shared, n_replicas, replicated=True)),
          placement.valid(n_replicas))


def _run_epochs(stage: Stage, epoch_fn, state, data: ReplicaData, start: int,
                placement: Placement | Hybrid, metrics_log: MetricsLog, ckpt: ReplicaCheckpoints,
                run=None) -> dict:
  """The remaining epochs; `run`: the epoch already compiled for `placement` (by the probe)."""
  n_replicas = jax.tree.leaves(state)[0].shape[0]
  t0 = time.perf_counter()
  state, data, valid = _placed(placement, state, data, n_replicas)
  compiled = run is None
  run = compile_epoch(epoch_fn, placement, state, data) if compiled else run
  logging.info("%s: %s in %.1fs (%s)", stage.name, "compiled" if compiled else "placed",
               time.perf_counter() - t0, placement.describe(n_replicas))
  t_start = time.perf_counter()
  for epoch in range(start + 1, stage.epochs + 1):
    t = time.perf_counter()
    state, metrics = run(state, data.own, data.shared, valid)
    metrics = placement.to_host(metrics, n_replicas)  # the one host synchronisation per epoch
    dt = time.perf_counter() - t
    train_loss = np.asarray(metrics["train_loss"])
    if not np.isfinite(train_loss).all():
      bad = np.flatnonzero(~np.isfinite(train_loss)).tolist()
      raise NonFiniteLossError(
          f"{stage.name}: training loss became non-finite at epoch {epoch} in replica(s) {bad}. "
          "Lower the stage's learning rate or standardize the inputs; checkpoints before this "
          "epoch are intact.")
    throughput = stage.work_per_epoch * n_replicas / dt
    metrics_log.append([
        {"stage": stage.name, "epoch": epoch, "replica": r, "val_loss": None,
         **{k: float(v[r]) for k, v in metrics.items()},
         f"{stage.unit}_per_s": throughput, "epoch_seconds": dt}
        for r in range(n_replicas)])
    eta = (time.perf_counter() - t_start) / (epoch - start) * (stage.epochs - epoch)
    val = "".join(f" {k.replace('_', ' ')} {np.mean(v):.4f}" for k, v in metrics.items()
                  if k.startswith("val_"))
    logging.info("%s epoch %d/%d: loss %.4f%s | %.*f %s/s | ETA %.0fs", stage.name, epoch,
                 stage.epochs, train_loss.mean(), val, 0 if throughput >= 100 else 1, throughput,
                 stage.unit, eta)
    if epoch % stage.checkpoint_every == 0 or epoch == stage.epochs:
      ckpt.save(epoch, placement.to_host(state, n_replicas))  # NumPy: written once, by process 0
  return placement.unpad(state, n_replicas)
