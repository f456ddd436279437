"""What a user sees on the terminal: mirjax's progress lines, and one line for a mistake or a fault.

The filter keeps mirjax's own INFO lines (progress, ETA) and every library's warnings and errors,
less orbax's notes that a checkpoint directory is opened read-only (which scoring always does).
It knows mirjax's records by the package's own directory, so a checkout named `mirjax` (whose
virtual environment's libraries then sit under a `mirjax/` directory too) filters the same.
"""

import errno
import logging
import os

import mirjax

_PACKAGE = os.path.dirname(os.path.abspath(mirjax.__file__)) + os.sep
_LAUNCHER = os.path.join(os.path.dirname(_PACKAGE.rstrip(os.sep)), "launch.py")
_READ_ONLY_NOTES = ("read_only=True", "directory is read only")
DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


class ProgressOnly(logging.Filter):

  def filter(self, record: logging.LogRecord) -> bool:
    path = os.path.abspath(record.pathname)
    if path.startswith(_PACKAGE) or path == _LAUNCHER:
      return True
    if record.levelno < logging.WARNING:
      return False
    return not ("orbax" in path and any(n in record.getMessage() for n in _READ_ONLY_NOTES))


def disk_full(error: BaseException) -> bool:
  """Whether `error` (or what caused it: orbax wraps the OSError) says the disk is full."""
  while error is not None:
    if isinstance(error, OSError) and error.errno in DISK_FULL:
      return True
    if "No space left on device" in str(error) or "Disk quota exceeded" in str(error):
      return True
    error = error.__cause__ or error.__context__
  return False


def disk_full_message(error: BaseException, workdir: str) -> str:
  where = getattr(error, "filename", None)
  return (f"the disk is full{f' (writing {where})' if where else ''}. Free space where "
          f"--workdir={workdir} lives and rerun the same command: training resumes from its last "
          "checkpoint. A workdir without results.json is unfinished.")
