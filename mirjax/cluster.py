"""Several processes (one per host) as one JAX runtime, and which of them writes the workdir.

`jax.distributed` joins the processes: `jax.devices()` then lists every process's devices, the
replica mesh (mirjax/placement.py) spans them all, and each process runs the same program on its
own devices. On CPUs the cross-process collectives go through gloo. Every process computes every
result (they are gathered to all of them), but only process 0 writes the workdir: the other
processes' writes (mirjax/atomic.py) go to a private temporary directory and are dropped, and orbax
writes each checkpoint once, from process 0, after every process has reached it.

If a process dies, the others stop with one line instead of waiting for it forever, and rerunning
the same commands resumes from the last checkpoint. A peer that exits closes its sockets, and the
collective waiting on it fails at once (launch.py turns that into the line). A peer that freezes or
drops off the network closes nothing: `Watchdog` notices its silence after `heartbeat_s`.
"""

import dataclasses
import os
import sys
import threading
import time

import jax
from jax._src import distributed as jax_distributed  # its client: orbax reaches it the same way

from mirjax.errors import ConfigError

_state = {"process_id": 0, "watchdog": None}  # set by `initialize`; read without starting JAX
_exiting = threading.Lock()  # held by the first thread that ends the process


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

  def stopped(self, why: str) -> str:
    """The one line a process of several ends with when it cannot go on."""
    return (f"error: process {self.process_id} of {self.num_processes} stopped ({why}). If another "
            "process died, rerun the same commands on every host: the run resumes from its last "
            "checkpoint.")


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
  # JAX's own heartbeat check is the backstop: it aborts the process from a C++ thread with a stack
  # trace, so the watchdog (which ends it within ~1.3 heartbeat_s) must come first. JAX beats every
  # timeout/2 and declares a process dead after a timeout of silence: at 4x, not before 2x.
  jax.distributed.initialize(cluster.coordinator, cluster.num_processes, cluster.process_id,
                             initialization_timeout=max(300, 4 * cluster.heartbeat_s),
                             heartbeat_timeout_seconds=_BACKSTOP * cluster.heartbeat_s)
  _state["process_id"] = cluster.process_id
  _state["watchdog"] = Watchdog(jax_distributed.global_state.client, cluster)
  _state["watchdog"].start()


def finish() -> None:
  """Ends this process's part in the run (a no-op for one process): posts 'done' (from then on its
  silence is no fault), waits at JAX's shutdown barrier for the others with the watchdog still
  watching them, then stops the watchdog. Left to the interpreter's exit, a watchdog thread caught
  inside a jaxlib call aborts the whole process ('terminate called ...'), a finished run included."""
  watchdog = _state["watchdog"]
  if watchdog is None:
    return
  watchdog.finish()
  jax.distributed.shutdown()
  watchdog.join()
  _state["watchdog"] = None


def is_writer() -> bool:
  """Whether this process writes the workdir (process 0, or the only process)."""
  return _state["process_id"] == 0


def exit_now(line: str) -> None:
  """Ends this process of several with one line on stderr, once, whichever thread gets here first.

  os._exit, not SystemExit: JAX's shutdown would first wait at a barrier for the other processes,
  and abort with a stack trace if one is gone."""
  if _exiting.acquire(blocking=False):
    print(line, file=sys.stderr, flush=True)
    os._exit(1)
  threading.Event().wait()  # another thread is printing the line and ending the process


_DONE = "done"
_PREFIX = "mirjax/alive/"
_BACKSTOP = 4  # JAX's heartbeat timeout, in units of heartbeat_s


class Watchdog:
  """Every process posts a counter to the coordination service's key-value store every
  heartbeat_s / 10 and reads all of them back. A coordinator that has not answered for heartbeat_s,
  or a peer whose counter has not moved for heartbeat_s of this process's answered reads, ends this
  process with one line (`exit_now`).

  One thread (`_beat`) is the only writer of this process's key, so a finished process's 'done'
  (`finish`), which tells the others its silence is no fault, is its last word and never
  overwritten. Both threads run until JAX's shutdown barrier has passed (`join`), so a peer that
  freezes while this one waits there is still caught. Both need the GIL: a tick that
  comes late (the process was paused, or a C call held the GIL) restarts the clock rather than
  blaming the others.
  """

  def __init__(self, client, cluster: Cluster):
    self._client, self._cluster = client, cluster
    self._interval = max(cluster.heartbeat_s / 10, 0.1)
    now = time.monotonic()
    # When each process was last heard of; this process's own entry: the coordinator's last answer.
    self._heard = dict.fromkeys(range(cluster.num_processes), now)
    self._counters: dict[int, str] = {}
    self._finishing, self._stopped = threading.Event(), threading.Event()
    self._threads = [threading.Thread(target=target, name=f"mirjax-{target.__name__[1:]}",
                                      daemon=True) for target in (self._beat, self._watch)]

  def start(self) -> None:
    for thread in self._threads:
      thread.start()

  def finish(self) -> None:
    self._finishing.set()

  def join(self) -> None:
    self._stopped.set()
    for thread in self._threads:
      thread.join(timeout=10 * self._interval + 10)

  def _beat(self) -> None:
    me, count, done = self._cluster.process_id, 0, False
    while not self._stopped.is_set():
      count += 1
      try:
        if not done:  # 'done' is this process's last write
          finishing = self._finishing.is_set()
          self._client.key_value_set(f"{_PREFIX}{me}", _DONE if finishing else str(count),
                                     allow_overwrite=True)
          done = finishing
        posted = self._client.key_value_dir_get(_PREFIX)  # one call for all processes
        self._heard[me] = time.monotonic()
      except jax.errors.JaxRuntimeError:
        posted = []  # the coordinator did not answer: `_watch` ends the process if that lasts
      for key, value in posted:
        peer = int(key.rsplit("/", 1)[1])
        if peer == me or peer not in self._heard:
          continue
        if value == _DONE:
          self._heard.pop(peer)
        elif value != self._counters.get(peer):
          self._counters[peer], self._heard[peer] = value, time.monotonic()
      self._stopped.wait(self._interval)

  def _watch(self) -> None:
    me, limit = self._cluster.process_id, self._cluster.heartbeat_s
    tick = resumed = time.monotonic()
    while not self._stopped.wait(self._interval):
      now, last_tick = time.monotonic(), tick
      tick = now
      if now - last_tick > 3 * self._interval:  # this process was not running: not the others' fault
        resumed = now
      heard = dict(self._heard)
      answered = max(heard[me], resumed)
      silent = sorted(p for p, t in heard.items() if p != me and answered - max(t, resumed) > limit)
      if now - answered > limit:
        why = (f"the coordinator at {self._cluster.coordinator} (process 0) has not answered for "
               f"{limit} s: dead, frozen or unreachable")
      elif silent:
        who = f"process {silent[0]} has" if len(silent) == 1 else f"processes {silent} have"
        why = f"{who} been silent for {limit} s: dead, frozen or unreachable"
      else:
        continue
      exit_now(self._cluster.stopped(why))
