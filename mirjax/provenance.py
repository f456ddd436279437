"""What a run records about itself: package versions, devices and host, for config.json."""

import importlib.metadata
import os
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


# CPU features that decide which matmul kernels (and so which precision) are fast on a host.
CPU_FLAGS = ("avx2", "avx512f", "avx512_bf16", "avx_vnni", "amx_bf16", "amx_tile")


def cpu() -> dict:
  """The host CPU as /proc/cpuinfo names it (Linux; else what `platform` knows): model, logical
  cores, and which of CPU_FLAGS it has. Timings are only comparable on the same model."""
  info = {"model": platform.processor() or platform.machine(), "logical_cores": os.cpu_count(),
          "flags": {}}
  try:
    with open("/proc/cpuinfo", encoding="utf-8") as f:
      text = f.read()
  except OSError:
    return info
  fields = dict(line.split(":", 1) for line in text.split("\n\n")[0].splitlines() if ":" in line)
  fields = {k.strip(): v.strip() for k, v in fields.items()}
  have = set(fields.get("flags", "").split())
  info.update(model=fields.get("model name", info["model"]),
              flags={flag: flag in have for flag in CPU_FLAGS})
  return info


def devices() -> dict:
  """The backend and its devices: kind ('NVIDIA H200', 'cpu') and runtime ('cuda 13000'...)."""
  import jax
  import jax.extend
  return {"backend": jax.default_backend(),
          "devices": [str(d) for d in jax.devices()],  # every process's, in a multi-process run
          "process_count": jax.process_count(),
          "device_kind": jax.devices()[0].device_kind,
          "platform_version": jax.extend.backend.get_backend().platform_version,
          "platform": platform.platform(), "processor": platform.machine(), "cpu": cpu()}


def device_memory() -> dict | None:
  """The peak and the limit of device memory, in bytes, over this process's devices, where the
  backend counts them (GPU: XLA's allocator); None on the CPU, whose memory the host's RSS is."""
  import jax
  stats = [d.memory_stats() for d in jax.local_devices()]
  stats = [s for s in stats if s and "peak_bytes_in_use" in s]
  if not stats:
    return None
  return {"peak_bytes_in_use": max(s["peak_bytes_in_use"] for s in stats),
          "bytes_limit": max(s.get("bytes_limit", 0) for s in stats)}
