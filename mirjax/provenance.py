"""What a run records about itself: package versions, devices and host, for config.json."""

import importlib.metadata
import platform
import sys

PACKAGES = ("mirjax", "jax", "jaxlib", "flax", "optax", "orbax-checkpoint", "numpy", "pandas",
            "ml_collections", "absl-py", "matplotlib")


def versions() -> dict[str, str | None]:
  out = {"python": sys.version.split()[0]}
  for name in PACKAGES:
    try:
      out[name] = importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
      out[name] = None
  if out["mirjax"] is None:  # running from a source checkout that was not pip-installed
    import mirjax
    out["mirjax"] = mirjax.__version__
  return out


def devices() -> dict:
  import jax
  return {"backend": jax.default_backend(),
          "devices": [str(d) for d in jax.devices()],
          "platform": platform.platform(), "processor": platform.machine()}
