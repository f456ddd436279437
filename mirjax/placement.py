"""Where replicas run: the CPU device layout, a 2-D mesh over the devices, padding, the device loop.

A replica (a fold, or fold x seed x sweep point) is one independent training run. The devices form
a 2-D `Mesh` (replicas x batch): the replica axis is sharded over the first mesh axis, and when the
replicas alone cannot fill the devices evenly, each replica's minibatches are split over the second
(data parallel: every device of a row computes the gradient of its slice of the minibatch, and the
row averages them with one `pmean` per step, so its copies of the replica stay identical). Each
device runs its block of replicas either vmapped (what fills a GPU or TPU) or in a plain loop
(`lax.map`, on a CPU device holding several). When there are more replicas than devices and they
do not divide them (5 folds on 2 cores), a `Hybrid` layout trains as many as fill the devices evenly
with whole minibatches and splits only the rest (2 + 2 whole, the fifth split over both).

Why the loop: XLA CPU lowers vmapped recurrent matmuls to batched dots that run well below
plain-GEMM speed. Why one single-threaded XLA device per core (`configure`): one model's small
128x128x512 GEMMs hardly get faster with a second thread, but independent work on different cores
does. Why split minibatches rather than pad: 5 folds on 2 cores padded to 6 idle a core for a sixth
of the run, and 5 devices time-sliced on 2 cores thrash each other's caches (measured with
benchmarks/throughput.py: split 9,661 samples/s, padded 8,538 in the same run; 5 devices 8,754 in a
`--cpu_devices=5` run). Why split only the rest (`Hybrid`): a split halves every matmul and adds a
`pmean` per step; keeping 4 of the 5 folds whole measured 3-13 % faster than splitting all 5
(BUILD.md, "Devices").

Padding remains for layouts that cannot avoid it (a stage whose minibatches are never split, such as
the BatchNorm autoencoder and scoring, or a batch size the devices do not divide): the replica axis
is padded with copies of replica 0 and a `valid` mask; padded replicas are skipped in the loop
(computed and dropped under vmap), never checkpointed and never reported.

Multi-host: call `jax.distributed.initialize()` before anything else; `jax.devices()` then spans
every host, each process places the same host arrays (`make_array_from_callback`) and results come
back through `process_allgather`.
"""

import dataclasses
import functools
import os
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np
from absl import logging
from jax.experimental import multihost_utils
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from mirjax.errors import ConfigError

REPLICA_AXIS = "replicas"
BATCH_AXIS = "batch"  # devices sharing each minibatch of a replica
LOOPS = ("auto", "map", "vmap")
# JAX's default lets a float32 matmul run as TensorFloat-32 (10-bit mantissa) on Ampere and newer
# GPUs; mirjax's float32 means float32 on every backend (no change on a CPU). Lower precision is an
# explicit choice: config.lstm.matmul_dtype='bfloat16'.
MATMUL_PRECISION = "float32"
# Set for single-threaded CPU devices. The concurrency-optimized scheduler orders independent ops
# for a multithreaded executor; with one thread per device the default order is ~7 % faster
# (measured on the LSTM epoch, one device pinned to one core: 24.4-25.0 vs 26.8-27.0 ms/batch).
_SINGLE_THREADED_FLAGS = ("--xla_cpu_multi_thread_eigen=false",
                          "--xla_cpu_enable_concurrency_optimized_scheduler=false")


def cpu_cores() -> int:
  return len(os.sched_getaffinity(0))


def configure(cpu_devices: int = 0) -> int:
  """Sets up the backend before JAX starts: float32 matmuls everywhere, and the host CPU split into
  `cpu_devices` single-threaded XLA devices (0: one per core).

  The CPU split is only possible before JAX runs its first operation; afterwards (tests, notebooks)
  the existing devices are kept and this says so. Returns the number of CPU devices in effect.
  """
  jax.config.update("jax_default_matmul_precision", MATMUL_PRECISION)
  n = cpu_devices or cpu_cores()
  try:
    jax.config.update("jax_num_cpu_devices", n)
  except RuntimeError:
    have = len(jax.devices("cpu"))
    if have != n:
      logging.info("JAX is already running with %d CPU device(s); keeping them (asked for %d).",
                   have, n)
    return have
  if n > 1:
    flags = os.environ.get("XLA_FLAGS", "")
    for flag in _SINGLE_THREADED_FLAGS:
      if flag.split("=")[0] not in flags:
        flags = f"{flags} {flag}".strip()
    os.environ["XLA_FLAGS"] = flags
  return n


