"""Several processes (one per host) as one JAX runtime, and which of them writes the workdir.

`jax.distributed` joins the processes: `jax.devices()` then lists every process's devices, the
replica mesh (mirjax/placement.py) spans them all, and each process runs the same program on its
own devices. On CPUs the cross-process collectives go through gloo. Every process computes every
result (they are gathered to all of them), but only process 0 writes the workdir: the other
processes' writes (mirjax/atomic.py) go to a private temporary directory and are dropped, and orbax
writes each checkpoint once, from process 0, after every process has reached it.

Before JAX joins them, the processes answer a roll call (`roll_call`) on the coordinator's port:
process 0 listens, every other process checks in with its resolved config, and process 0 answers
'go' once all have, each config equal to its own. A port in use, a process that never checks in
within `heartbeat_s`, or a config that differs stops every process with one line naming it (JAX's
own join would wait minutes and then abort from C++, or hang on mismatched programs).

If a process dies later, the others stop with one line instead of waiting for it forever, and
rerunning the same commands resumes from the last checkpoint. A peer that exits closes its sockets,
and the collective waiting on it fails at once (launch.py turns that into the line). A peer that
freezes or drops off the network closes nothing: `Watchdog` notices its silence after `heartbeat_s`.
"""

import dataclasses
import errno
import json
import os
import shlex
import socket
import sys
import threading
import time

from mirjax.errors import ConfigError, MirjaxError

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


def initialize(cluster: Cluster, resolved: dict | None = None) -> None:
  """Joins the cluster; call before JAX's first operation (after placement.configure). `config`:
  this process's resolved config, which every process must share (`roll_call`)."""
  if not cluster.distributed:
    return
  if not cluster.coordinator or not 0 <= cluster.process_id < cluster.num_processes:
    raise ConfigError(
        f"--num_processes={cluster.num_processes} needs --coordinator=HOST:PORT (process 0's "
        f"address) and --process_id in 0..{cluster.num_processes - 1}; got "
        f"--coordinator={cluster.coordinator!r} --process_id={cluster.process_id}.")
  roll_call(cluster, resolved or {})
  import jax  # JAX is imported where it is used: `is_writer` serves runs that never start it
  # The one use of JAX internals: the distributed runtime's client has no public accessor (orbax
  # reaches it the same way), and the watchdog needs its key-value store.
  from jax._src import distributed as jax_distributed
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


# Config fields a process may set for its own host: where it finds its inputs.
HOST_FIELDS = ("data.dir",)


def _flat(config: dict, prefix: str = "") -> dict:
  out = {}
  for key, value in config.items():
    if isinstance(value, dict):
      out.update(_flat(value, f"{prefix}{key}."))
    elif f"{prefix}{key}" not in HOST_FIELDS:
      out[f"{prefix}{key}"] = list(value) if isinstance(value, tuple) else value
  return out


def first_difference(mine: dict, theirs: dict) -> str | None:
  """'field: a vs b' for the first field (in sorted order) two flattened configs disagree on."""
  for key in sorted(set(mine) | set(theirs)):
    if mine.get(key) != theirs.get(key):
      return f"{key}: {mine.get(key)!r} vs {theirs.get(key)!r}"
  return None


def _command_for(process_id: int) -> str:
  """This process's command line, as it was typed, with --process_id set to `process_id`."""
  args = [a for a in sys.orig_argv if not a.startswith("--process_id")]
  return shlex.join([*args, f"--process_id={process_id}"])


def _address(coordinator: str) -> tuple[str, int]:
  host, _, port = coordinator.rpartition(":")
  if not host or not port.isdigit():
    raise ConfigError(f"--coordinator={coordinator!r} is not HOST:PORT.")
  return host, int(port)


def _send(conn: socket.socket, message: dict) -> None:
  conn.sendall((json.dumps(message) + "\n").encode())


def _receive(conn: socket.socket) -> dict | None:
  data = b""
  while not data.endswith(b"\n"):
    chunk = conn.recv(65536)
    if not chunk:
      return None
    data += chunk
  return json.loads(data)


