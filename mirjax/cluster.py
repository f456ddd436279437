"""Several processes (one per host) as one JAX runtime, and which of them writes the workdir.

`jax.distributed` joins the processes: `jax.devices()` then lists every process's devices, the
replica mesh (mirjax/placement.py) spans them all, and each process runs the same program on its
own devices. On CPUs the cross-process collectives go through gloo. Every process computes every
result (they are gathered to all of them), but only process 0 writes the workdir: the other
processes' writes (mirjax/atomic.py) go to a private temporary directory and are dropped, and orbax
writes each checkpoint once, from process 0, after every process has reached it.

If a process dies, the others stop when the coordination service misses its heartbeats
(`heartbeat_s`) instead of waiting for it forever; rerunning the same commands resumes from the last
checkpoint.
"""

import dataclasses

import jax

from mirjax.errors import ConfigError

_state = {"process_id": 0}  # set by `initialize`; read without starting JAX's backend


@dataclasses.dataclass(frozen=True)
class Cluster:
  """How this process joins the others (the default, one process, joins nothing)."""
  coordinator: str = ""  # host:port of process 0's coordination service
  num_processes: int = 1
  process_id: int = 0
  heartbeat_s: int = 30  # a process silent this long is taken as dead, and the others stop

  @property
  def distributed(self) -> bool:
    return self.num_processes > 1


def initialize(cluster: Cluster) -> None:
  """Joins the cluster; call before JAX's first operation (after placement.configure)."""
  if not cluster.distributed:
    return
  if not cluster.coordinator or not 0 <= cluster.process_id < cluster.num_processes:
    raise ConfigError(
        f"--num_processes={cluster.num_processes} needs --coordinator=HOST:PORT (process 0's "
        f"address) and --process_id in 0..{cluster.num_processes - 1}; got "
        f"--coordinator={cluster.coordinator!r} --process_id={cluster.process_id}.")
  jax.config.update("jax_cpu_collectives_implementation", "gloo")
  jax.distributed.initialize(cluster.coordinator, cluster.num_processes, cluster.process_id,
                             initialization_timeout=max(300, 4 * cluster.heartbeat_s),
                             heartbeat_timeout_seconds=cluster.heartbeat_s)
  _state["process_id"] = cluster.process_id


def is_writer() -> bool:
  """Whether this process writes the workdir (process 0, or the only process)."""
  return _state["process_id"] == 0
