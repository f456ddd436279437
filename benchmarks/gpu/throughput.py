"""Training throughput on one accelerator: the replica axis against PyTorch cuDNN, replicas 1 → 90,
float32 / TF32 / bfloat16, device memory, and the paper protocol's time extrapolated from timed
epochs.

Run by benchmarks/gpu/run.sh; alone:
  python -m benchmarks.gpu.throughput --out=DIR [--smoke]
Writes DIR/throughput.json. --smoke: two tiny replica counts and few batches, so that CI can run
it on a CPU. Timings exclude compilation (reported apart) and are medians of interleaved timed
epochs (benchmarks/throughput.py says how); nothing asserts a time.

Precision: mirjax's float32 rows are true float32 (placement.MATMUL_PRECISION); the TF32 row is
what JAX would do on this GPU by default. PyTorch runs as it comes (cuDNN may use TF32 for float32
RNNs unless `torch.backends.cudnn.allow_tf32` is off), plus a row with TF32 off.
"""

import importlib.util
import os
import time

import jax
from absl import app, flags, logging

from benchmarks import throughput as cpu_bench
from benchmarks.gpu import vmapped
from mirjax import atomic, placement, provenance

# --out, --repeats and --batches are benchmarks.throughput's flags (defined when it is imported).
_SMOKE = flags.DEFINE_bool("smoke", False, "Tiny sizes: a CPU smoke run (CI).")
FLAGS = flags.FLAGS

FOLDS, BATCH = cpu_bench.PAPER["folds"], cpu_bench.PAPER["lstm_batch"]
REPLICAS, BF16_REPLICAS = (1, FOLDS, 20, 90), (FOLDS, 90)
SMOKE_REPLICAS, SMOKE_BF16_REPLICAS = (1, 2), (2,)
AE = f"mirjax autoencoder, {{n}} folds vmapped (batch {cpu_bench.PAPER['ae_batch']})"


def torch_device() -> str | None:
  """'cuda' where PyTorch sees a GPU, 'cpu' in a smoke run without one, else None (no rows)."""
  if importlib.util.find_spec("torch") is None:
    return None
  import torch
  return "cuda" if torch.cuda.is_available() else ("cpu" if _SMOKE.value else None)


def torch_sequential(n_models: int, n_batches: int, device: str, *, bf16: bool = False,
                     tf32: bool = True):
  """`n_models` PyTorch models trained one epoch each, one after another (as a user would loop over
  folds)."""
  import torch
  from benchmarks import torch_reference
  epochs = [torch_reference.make_epoch(
      n_samples=BATCH * n_batches, in_dim=cpu_bench.IN_DIM, step_features=cpu_bench.STEP_FEATURES,
      hidden=cpu_bench.HIDDEN, layers=cpu_bench.LAYERS, batch_size=BATCH, seed=m, bf16=bf16,
      device=device) for m in range(n_models)]

  def run():
    before = torch.backends.cudnn.allow_tf32
    torch.backends.cudnn.allow_tf32 = tf32
    try:
      for epoch, _ in epochs:
        epoch()
    finally:
      torch.backends.cudnn.allow_tf32 = before
  return run, sum(samples for _, samples in epochs)


def torch_info() -> dict | None:
  if importlib.util.find_spec("torch") is None:
    return None
  import torch
  return {"version": torch.__version__, "cuda": torch.version.cuda,
          "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
          "cudnn_allow_tf32_default": torch.backends.cudnn.allow_tf32,
          "matmul_allow_tf32_default": torch.backends.cuda.matmul.allow_tf32}


