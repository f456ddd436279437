"""Atomic file output: a reader sees either the old file or the complete new one.

Every artifact mirjax writes (JSON reports, CSV tables, plots, cached inputs) goes through
these helpers, so a run killed half-way never leaves a truncated file behind. In a run of several
processes only process 0 writes (mirjax/cluster.py): the others write into a private temporary
directory that is dropped, so their code paths stay the same and nothing races.
"""

import contextlib
import errno
import json
import os
import tempfile
from typing import Any, Iterator

from mirjax import cluster

UMASK = os.umask(0)  # read the process umask (the only portable way), then restore it
os.umask(UMASK)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, every_process: bool = False) -> Iterator[str]:
  """Yields a temporary path in the target's directory; renames it over `path` on success.

  On any exception the temporary file is removed and `path` is left untouched. On a process that
  does not write the workdir (cluster.is_writer), `path` is never touched, unless every_process
  (a file each process needs itself, such as a fetched input in its host's cache).
  """
  if not (every_process or cluster.is_writer()):
    with tempfile.TemporaryDirectory(prefix="mirjax-not-writer-") as scratch:
      yield os.path.join(scratch, os.path.basename(os.fspath(path)))
    return
  path = os.fspath(path)
  directory = os.path.dirname(os.path.abspath(path))
  os.makedirs(directory, exist_ok=True)
  suffix = os.path.splitext(path)[1]  # keeps e.g. '.png' so writers can infer the format
  fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=f".tmp{suffix}", dir=directory)
  os.close(fd)
  os.chmod(tmp, 0o666 & ~UMASK)  # mkstemp makes 0600; give outputs the usual permissions
  try:
    yield tmp
    with open(tmp, "rb") as f:
      os.fsync(f.fileno())
    os.replace(tmp, path)
  except BaseException as e:
    with contextlib.suppress(FileNotFoundError):
      os.remove(tmp)
    if isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT):
      raise OSError(e.errno, os.strerror(e.errno), path) from e  # name the output, not the temp
    raise


def write_text(path: str | os.PathLike, text: str) -> None:
  with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as f:
    f.write(text)


def write_json(path: str | os.PathLike, obj: Any) -> None:
  write_text(path, json.dumps(obj, indent=2, sort_keys=False, default=_json_default) + "\n")


def _json_default(obj: Any) -> Any:
  """Lets numpy scalars and arrays go into JSON without callers converting them."""
  if hasattr(obj, "tolist"):
    return obj.tolist()
  raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")