def mesh_shape(n_replicas: int, devices: int, batch_size: int = 0,
               batch_shards: int = 0) -> tuple[int, int]:
  """(replica shards, batch shards) for `n_replicas` on `devices`.

  batch_size: the stage's minibatch size if its minibatches may be split (0: never split).
  batch_shards: devices per minibatch, 0 for auto: the most replica shards that divide both the
  devices and the replicas (no padding) and leave a batch split that divides the minibatch; with no
  such layout, replicas only, padded.
  """
  if batch_shards:
    if batch_size and batch_shards > 1:
      if batch_size % batch_shards or batch_shards > devices:
        raise ConfigError(
            f"config.train.batch_shards={batch_shards} must divide the minibatch size "
            f"({batch_size}) and be at most the number of devices ({devices}); use 0 (auto) or 1.")
      return min(devices // batch_shards, n_replicas), batch_shards
    return min(devices, n_replicas), 1
  if batch_size:
    for r in range(min(devices, n_replicas), 0, -1):
      if devices % r == 0 and n_replicas % r == 0 and batch_size % (devices // r) == 0:
        return r, devices // r
  return min(devices, n_replicas), 1


class _Layout:
  """What every layout shares: results as ordinary arrays."""

  def unpad(self, tree, n: int):
    """The first n replicas as ordinary arrays on the default device."""
    return jax.tree.map(jnp.asarray, self.to_host(tree, n))


@dataclasses.dataclass(frozen=True)
class Placement(_Layout):
  """A (replicas x batch) mesh over devices and the loop each device runs over its replicas."""
  mesh: Mesh
  loop: str  # 'map' or 'vmap'

  @classmethod
  def create(cls, n_replicas: int, devices: int = 0, loop: str = "auto", batch_size: int = 0,
             batch_shards: int = 0) -> "Placement | Hybrid":
    """Mesh over the first `devices` devices (0: all); see `mesh_shape` for the batch split. With
    the split automatic (`batch_shards=0`) and more replicas than devices that they do not divide,
    a `Hybrid`: the replicas that fill the devices evenly keep whole minibatches, the rest split."""
    available = jax.devices()
    k = min(devices or len(available), len(available))
    if not batch_shards and batch_size and n_replicas > k and n_replicas % k:
      whole = n_replicas // k * k
      split = cls.create(n_replicas - whole, k, loop, batch_size)
      if split.batch_shards > 1:  # else the rest cannot be split evenly: pad instead, below
        return Hybrid(cls.create(whole, k, loop), split, whole)
    r, b = mesh_shape(max(n_replicas, 1), k, batch_size, batch_shards)
    if loop == "auto":  # vmap of a single replica is no batching at all, and measured faster
      several = -(-n_replicas // r) > 1
      loop = "map" if available[0].platform == "cpu" and several else "vmap"
    if loop not in LOOPS[1:]:
      raise ValueError(f"replica loop {loop!r}: choose one of {LOOPS}")
    grid = np.array(available[: r * b]).reshape(r, b)
    return cls(Mesh(grid, (REPLICA_AXIS, BATCH_AXIS)), loop)

  @classmethod
  def from_config(cls, train_cfg, n_replicas: int, batch_size: int = 0) -> "Placement | Hybrid":
    """The layout of config.train; pass the stage's batch size if its minibatches may be split."""
    return cls.create(n_replicas, train_cfg.devices, train_cfg.replica_loop, batch_size,
                      train_cfg.batch_shards)

  @classmethod
  def candidates(cls, train_cfg, n_replicas: int, batch_size: int = 0) -> tuple:
    """The layouts a stage may train in: config.train's, and with train.placement='probe' also the
    one that keeps minibatches whole, when the rule would split them, and every minibatch split,
    when the rule is a `Hybrid` (loop.train times them)."""
    rule = cls.from_config(train_cfg, n_replicas, batch_size)
    if (train_cfg.placement != "probe" or train_cfg.batch_shards or not batch_size
        or rule.batch_shards == 1):
      return (rule,)
    others = [cls.create(n_replicas, train_cfg.devices, train_cfg.replica_loop, batch_size, 1)]
    if isinstance(rule, Hybrid):  # and every replica split, the rule before the hybrid layout
      k = rule.whole.mesh.size
      _, b = mesh_shape(n_replicas, k, batch_size)
      others.append(cls.create(n_replicas, k, train_cfg.replica_loop, batch_size, b))
    return (rule, *others)

  @property
  def replica_shards(self) -> int:
    return self.mesh.shape[REPLICA_AXIS]

  @property
  def batch_shards(self) -> int:
    return self.mesh.shape[BATCH_AXIS]

  def padded(self, n: int) -> int:
    return -(-n // self.replica_shards) * self.replica_shards

  def describe(self, n: int) -> str:
    pad = self.padded(n) - n
    split = (f", each minibatch split over {self.batch_shards}" if self.batch_shards > 1 else "")
    return (f"{n} replicas on {self.mesh.size} {self.mesh.devices.flat[0].platform} device(s)"
            f"{split}, {self.loop} per device" + (f", {pad} padding" if pad else ""))

  def place(self, tree, n: int, replicated: bool = False):
    """Host/device arrays → arrays sharded over the mesh's replica axis on their leading axis,
    padded to a multiple of the replica shards with copies of replica 0 (and copied to every
    device of a replica's row). replicated=True: a full copy per device."""
    spec = PartitionSpec() if replicated else PartitionSpec(REPLICA_AXIS)
    sharding = NamedSharding(self.mesh, spec)
    extra = 0 if replicated else self.padded(n) - n

    def put(x):
      x = np.asarray(x)
      if extra:
        x = np.concatenate([x, np.repeat(x[:1], extra, axis=0)])
      return jax.make_array_from_callback(x.shape, sharding, lambda index: x[index])
    return jax.tree.map(put, tree)

  def valid(self, n: int) -> jax.Array:
    """The padding mask, True for the n real replicas."""
    return self.place(np.arange(self.padded(n)) < n, self.padded(n))

  def to_host(self, tree, n: int):
    """The first n replicas of a sharded pytree as NumPy arrays (gathered from every host)."""
    gather = (functools.partial(multihost_utils.process_allgather, tiled=True)  # the global array
              if jax.process_count() > 1 else jax.device_get)
    return jax.tree.map(lambda x: np.asarray(x)[:n], gather(tree))

  def compile(self, fn: Callable[..., Any], sharded: tuple[bool, ...], args: tuple,
              donate_argnums: tuple[int, ...] = ()):
    """`replica_program(fn, sharded)` jitted and compiled for `args` (as `place` returns them):
    `program(*args, valid)`."""
    n = jax.tree.leaves(args[sharded.index(True)])[0].shape[0]
    program = jax.jit(self.replica_program(fn, sharded), donate_argnums=donate_argnums)
    return program.lower(*args, self.valid(n)).compile()

  def replica_program(self, fn: Callable[..., Any], sharded: tuple[bool, ...]):
    """`fn(*args) -> out` for one replica  →  `program(*args, valid)` over all (padded) replicas.

    `sharded[i]` says whether args[i] has the replica axis (placed with `place`) or is shared by
    all replicas (placed with replicated=True). The output has the replica axis. Padded replicas
    are skipped in the loop and output zeros. `fn` runs with BATCH_AXIS bound (size 1 when
    minibatches are not split); its output must be the same on every device of that axis.
    """
    def per_device(*args):
      *args, valid = args
      if self.loop == "vmap":
        return jax.vmap(fn, in_axes=tuple(0 if s else None for s in sharded))(*args)

      def one(xs):
        *own, ok = xs
        own = iter(own)
        full = tuple(next(own) if s else a for a, s in zip(args, sharded))
        out_shape = jax.eval_shape(fn, *full)
        skip = lambda: jax.tree.map(lambda a: jnp.zeros(a.shape, a.dtype), out_shape)
        return jax.lax.cond(ok, lambda: fn(*full), skip)
      return jax.lax.map(one, (*[a for a, s in zip(args, sharded) if s], valid))

    specs = tuple(PartitionSpec(REPLICA_AXIS) if s else PartitionSpec() for s in sharded)
    # check_vma=False: the per-device body is ordinary single-device code (scans whose carries
    # start from constants) plus, when minibatches are split, one pmean over BATCH_AXIS per step,
    # after which the copies of a replica along that axis are equal (tested).
    return jax.shard_map(per_device, mesh=self.mesh,
                         in_specs=(*specs, PartitionSpec(REPLICA_AXIS)),
                         out_specs=PartitionSpec(REPLICA_AXIS), check_vma=False)


@dataclasses.dataclass(frozen=True)
class Hybrid(_Layout):
  """Replicas [0, n_whole) laid out by `whole` (as many per device, whole minibatches), the rest by
  `split` (their minibatches split over the devices): 5 folds on 2 cores train 2 + 2 whole and the
  fifth half on each core, so both cores do the same work with 4 of 5 folds unsplit.

  Why: splitting every fold's minibatch (the rule before) halves each matmul and adds a `pmean` per
  step for all of them; padding 5 to 6 idles a core for a sixth of the run. Measured on the 2-core
  AMD EPYC dev host (BUILD.md, "Devices"): 3-7 % faster than every fold split with the XLA LSTM,
  7 % with the oneDNN one in float32, 13 % with oneDNN in bfloat16.

  The two groups are separate programs run one after the other on the same devices; placed trees,
  masks and outputs are (whole part, split part) pairs, and `to_host` joins them in replica order.
  """
  whole: Placement
  split: Placement
  n_whole: int

  @property
  def parts(self) -> tuple[Placement, Placement]:
    return self.whole, self.split

  @property
  def batch_shards(self) -> int:
    return self.split.batch_shards

  def _counts(self, n: int) -> tuple[int, int]:
    return self.n_whole, n - self.n_whole

  def describe(self, n: int) -> str:
    whole, rest = self._counts(n)
    return (f"{n} replicas on {self.whole.mesh.size} {self.whole.mesh.devices.flat[0].platform} "
            f"device(s): {whole} with whole minibatches ({self.whole.loop} per device), "
            f"{rest} with each minibatch split over {self.split.batch_shards}")

  def place(self, tree, n: int, replicated: bool = False):
    if replicated:
      return tuple(p.place(tree, k, True) for p, k in zip(self.parts, self._counts(n)))
    whole, _ = self._counts(n)
    return (self.whole.place(jax.tree.map(lambda x: np.asarray(x)[:whole], tree), whole),
            self.split.place(jax.tree.map(lambda x: np.asarray(x)[whole:], tree), n - whole))

  def valid(self, n: int):
    return tuple(p.valid(k) for p, k in zip(self.parts, self._counts(n)))

  def to_host(self, tree, n: int):
    parts = [p.to_host(t, k) for p, t, k in zip(self.parts, tree, self._counts(n))]
    return jax.tree.map(lambda *xs: np.concatenate(xs), *parts)

  def compile(self, fn: Callable[..., Any], sharded: tuple[bool, ...], args: tuple,
              donate_argnums: tuple[int, ...] = ()):
    """Each part's compiled program; `run(*args, valid)` runs both and returns `fn`'s output
    tuple with each entry a (whole part, split part) pair."""
    programs = [p.compile(fn, sharded, tuple(a[i] for a in args), donate_argnums)
                for i, p in enumerate(self.parts)]

    def run(*args):
      outs = [program(*(a[i] for a in args)) for i, program in enumerate(programs)]
      return tuple(zip(*outs))
    return run