def roll_call(cluster: Cluster, resolved: dict) -> None:
  """Every process checks in with process 0 on the coordinator's port before JAX joins them (see
  the module docstring); raises MirjaxError with the one line otherwise."""
  host, port = _address(cluster.coordinator)
  mine = {"process_id": cluster.process_id, "config": _flat(resolved)}
  limit = cluster.heartbeat_s
  if cluster.process_id == 0:
    _call_the_roll(port, cluster, mine)
    return
  deadline = time.monotonic() + limit
  while True:
    try:
      conn = socket.create_connection((host, port), timeout=max(0.1, deadline - time.monotonic()))
      break
    except OSError:
      if time.monotonic() > deadline:
        raise MirjaxError(
            f"process {cluster.process_id} of {cluster.num_processes}: the coordinator (process 0) "
            f"at {cluster.coordinator} did not answer within {limit} s. Start process 0 on that "
            f"host: {_command_for(0)}") from None
      time.sleep(0.2)
  with conn:
    conn.settimeout(3 * limit)  # process 0 waits up to `limit` for the others, then answers
    _send(conn, mine)
    try:
      answer = _receive(conn)
    except (OSError, ValueError):
      answer = None
  if answer is None:
    raise MirjaxError(f"process {cluster.process_id} of {cluster.num_processes}: the coordinator "
                      f"(process 0) at {cluster.coordinator} closed the roll call without an "
                      "answer; see its output.")
  if "stop" in answer:
    raise MirjaxError(answer["stop"])


def _call_the_roll(port: int, cluster: Cluster, mine: dict) -> None:
  n, limit = cluster.num_processes, cluster.heartbeat_s
  listener = socket.socket(socket.AF_INET6 if ":" in cluster.coordinator.rpartition(":")[0]
                           else socket.AF_INET)
  listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
  try:
    listener.bind(("", port))
  except OSError as e:
    listener.close()
    if e.errno == errno.EADDRINUSE:
      raise MirjaxError(
          f"--coordinator={cluster.coordinator}: port {port} is already in use on this host (by "
          "another run, or a process left over from one). Pick a free port and give every "
          "process the same --coordinator.") from None
    raise MirjaxError(f"--coordinator={cluster.coordinator}: cannot listen on port {port} "
                      f"({e.strerror}).") from None
  joined: dict[int, socket.socket] = {}
  stop = None
  with listener:
    listener.listen(n)
    deadline = time.monotonic() + limit
    while len(joined) < n - 1 and stop is None:
      listener.settimeout(max(0.01, deadline - time.monotonic()))
      try:
        conn, _ = listener.accept()
        conn.settimeout(limit)
        theirs = _receive(conn)
      except (OSError, ValueError):
        if time.monotonic() < deadline:
          continue
        missing = [p for p in range(1, n) if p not in joined]
        who = (f"process {missing[0]}" if len(missing) == 1 else f"processes {missing}")
        stop = (f"{who} of {n} never joined within {limit} s (--heartbeat_s). Start it on its "
                f"host with the same command and its own --process_id, e.g.: "
                f"{_command_for(missing[0])}")
        break
      if theirs is None:
        conn.close()
        continue
      k = int(theirs["process_id"])
      if k in joined or k == 0 or k >= n:
        stop = (f"two processes claim --process_id={k} (of --num_processes={n}); give each "
                "process its own id in 1.." f"{n - 1} (0 is the coordinator's).")
      elif (difference := first_difference(mine["config"], theirs["config"])) is not None:
        stop = (f"process {k}'s config differs from process 0's ({difference}, process 0's value "
                "first). Start every process with the same --config and overrides.")
      joined[k] = conn
    for conn in joined.values():
      with conn:
        try:
          _send(conn, {"stop": stop} if stop else {"go": True})
        except OSError:
          pass
  if stop:
    raise MirjaxError(stop)


def finish() -> None:
  """Ends this process's part in the run (a no-op for one process): posts 'done' (from then on its
  silence is no fault), waits at JAX's shutdown barrier for the others with the watchdog still
  watching them, then stops the watchdog. Left to the interpreter's exit, a watchdog thread caught
  inside a jaxlib call aborts the whole process ('terminate called ...'), a finished run included."""
  watchdog = _state["watchdog"]
  if watchdog is None:
    return
  watchdog.finish()
  import jax
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
      except RuntimeError:  # jax.errors.JaxRuntimeError
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
