"""mirjax's per-user cache: fetched inputs and built kernels, outside any workdir."""

import os


def root() -> str:
  """`$XDG_CACHE_HOME/mirjax`, by default `~/.cache/mirjax`."""
  base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
  return os.path.join(base, "mirjax")
