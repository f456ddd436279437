"""Where replicas run: the CPU device layout, a 1-D mesh over the devices, padding, the device loop.

A replica (a fold, or fold x seed x sweep point) is one independent training run. The replica axis
is sharded over a 1-D `Mesh` of all devices; each device runs its block of replicas either vmapped
(what fills a GPU or TPU) or in a plain loop (`lax.map`, on a CPU device holding several).
Why the loop: XLA CPU lowers vmapped recurrent matmuls to batched dots that run well below
plain-GEMM speed. Why several CPU devices: one model's small 128x128x512 GEMMs do not get faster
with a second core, but different replicas on different cores do (measured in benchmarks/), so on
a CPU host the cores are split into single-threaded XLA devices (`configure_cpu`).

When the replica count does not divide the device count, the replica axis is padded with copies of
replica 0 and a `valid` mask; padded replicas are skipped in the loop (computed and dropped under
vmap), never checkpointed and never reported.

Multi-host: call `jax.distributed.initialize()` before anything else; `jax.devices()` then spans
every host, each process places the same host arrays (`make_array_from_callback`) and results come
back through `process_allgather`.
"""

import dataclasses
import os
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np
from absl import logging
from jax.experimental import multihost_utils
from jax.sharding import Mesh, NamedSharding, PartitionSpec

AXIS = "replicas"
LOOPS = ("auto", "map", "vmap")
_SINGLE_THREADED = "--xla_cpu_multi_thread_eigen=false"


def cpu_cores() -> int:
  return len(os.sched_getaffinity(0))


def auto_cpu_devices(n_replicas: int, cores: int) -> int:
  """One device per core, or one per replica when the replicas do not split evenly over the cores.

  A few more devices than cores are time-sliced by the OS (measured about 8 % slower than one per
  core), which beats padding (5 replicas on 2 cores padded to 6 idles a core for a sixth of the run).
  """
  if cores <= 1 or n_replicas <= 1:
    return 1
  if n_replicas % cores == 0 or n_replicas > 4 * cores:
    return cores
  return n_replicas


def configure_cpu(n_replicas: int, cpu_devices: int = 0) -> int:
  """Splits the host CPU into `cpu_devices` XLA devices (0: `auto_cpu_devices`), single-threaded.

  Only possible before JAX runs its first operation; afterwards (tests, notebooks) the existing
  devices are kept and this says so. Returns the number of CPU devices in effect.
  """
  n = cpu_devices or auto_cpu_devices(n_replicas, cpu_cores())
  try:
    jax.config.update("jax_num_cpu_devices", n)
  except RuntimeError:
    have = len(jax.devices("cpu"))
    if have != n:
      logging.info("JAX is already running with %d CPU device(s); keeping them (asked for %d).",
                   have, n)
    return have
  if n > 1 and "xla_cpu_multi_thread_eigen" not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {_SINGLE_THREADED}".strip()
  return n


@dataclasses.dataclass(frozen=True)
class Placement:
  """A mesh over devices and the loop each device runs over its replicas."""
  mesh: Mesh
  loop: str  # 'map' or 'vmap'

  @classmethod
  def create(cls, n_replicas: int, devices: int = 0, loop: str = "auto") -> "Placement":
    """Mesh over the first `devices` devices (0: all), never more devices than replicas."""
    available = jax.devices()
    k = min(devices or len(available), len(available), max(n_replicas, 1))
    if loop == "auto":  # vmap of a single replica is no batching at all, and measured faster
      several = -(-n_replicas // k) > 1
      loop = "map" if available[0].platform == "cpu" and several else "vmap"
    if loop not in LOOPS[1:]:
      raise ValueError(f"replica loop {loop!r}: choose one of {LOOPS}")
    return cls(Mesh(np.array(available[:k]), (AXIS,)), loop)

  @classmethod
  def from_config(cls, train_cfg, n_replicas: int) -> "Placement":
    return cls.create(n_replicas, train_cfg.devices, train_cfg.replica_loop)

  @property
  def size(self) -> int:
    return self.mesh.size

  def padded(self, n: int) -> int:
    return -(-n // self.size) * self.size

  def describe(self, n: int) -> str:
    pad = self.padded(n) - n
    return (f"{n} replicas on {self.size} {self.mesh.devices.flat[0].platform} device(s), "
            f"{self.loop} per device" + (f", {pad} padding" if pad else ""))

  def place(self, tree, n: int, replicated: bool = False):
    """Host/device arrays → arrays sharded over the mesh on the leading (replica) axis, padded to a
    multiple of the mesh size with copies of replica 0. replicated=True: a full copy per device."""
    spec = PartitionSpec() if replicated else PartitionSpec(AXIS)
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
    gather = (multihost_utils.process_allgather if jax.process_count() > 1 else jax.device_get)
    return jax.tree.map(lambda x: np.asarray(x)[:n], gather(tree))

  def unpad(self, tree, n: int):
    """The first n replicas as ordinary arrays on the default device."""
    return jax.tree.map(jnp.asarray, self.to_host(tree, n))

  def replica_program(self, fn: Callable[..., Any], sharded: tuple[bool, ...]):
    """`fn(*args) -> out` for one replica  →  `program(*args, valid)` over all (padded) replicas.

    `sharded[i]` says whether args[i] has the replica axis (placed with `place`) or is shared by
    all replicas (placed with replicated=True). The output has the replica axis. Padded replicas
    are skipped in the loop and output zeros.
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

    specs = tuple(PartitionSpec(AXIS) if s else PartitionSpec() for s in sharded)
    # check_vma=False: the per-device body is ordinary single-device code (scans whose carries
    # start from constants); nothing in it communicates across devices.
    return jax.shard_map(per_device, mesh=self.mesh, in_specs=(*specs, PartitionSpec(AXIS)),
                         out_specs=PartitionSpec(AXIS), check_vma=False)
