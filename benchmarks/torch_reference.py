"""The obvious PyTorch implementation of the classifier, for comparison: `nn.LSTM(num_layers=3)`.

Same architecture and sizes as mirjax's classifier (inputs read as steps x features, last hidden
state -> Linear(2)), same optimizer (Adam) and loss (cross-entropy), trained in a plain Python loop.
torch is a benchmark-only dependency (requirements-bench.txt).

Its speed depends on glibc's malloc: with default settings, one fresh process runs ~1.6x faster than
the next (measured on this machine, 5 of 7 processes at 5,700-6,100 samples/s, 2 at 9,600-9,700),
because malloc adapts its mmap threshold to the first blocks freed and PyTorch's per-step buffers
then come either from the heap or from fresh mmaps that page-fault on every step. With the
thresholds fixed (`fix_malloc_thresholds`, or MALLOC_MMAP_THRESHOLD_=33554432
MALLOC_TRIM_THRESHOLD_=1073741824 in the environment) every process runs at the fast speed.

Run alone (a fresh process, as a user would):
  python -m benchmarks.torch_reference [--torch_fixed_malloc] [--torch_threads=1] [--torch_bf16]
prints one JSON line {"samples_per_s": ..., "fixed_malloc": ..., "start": ..., "end": ...}.
A user running K folds on a K-core machine would start one single-threaded process per core
(--torch_threads=1); benchmarks/throughput.py starts them together (--torch_start_at) and sums them.
--torch_bf16 runs forward and loss under torch.autocast(bfloat16), PyTorch's mixed precision on CPU.
"""

import ctypes
import ctypes.util
import json
import statistics
import time

import numpy as np
import torch
from absl import app, flags
from torch import nn

# Prefixed: benchmarks.throughput imports this module next to its own flags.
_FIXED_MALLOC = flags.DEFINE_bool("torch_fixed_malloc", False, "Fix glibc's malloc thresholds first.")
_BATCHES = flags.DEFINE_integer("torch_batches", 40, "Minibatches of 128 per timed epoch.")
_REPEATS = flags.DEFINE_integer("torch_repeats", 5, "Timed epochs (median reported).")
_THREADS = flags.DEFINE_integer("torch_threads", 0, "torch.set_num_threads (0: PyTorch's default).")
_BF16 = flags.DEFINE_bool("torch_bf16", False, "Forward and loss under bfloat16 autocast.")
_START_AT = flags.DEFINE_float("torch_start_at", 0.0, "Wait after the warm-up until this Unix "
                               "time, so that processes started together time the same window.")


class TorchLSTMClassifier(nn.Module):

  def __init__(self, step_features: int, hidden: int, layers: int):
    super().__init__()
    self.lstm = nn.LSTM(step_features, hidden, num_layers=layers, batch_first=True)
    self.head = nn.Linear(hidden, 2)
    self.step_features = step_features

  def forward(self, x):
    out, _ = self.lstm(x.view(x.shape[0], -1, self.step_features))
    return self.head(out[:, -1])


def make_epoch(*, n_samples: int, in_dim: int, step_features: int, hidden: int, layers: int,
               batch_size: int, seed: int = 0, bf16: bool = False, device: str = "cpu"):
  """Returns `epoch()`: one shuffled pass of full batches over random data, on `device` (on
  "cuda", nn.LSTM runs cuDNN's fused kernels); and samples per call. `epoch()` returns the last
  loss as a Python float, so it waits for the device."""
  torch.manual_seed(seed)
  rng = np.random.default_rng(seed)
  x = torch.from_numpy(rng.normal(size=(n_samples, in_dim)).astype(np.float32)).to(device)
  y = torch.from_numpy(rng.integers(0, 2, n_samples)).to(device)
  model = TorchLSTMClassifier(step_features, hidden, layers).to(device)
  opt = torch.optim.Adam(model.parameters(), lr=1e-3)
  loss_fn = nn.CrossEntropyLoss()
  n_batches = n_samples // batch_size

  def epoch():
    perm = torch.randperm(n_samples, device=device)
    for b in range(n_batches):
      idx = perm[b * batch_size:(b + 1) * batch_size]
      opt.zero_grad(set_to_none=True)
      with torch.autocast(torch.device(device).type, dtype=torch.bfloat16, enabled=bf16):
        loss = loss_fn(model(x[idx]), y[idx])
      loss.backward()
      opt.step()
    return loss.item()

  return epoch, n_batches * batch_size


def fix_malloc_thresholds() -> bool:
  """Fixes glibc's mmap and trim thresholds in this process (True if glibc accepted both)."""
  libc = ctypes.CDLL(ctypes.util.find_library("c"))
  m_trim_threshold, m_mmap_threshold = -1, -3  # from <malloc.h>
  return bool(libc.mallopt(m_mmap_threshold, 32 << 20) and libc.mallopt(m_trim_threshold, 1 << 30))


def main(argv):
  del argv
  fixed = fix_malloc_thresholds() if _FIXED_MALLOC.value else False
  if _THREADS.value:
    torch.set_num_threads(_THREADS.value)
  from benchmarks import throughput  # the paper's sizes; imports JAX but runs nothing on it
  epoch, samples = make_epoch(
      n_samples=128 * _BATCHES.value, in_dim=throughput.IN_DIM,
      step_features=throughput.STEP_FEATURES, hidden=throughput.HIDDEN, layers=throughput.LAYERS,
      batch_size=128, bf16=_BF16.value)
  epoch()  # warm-up
  time.sleep(max(0.0, _START_AT.value - time.time()))
  start, times = time.time(), []
  for _ in range(_REPEATS.value):
    t = time.perf_counter()
    epoch()
    times.append(time.perf_counter() - t)
  print(json.dumps({"samples_per_s": samples / statistics.median(times), "fixed_malloc": fixed,
                    "samples": samples * len(times), "start": start, "end": time.time(),
                    "late": start > _START_AT.value + 1.0 if _START_AT.value else False}))


if __name__ == "__main__":
  app.run(main)
