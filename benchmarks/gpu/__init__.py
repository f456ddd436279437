"""mirjax on one GPU: benchmarks/gpu/run.sh runs the checks and measurements; throughput.py times
the replica axis against PyTorch cuDNN; report.py writes gpu.json and gpu.md."""


def vmapped(r: int) -> str:
  """The throughput row of r replicas vmapped (float32), as throughput.py names it."""
  return f"mirjax, {r} replica{'s' if r > 1 else ''} vmapped"
