"""The workdir: one run's home, checked and locked before any mode touches it.

Rules, so that no mistake or fault corrupts a workdir or strands it:
- `check_path`: the workdir is a directory (or can become one); a user's slip is one clear line.
- `check_config`: every mode compares the config with the run recorded in `config.json`; scoring
  or rebuilding a trained workdir under other settings would mix two runs' outputs, so it is refused.
- `lock`: a mode that writes holds `W/.mirjax.lock` (pid, host, start time) for its whole run. A
  second run is refused at once, naming the holder; a lock whose process is gone is taken over.
- `check_inputs`: a universe's prospective models are refused when they were trained on another
  version of their inputs: their checkpoints have the same shapes and would restore and score wrong.
- `write_header`: only modes that train (re)write `config.json`; `--mode=dataset` writes it only into
  a workdir that has none.
"""

import contextlib
import datetime
import json
import os
import socket
import tempfile
import time

from absl import logging

from mirjax import atomic, cluster, provenance
from mirjax import config as config_lib
from mirjax.errors import ConfigError, MirjaxError

MODES = ("train", "dataset", "predict", "query")  # query only reads; the others hold the lock
HEADER = "config.json"
LOCK = ".mirjax.lock"
# Layout of config.json. Schema 1 (no "schema" key) kept the classifier's settings under `lstm`
# and its checkpoints under checkpoints/lstm; this version cannot restore those models.
SCHEMA = 2


class WorkdirBusyError(MirjaxError):
  """Another live run holds the workdir."""


def check_path(path: str, must_exist: bool) -> None:
  """Raises MirjaxError unless `path` is (or, when not must_exist, may become) a workdir."""
  if not path or not path.strip():
    raise MirjaxError("--workdir is empty: name a directory for the run's outputs, e.g. "
                      "--workdir=runs/quick.")
  if os.path.exists(path) and not os.path.isdir(path):
    raise MirjaxError(f"--workdir={path} is a file, not a directory; name a directory.")
  if must_exist and not os.path.isdir(path):
    raise MirjaxError(f"--workdir={path} does not exist; run --mode=train with the same --config "
                      "there first.")


def recorded(path: str) -> dict | None:
  """The header (config.json) of the run recorded in `path`, or None if there is none."""
  header = os.path.join(path, HEADER)
  if not os.path.exists(header):
    return None
  try:
    with open(header, encoding="utf-8") as f:
      return json.load(f)
  except (OSError, json.JSONDecodeError) as e:
    raise MirjaxError(f"{header} cannot be read ({e}); the workdir's record is damaged. Use a new "
                      "--workdir.") from None


def check_config(path: str, config) -> None:
  """Refuses a config whose training settings differ from the run recorded in `path`."""
  header = recorded(path)
  if header is None:
    return
  if header.get("schema") != SCHEMA:
    raise ConfigError(
        f"{path} was written by an older mirjax (its config.json has schema "
        f"{header.get('schema', 1)}, this version writes {SCHEMA}: the classifier settings moved "
        "from `lstm` to `classifier`, and its checkpoints from checkpoints/lstm to "
        "checkpoints/classifier), so its models cannot be restored. Use a new --workdir.")
  differ = config_lib.training_differences(header["config"], config)
  if differ:
    raise ConfigError(
        f"{path} holds a run with a different config ({'; '.join(differ[:8])}). Pass the same "
        "--config and overrides as that run, or use a new --workdir.")


def check_inputs(path: str, inputs: int, what: str) -> None:
  """Refuses a workdir whose recorded models read version `inputs` of their inputs under another
  version (`what` says what the current version changed); a workdir without models passes."""
  header = recorded(path)
  if header is None or header.get("mode") == "dataset":
    return
  got = header.get("model_inputs")
  if got != inputs:
    raise ConfigError(
        f"{path} holds models trained on version {got or 'older than 3'} of the prospective model's "
        f"inputs; this mirjax reads version {inputs} ({what}), so they cannot be reused. Train "
        "again in a new --workdir.")


def write_header(config, path: str, mode: str, model_inputs: int | None = None) -> None:
  """W/config.json; `model_inputs`: the version of the inputs its models read (universes)."""
  atomic.write_json(os.path.join(path, HEADER), {
      "schema": SCHEMA,
      "model_inputs": model_inputs,
      "mode": mode,
      "config": config.to_dict(),
      "seeds": {"train": config.seed, "data": config.data.seed},
      "versions": provenance.versions(),
      "devices": provenance.devices(),
      "started_unix": time.time(),
  })