def main(argv):
  del argv
  placement.configure(1)  # float32 matmuls; a CPU (smoke run) as one device, as a GPU is one
  smoke = _SMOKE.value
  n_batches = 2 if smoke else FLAGS.batches
  repeats = 2 if smoke else FLAGS.repeats
  replicas = SMOKE_REPLICAS if smoke else REPLICAS
  bf16_replicas = SMOKE_BF16_REPLICAS if smoke else BF16_REPLICAS
  folds = replicas[1]  # the paper's 5 folds (2 in the smoke run)
  flops = cpu_bench.lstm_flops_per_sample()

  # Every setup is compiled (and its compile timed) before any is timed.
  setups, meta = {}, {}

  def add(name, make, **info):
    t = time.perf_counter()
    made = make()
    if made is None:
      return
    setups[name] = made
    meta[name] = {"compile_s": time.perf_counter() - t, **info}

  for r in replicas:
    add(vmapped(r), lambda r=r: cpu_bench.mirjax_lstm_epoch(r, BATCH, n_batches, 1, "vmap"),
        replicas=r, precision="float32", engine="mirjax")
  add(f"mirjax, {folds} folds one after another (lax.map)",
      lambda: cpu_bench.mirjax_lstm_epoch(folds, BATCH, n_batches, 1, "map"),
      replicas=folds, precision="float32", engine="mirjax")
  for r in bf16_replicas:
    add(vmapped(r) + ", bfloat16 matmuls", lambda r=r: cpu_bench.mirjax_lstm_epoch(
        r, BATCH, n_batches, 1, "vmap", matmul_dtype="bfloat16"),
        replicas=r, precision="bfloat16", engine="mirjax")

  def tf32_epoch():
    with jax.default_matmul_precision("tensorfloat32"):  # compiled here, so the setting sticks
      return cpu_bench.mirjax_lstm_epoch(folds, BATCH, n_batches, 1, "vmap")
  add(vmapped(folds) + ", TF32 matmuls (JAX's GPU default)", tf32_epoch,
      replicas=folds, precision="tf32", engine="mirjax")
  device = torch_device()
  torch_one = torch_folds = None
  if device:
    lstm = "PyTorch cuDNN nn.LSTM" if device == "cuda" else "PyTorch nn.LSTM (CPU)"
    torch_one, torch_folds = f"{lstm}, one model", f"{lstm}, {folds} models one after another"
    default = "float32 (PyTorch's default: cuDNN may use TF32)"
    add(torch_one, lambda: torch_sequential(1, n_batches, device), replicas=1, precision=default,
        engine="pytorch")
    add(torch_folds, lambda: torch_sequential(folds, n_batches, device), replicas=folds,
        precision=default, engine="pytorch")
    add(torch_folds + ", TF32 off", lambda: torch_sequential(folds, n_batches, device, tf32=False),
        replicas=folds, precision="float32", engine="pytorch")
    add(torch_folds + ", bf16 autocast", lambda: torch_sequential(folds, n_batches, device,
                                                                  bf16=True),
        replicas=folds, precision="bfloat16", engine="pytorch")
  ae = AE.format(n=folds)
  add(ae, lambda: cpu_bench.mirjax_ae_epoch(folds, cpu_bench.PAPER["ae_batch"],
                                            4 if smoke else 100),
      replicas=folds, precision="float32", engine="mirjax")

  logging.info("timing %d setups, %d repeats each", len(setups), repeats)
  med = cpu_bench.interleaved_medians({k: fn for k, (fn, _) in setups.items()}, repeats)
  rows = []
  for name, (fn, samples) in setups.items():
    sps = samples / med[name]
    row = {"setup": name, "samples_per_s": sps, "epoch_s": med[name], **meta[name],
           "program_bytes": getattr(fn, "program_bytes", None)}
    if name != ae:
      row["gflops"] = sps * flops / 1e9
    rows.append(row)
  by_name = {r["setup"]: r for r in rows}
  for r in rows:
    lstm = r["setup"] != ae
    for key, ref in (("vs_pytorch_one_model", torch_one), ("vs_pytorch_folds_sequential",
                                                           torch_folds)):
      r[key] = r["samples_per_s"] / by_name[ref]["samples_per_s"] if ref and lstm else None
    r["vs_one_replica"] = (r["samples_per_s"] / by_name[vmapped(1)]["samples_per_s"]
                           if r["engine"] == "mirjax" and lstm else None)

  # The paper protocol (AE + LSTM, 200 + 200 epochs, 5 folds vmapped), from the timed epochs; the
  # end-to-end run (run.sh) adds scoring, validation, checkpoints and the host's share.
  paper = cpu_bench.PAPER
  ae_s = paper["ae_fit_pairs"] * FOLDS * paper["ae_epochs"] / by_name[ae]["samples_per_s"]
  extrapolated = {}
  for precision, name in (("float32", vmapped(folds)),
                          ("bfloat16", vmapped(folds) + ", bfloat16 matmuls")):
    lstm_s = paper["lstm_train_pairs"] * FOLDS * paper["lstm_epochs"] / by_name[name]["samples_per_s"]
    extrapolated[precision] = {"lstm_s": lstm_s, "ae_s": ae_s, "total_s": lstm_s + ae_s}

  out = {"date": time.strftime("%Y-%m-%d"), "smoke": smoke, "host": provenance.devices(),
         "versions": provenance.versions(), "torch": torch_info(), "batches_per_epoch": n_batches,
         "repeats": repeats, "flops_per_sample": flops, "rows": rows,
         "paper_protocol_extrapolated": extrapolated,
         "device_memory_stats": jax.devices()[0].memory_stats()}
  os.makedirs(FLAGS.out, exist_ok=True)
  atomic.write_json(os.path.join(FLAGS.out, "throughput.json"), out)
  for r in rows:
    print(f"{r['setup']:<70} {r['samples_per_s']:>12,.0f} samples/s")


if __name__ == "__main__":
  app.run(main)