def _process_start(pid: int) -> str | None:
  """The kernel's start time of `pid` (Linux), which tells a live holder from a reused pid."""
  try:
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
      return f.read().rsplit(")", 1)[1].split()[19]
  except (OSError, IndexError):
    return None


def _alive(holder: dict) -> bool:
  if holder.get("host") != socket.gethostname():
    return True  # cannot be checked from here
  pid = int(holder.get("pid", -1))
  try:
    os.kill(pid, 0)
  except ProcessLookupError:
    return False
  except PermissionError:
    pass  # alive, another user's
  except (OverflowError, ValueError):
    return False
  start = _process_start(pid)
  return start is None or holder.get("process_start") in (None, start)


def _describe(holder: dict) -> str:
  if not holder:  # an empty or damaged lock file (a copy, a full disk): its holder is unknown
    return "its lock file names no holder"
  processes = holder.get("processes", 1)
  return (f"pid {holder.get('pid')} on {holder.get('host')}"
          f"{f' (process 0 of {processes})' if processes > 1 else ''}, mode {holder.get('mode')}, "
          f"started {holder.get('started')}")


def _read_lock(lock_path: str) -> dict | None:
  try:
    with open(lock_path, encoding="utf-8") as f:
      return json.load(f)
  except FileNotFoundError:
    return None
  except (OSError, json.JSONDecodeError):
    return {}  # unreadable: treated as held by an unknown, live process


@contextlib.contextmanager
def lock(path: str, mode: str):
  """Holds the workdir for one run of a writing mode; see the module docstring. In a run of several
  processes, process 0 holds it for all of them (the others never write)."""
  if not cluster.is_writer():
    yield
    return
  import jax  # here: reading a workdir's record (a query) needs no JAX
  created = not os.path.exists(path)
  try:
    os.makedirs(path, exist_ok=True)
  except OSError as e:
    raise MirjaxError(f"--workdir={path} cannot be created ({e.strerror}); choose a writable "
                      "location.") from None
  if not os.access(path, os.W_OK | os.X_OK):
    raise MirjaxError(f"--workdir={path} is not writable, and --mode={mode} writes there; use a "
                      "writable workdir (--mode=query reads a read-only one).")
  lock_path = os.path.join(path, LOCK)
  me = {"pid": os.getpid(), "host": socket.gethostname(), "mode": mode,
        "processes": jax.process_count(),  # process 0 holds the lock for all of them
        "started": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "process_start": _process_start(os.getpid())}
  try:
    _acquire(lock_path, me)
  except BaseException:
    _remove_if_empty(path, created)
    raise
  try:
    yield
  finally:
    if _read_lock(lock_path) == me:
      os.remove(lock_path)
    _remove_if_empty(path, created)


def _remove_if_empty(path: str, created: bool) -> None:
  """A workdir this run created and left empty (it stopped before writing anything) is removed:
  an empty directory would look like a run."""
  if created:
    with contextlib.suppress(OSError):
      os.rmdir(path)  # only if empty


def _acquire(lock_path: str, me: dict) -> None:
  """Creates the lock file complete in one step (a hard link of a written file), or refuses."""
  for _ in range(3):
    fd, tmp = tempfile.mkstemp(prefix=f"{os.path.basename(lock_path)}.",
                               dir=os.path.dirname(lock_path))
    try:
      os.fchmod(fd, 0o666 & ~atomic.UMASK)  # readable by another user's run, as before
      with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(me, f)
        f.flush()
        os.fsync(f.fileno())
      os.link(tmp, lock_path)  # the lock appears complete, or not at all
      return
    except FileExistsError:
      pass
    finally:
      os.remove(tmp)
    holder = _read_lock(lock_path)
    if holder is None:
      continue  # released meanwhile
    if _alive(holder):
      raise WorkdirBusyError(
          f"--workdir={os.path.dirname(lock_path)} is in use by another run ({_describe(holder)}); "
          f"wait for it to finish or use another --workdir. If that run is gone, delete {lock_path}.")
    logging.warning("taking over the lock of a run that is gone (%s).", _describe(holder))
    if _read_lock(lock_path) == holder:
      with contextlib.suppress(FileNotFoundError):
        os.remove(lock_path)
  raise WorkdirBusyError(f"{lock_path}: could not take the workdir lock; another run is starting "
                         "there. Use another --workdir.")
