"""Training throughput of mirjax's stages against PyTorch and the same-shape GEMM ceiling.

Run (about 12 minutes on 2 CPU cores; --quick for a 2-minute smoke run):
  python -m benchmarks.throughput --out=benchmarks/results
Writes `throughput.json`, `throughput.md` and `replicas.png` into --out.

Every timing excludes compilation (one warm-up call first) and is the median of --repeats timed
calls; the setups are interleaved (A B C A B C ...) so that machine noise hits them alike.
Nothing here asserts a time: it measures and reports.

PyTorch is measured: in this process, interleaved with mirjax, with glibc's malloc thresholds fixed
(its fast and stable mode); alone in a few fresh processes, with the thresholds fixed and with malloc
as it comes (bimodal: see torch_reference.py); and as a user with K folds on K cores would run it,
one single-threaded process per core started together and summed (malloc fixed, as it comes, and
with bfloat16 autocast). "vs PyTorch" divides by the fastest float32 PyTorch row, "vs PyTorch bf16"
by the fastest bfloat16 one. The host's CPU model and its matmul-relevant flags are recorded.

FLOP model (multiply-adds count 2): per LSTM layer and time step, the input projection
2*F*4H plus the recurrent matmul 2*H*4H; the head 2*H*2. Training = 3 x forward (forward, plus
input and weight gradients of the same sizes). Elementwise gate math is not counted.
"""

import importlib.util
import json
import os
import statistics
import subprocess
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
from absl import app, flags, logging

from mirjax import atomic, placement, plots, provenance
from mirjax import config as config_lib
from mirjax.kernels import lstm_onednn
from mirjax.pairwise import models, stages
from mirjax.train import loop

_OUT = flags.DEFINE_string("out", "benchmarks/results", "Output directory.")
_QUICK = flags.DEFINE_bool("quick", False, "Tiny sizes and few repeats: a smoke run.")
_REPEATS = flags.DEFINE_integer("repeats", 5, "Timed calls per setup (median reported).")
_BATCHES = flags.DEFINE_integer("batches", 40, "Minibatches per timed epoch.")
_SWEEP = flags.DEFINE_bool("sweep", True, "Also sweep replicas and batch size.")
_CPU_DEVICES = flags.DEFINE_integer(
    "cpu_devices", 0, "Split the CPU into this many XLA devices, as config.train.cpu_devices "
    "(0: one per core). 1 measures one multithreaded device; 5 the earlier one-device-per-fold "
    "layout.")

_PAPER = config_lib.default_config()  # the paper's model: the shapes every setup here times
STEP_FEATURES, LAYERS, HIDDEN = _PAPER.lstm.step_features, _PAPER.lstm.layers, _PAPER.lstm.hidden
PAIR_DIM = 2 * _PAPER.data.dim  # [miRNA | gene] embeddings
IN_DIM = PAIR_DIM + _PAPER.ae.latent  # the classifier's input: the pair and its latent
TORCH_FIXED = "PyTorch nn.LSTM, one model, in this process (glibc malloc thresholds fixed)"
TORCH_FRESH_FIXED = "PyTorch nn.LSTM, one model, alone (malloc thresholds fixed, median of {n} processes)"
TORCH_FRESH_DEFAULT = "PyTorch nn.LSTM, one model, alone (default glibc malloc, median of {n} processes)"
TORCH_PER_CORE = "PyTorch nn.LSTM{bf16}, {k} processes x 1 thread, one model each, summed ({malloc})"
PAPER = {"folds": _PAPER.data.folds, "lstm_epochs": _PAPER.classifier.epochs,
         "ae_epochs": _PAPER.ae.epochs, "lstm_train_pairs": 24864, "ae_fit_pairs": 19891,
         "ae_batch": _PAPER.ae.batch_size, "lstm_batch": _PAPER.classifier.batch_size}


def lstm_flops_per_sample() -> float:
  """Matmul FLOPs of one training sample of the paper's LSTM (forward, and twice that backward)."""
  steps, hidden = IN_DIM // STEP_FEATURES, HIDDEN
  fwd = steps * (2 * STEP_FEATURES * 4 * hidden + 2 * hidden * 4 * hidden)
  fwd += (LAYERS - 1) * steps * (2 * hidden * 4 * hidden + 2 * hidden * 4 * hidden)
  fwd += 2 * hidden * 2
  return 3.0 * fwd


def _timed(fn) -> float:
  t = time.perf_counter()
  fn()
  return time.perf_counter() - t


def interleaved_medians(setups: dict, repeats: int) -> dict:
  """{name: median seconds per call}; each callable blocks until its work is done."""
  for fn in setups.values():
    fn()  # warm-up: compilation and first-touch allocation are not timed
  times = {name: [] for name in setups}
  for _ in range(repeats):
    for name, fn in setups.items():
      times[name].append(_timed(fn))
  return {name: statistics.median(t) for name, t in times.items()}


def program_bytes(compiled) -> int | None:
  """Device memory a compiled program needs while it runs: its arguments, outputs and temporaries,
  less the donated buffers its outputs reuse (None where the backend does not say, and for a
  `placement.Hybrid` layout's pair of programs)."""
  m = compiled.memory_analysis() if hasattr(compiled, "memory_analysis") else None
  if m is None:
    return None
  return (m.argument_size_in_bytes + m.output_size_in_bytes + m.temp_size_in_bytes
          - m.alias_size_in_bytes)


def _blocking_epochs(epoch_fn, state, data: loop.ReplicaData,
                     place: placement.Placement | placement.Hybrid):
  """A callable advancing `state` by one compiled epoch of all replicas per call (mirjax's real
  training program, placed as `loop.train` places it), blocking until it is done. Its attribute
  `program_bytes` is the compiled epoch's device memory (see `program_bytes`)."""
  n = jax.tree.leaves(state)[0].shape[0]
  box = {"state": place.place(state, n)}
  data = loop.ReplicaData(place.place(data.own, n), place.place(data.shared, n, replicated=True))
  valid = place.valid(n)
  run = loop.compile_epoch(epoch_fn, place, box["state"], data)

  def epoch():
    box["state"], metrics = run(box["state"], data.own, data.shared, valid)
    jax.block_until_ready(metrics)
  epoch.program_bytes = program_bytes(run)
  return epoch


def mirjax_lstm_epoch(n_replicas: int, batch: int, n_batches: int, devices: int = 0,
                      replica_loop: str = "auto", batch_shards: int = 0, hidden: int = HIDDEN,
                      fused_backward: bool = True, matmul_dtype: str = "float32",
                      backend: str = "xla", tx: optax.GradientTransformation | None = None,
                      make_epoch_fn=loop.make_epoch_fn):
  """A callable running one LSTM epoch of all replicas; `devices`, `replica_loop` and
  `batch_shards` as config.train; `tx` (default Adam) and `make_epoch_fn` (default mirjax's training
  epoch) let benchmarks/epoch_profile.py take the epoch apart."""
  n = batch * n_batches
  clf = models.LSTMClassifier(hidden, LAYERS, STEP_FEATURES, fused_backward, matmul_dtype, backend)
  tx = tx or optax.adam(1e-3)
  keys = jax.random.split(jax.random.PRNGKey(0), n_replicas)
  state = jax.vmap(lambda k: loop.init_state(
      clf.init(k, jnp.zeros((2, IN_DIM)))["params"], {}, tx, k))(keys)
  draw = np.random.default_rng(0)
  data = loop.ReplicaData(
      own={"latent": jnp.asarray(draw.normal(size=(n_replicas, n, _PAPER.ae.latent)),
                                 jnp.float32),
           "mean": jnp.zeros((n_replicas, IN_DIM)), "std": jnp.ones((n_replicas, IN_DIM)),
           "fit_idx": jnp.tile(jnp.arange(n, dtype=jnp.int32), (n_replicas, 1)),
           "val_idx": jnp.zeros((n_replicas, 0), jnp.int32)},
      shared={"x": jnp.asarray(draw.normal(size=(n, PAIR_DIM)), jnp.float32),
              "labels": jnp.asarray(draw.integers(0, 2, n), jnp.int32)})
  epoch_fn = make_epoch_fn(stages.classifier_loss_fn(clf), tx, batch, n)
  place = placement.Placement.create(n_replicas, devices, replica_loop, batch, batch_shards)
  return _blocking_epochs(epoch_fn, state, data, place), n_replicas * n


def mirjax_ae_epoch(n_replicas: int, batch: int, n_batches: int):
  n = batch * n_batches
  ae = models.Autoencoder(hidden=tuple(_PAPER.ae.hidden), latent=_PAPER.ae.latent, out_dim=PAIR_DIM)
  tx = optax.adam(1e-3)
  keys = jax.random.split(jax.random.PRNGKey(0), n_replicas)

  def init(k):
    v = ae.init(k, jnp.zeros((2, PAIR_DIM)), train=False)
    return loop.init_state(v["params"], v["batch_stats"], tx, k)
  state = jax.vmap(init)(keys)
  data = loop.ReplicaData(
      own={"fit_idx": jnp.tile(jnp.arange(n, dtype=jnp.int32), (n_replicas, 1)),
           "val_idx": jnp.zeros((n_replicas, 0), jnp.int32)},
      shared={"x": jnp.asarray(np.random.default_rng(0).normal(size=(n, PAIR_DIM)), jnp.float32)})
  epoch_fn = loop.make_epoch_fn(stages.ae_loss_fn(ae), tx, batch, n)
  place = placement.Placement.create(n_replicas)
  return _blocking_epochs(epoch_fn, state, data, place), n_replicas * n


def gemm_call(m: int, k: int, n: int, reps: int):
  """A callable doing `reps` dependent float32 [m,k]x[k,n] matmuls (n >= k) on every device at once.

  Each product feeds the next operand (a tiny m*k add), so XLA cannot hoist the matmul out. Every
  device runs its own chain, as the replicas do, so this is the whole machine's ceiling for GEMMs of
  this shape (with one device: that device's, multithreaded or not).
  """
  mesh = placement.Placement.create(len(jax.devices())).mesh
  d = mesh.size
  rng = np.random.default_rng(0)
  a = rng.normal(size=(d, m, k)).astype(np.float32) / np.sqrt(k)
  b = rng.normal(size=(d, k, n)).astype(np.float32) / np.sqrt(k)

  def loop(a, b):
    a, b = a[0], b[0]
    out = jax.lax.fori_loop(0, reps, lambda _, acc: (a + 1e-9 * acc[:, :k]) @ b,
                            jnp.zeros((m, n), jnp.float32))
    return out[None]
  spec = jax.sharding.PartitionSpec(placement.REPLICA_AXIS)
  sharding = jax.sharding.NamedSharding(mesh, spec)
  a, b = jax.device_put(a, sharding), jax.device_put(b, sharding)
  fn = jax.jit(jax.shard_map(loop, mesh=mesh, in_specs=(spec, spec), out_specs=spec,
                             check_vma=False)).lower(a, b).compile()
  return (lambda: jax.block_until_ready(fn(a, b))), 2.0 * m * k * n * reps * d


def torch_setup(batch: int, n_batches: int):
  """The PyTorch reference in this process, with glibc's malloc thresholds fixed (its fast, stable
  mode; see torch_reference.py). None without torch."""
  try:
    from benchmarks import torch_reference
  except ImportError:
    return None
  torch_reference.fix_malloc_thresholds()
  epoch, samples = torch_reference.make_epoch(
      n_samples=batch * n_batches, in_dim=IN_DIM, step_features=STEP_FEATURES, hidden=HIDDEN,
      layers=LAYERS, batch_size=batch)
  return epoch, samples


def _torch_processes(n: int, n_batches: int, repeats: int, *, fixed_malloc: bool,
                     threads: int = 0, bf16: bool = False, start_at: float = 0.0) -> list[dict]:
  """Starts `n` PyTorch reference processes at once and returns their JSON lines ([] without torch
  or if one fails)."""
  if importlib.util.find_spec("torch") is None:
    return []
  command = [sys.executable, "-m", "benchmarks.torch_reference", f"--torch_batches={n_batches}",
             f"--torch_repeats={repeats}", f"--torch_fixed_malloc={fixed_malloc}",
             f"--torch_threads={threads}", f"--torch_bf16={bf16}", f"--torch_start_at={start_at}"]
  root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  procs = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=root) for _ in range(n)]
  outs = [p.communicate() for p in procs]
  if any(p.returncode for p in procs):
    logging.warning("PyTorch reference process failed: %s",
                    next(err for p, (_, err) in zip(procs, outs) if p.returncode)[-500:])
    return []
  return [json.loads(out.strip().splitlines()[-1]) for out, _ in outs]


def torch_fresh_processes(n: int, n_batches: int, repeats: int, fixed_malloc: bool) -> list[float]:
  """samples/s of the PyTorch reference in `n` fresh processes, one after another, as a user would
  run it: with glibc's malloc as it comes, or with its thresholds fixed ([] without torch)."""
  out = []
  for _ in range(n):
    runs = _torch_processes(1, n_batches, repeats, fixed_malloc=fixed_malloc)
    if not runs:
      break
    out.append(runs[0]["samples_per_s"])
  return out


def torch_per_core(n_batches: int, repeats: int, *, fixed_malloc: bool, bf16: bool) -> dict | None:
  """One single-threaded PyTorch process per core, started together (the timed epochs begin at one
  agreed time, after every process has imported and warmed up): the summed rate is all their
  samples over the window from the first start to the last end, so a straggler only lowers it."""
  cores = len(os.sched_getaffinity(0))
  runs = _torch_processes(cores, n_batches, repeats, fixed_malloc=fixed_malloc, threads=1,
                          bf16=bf16, start_at=time.time() + 20.0)
  if not runs:
    return None
  window = max(r["end"] for r in runs) - min(r["start"] for r in runs)
  return {"processes": cores, "samples_per_s": sum(r["samples"] for r in runs) / window,
          "per_process": [r["samples_per_s"] for r in runs], "late": any(r["late"] for r in runs)}


def main(argv):
  del argv
  cpu_devices = placement.configure(_CPU_DEVICES.value)  # before any JAX op
  quick = _QUICK.value
  repeats = 2 if quick else _REPEATS.value
  n_batches = 4 if quick else _BATCHES.value
  folds = PAPER["folds"]
  flops = lstm_flops_per_sample()
  out = {"host": provenance.devices(), "versions": provenance.versions(), "cpu_devices": cpu_devices,
         "xla_flags": os.environ.get("XLA_FLAGS", ""),
         "flops_per_sample": flops, "repeats": repeats, "batches_per_epoch": n_batches}

  # 1. Same-shape GEMM ceiling (all devices at once): the recurrent [B,H]x[H,4H] and the input
  #    projection [T*B,H]x[H,4H].
  gemms = {"recurrent 128x128x512": gemm_call(128, 128, 512, 200 if quick else 2000),
           "projection 2176x128x512": gemm_call(2176, 128, 512, 20 if quick else 200),
           "square 2048^3": gemm_call(2048, 2048, 2048, 1 if quick else 5)}
  med = interleaved_medians({k: v[0] for k, v in gemms.items()}, repeats)
  out["gemm_gflops"] = {k: gemms[k][1] / med[k] / 1e9 for k in gemms}
  ceiling = out["gemm_gflops"]["recurrent 128x128x512"]
  logging.info("GEMM GFLOP/s: %s", out["gemm_gflops"])

  # 2. LSTM training at the paper's sizes: the default placement (5 folds; when they do not divide
  #    the devices, those that fill them evenly keep whole minibatches and the rest are split), the
  #    same with vmap inside each device, the folds sharded without splitting minibatches (padded),
  #    every minibatch split (the rule before), all folds on one device (vmapped, or one after
  #    another), PyTorch; each optimization switched off (autodiff backward) or on beyond the
  #    default (bfloat16 matmuls, the oneDNN LSTM).
  d, batch = len(jax.devices()), PAPER["lstm_batch"]
  default = placement.Placement.create(folds, batch_size=batch)
  unsplit = placement.Placement.create(folds, batch_size=batch, batch_shards=1)
  split_all = d > 1 and batch % d == 0
  setups = {
      f"mirjax, 5 folds, default placement ({default.describe(folds)})": mirjax_lstm_epoch(
          folds, batch, n_batches),
      "mirjax, 5 folds, default placement, vmapped per device": mirjax_lstm_epoch(
          folds, batch, n_batches, replica_loop="vmap"),
      f"mirjax, 5 folds, minibatches not split ({unsplit.describe(folds)})": mirjax_lstm_epoch(
          folds, batch, n_batches, batch_shards=1),
      "mirjax, 5 folds vmapped on one device": mirjax_lstm_epoch(folds, batch, n_batches, 1, "vmap"),
      "mirjax, 5 folds one after another on one device": mirjax_lstm_epoch(
          folds, batch, n_batches, 1, "map"),
      "mirjax, default placement, scan-autodiff backward": mirjax_lstm_epoch(
          folds, batch, n_batches, fused_backward=False),
      "mirjax, default placement, bfloat16 matmuls": mirjax_lstm_epoch(
          folds, batch, n_batches, matmul_dtype="bfloat16"),
  }
  if split_all:
    every = placement.Placement.create(folds, batch_size=batch, batch_shards=d)
    setups[f"mirjax, 5 folds, every minibatch split ({every.describe(folds)})"] = mirjax_lstm_epoch(
        folds, batch, n_batches, batch_shards=d)
  if lstm_onednn.supports(jnp.float32):  # lstm.backend=onednn: each LSTM layer one oneDNN call
    setups["mirjax, default placement, oneDNN LSTM"] = mirjax_lstm_epoch(
        folds, batch, n_batches, backend="onednn")
  if lstm_onednn.supports(jnp.bfloat16):
    setups["mirjax, default placement, oneDNN LSTM, bfloat16"] = mirjax_lstm_epoch(
        folds, batch, n_batches, matmul_dtype="bfloat16", backend="onednn")
    if split_all:
      setups["mirjax, every minibatch split, oneDNN LSTM, bfloat16"] = mirjax_lstm_epoch(
          folds, batch, n_batches, batch_shards=d, matmul_dtype="bfloat16", backend="onednn")
  if d == 1:  # these would repeat the one-device setups
    setups = {k: v for k, v in setups.items()
              if "vmapped per device" not in k and "not split" not in k}
  ref = torch_setup(batch, n_batches)
  if ref is not None:
    setups[TORCH_FIXED] = ref
  med = interleaved_medians({k: v[0] for k, v in setups.items()}, repeats)
  throughputs = {name: samples / med[name] for name, (_, samples) in setups.items()}
  # PyTorch alone in fresh processes (no JAX runtime beside it), malloc fixed and as it comes (the
  # latter is bimodal, see torch_reference.py); medians go into the table, every process into the JSON.
  out["pytorch_processes"] = {}
  for fixed, label in ((True, TORCH_FRESH_FIXED), (False, TORCH_FRESH_DEFAULT)):
    runs = torch_fresh_processes(1 if quick else 3, n_batches, repeats, fixed)
    out["pytorch_processes"]["fixed_malloc" if fixed else "default_malloc"] = runs
    if runs:
      throughputs[label.format(n=len(runs))] = statistics.median(runs)
  # PyTorch as a user with one fold per core runs it: single-threaded processes, side by side.
  out["pytorch_per_core"] = {}
  for fixed, bf16 in ((True, False), (False, False), (True, True)):
    run = torch_per_core(n_batches, repeats, fixed_malloc=fixed, bf16=bf16)
    if run:
      malloc = "malloc thresholds fixed" if fixed else "default glibc malloc"
      name = TORCH_PER_CORE.format(bf16=" bf16 autocast" if bf16 else "", k=run["processes"],
                                   malloc=malloc)
      out["pytorch_per_core"][name] = run
      throughputs[name] = run["samples_per_s"]
  rows = [{"setup": name, "samples_per_s": sps, "gflops": sps * flops / 1e9,
           "pct_of_gemm_ceiling": 100 * sps * flops / 1e9 / ceiling,
           "precision": "bfloat16" if "bf16" in name or "bfloat16" in name else "float32"}
          for name, sps in throughputs.items()]
  out["lstm"] = rows
  # The reference of each precision is the strongest PyTorch measurement of that precision.
  best_torch = {p: max((r["samples_per_s"] for r in rows
                        if r["setup"].startswith("PyTorch") and r["precision"] == p), default=None)
                for p in ("float32", "bfloat16")}
  for r in rows:
    for key, p in (("vs_pytorch", "float32"), ("vs_pytorch_bf16", "bfloat16")):
      r[key] = r["samples_per_s"] / best_torch[p] if best_torch[p] else None
    # Full protocol: each fold model sees 24,864 pairs per epoch for 200 epochs.
    r["paper_lstm_minutes"] = (PAPER["lstm_train_pairs"] * folds * PAPER["lstm_epochs"]
                               / r["samples_per_s"] / 60)
  logging.info("LSTM: %s", rows)

  # 3. The AE stage (5 replicas, batch 64) and the full paper protocol, extrapolated.
  ae_epoch, ae_samples = mirjax_ae_epoch(folds, PAPER["ae_batch"], 30 if quick else 300)
  ae_sps = ae_samples / interleaved_medians({"ae": ae_epoch}, repeats)["ae"]
  ae_minutes = PAPER["ae_fit_pairs"] * folds * PAPER["ae_epochs"] / ae_sps / 60
  out["ae"] = {"samples_per_s": ae_sps, "paper_minutes": ae_minutes}
  for r in rows:
    # The PyTorch reference has no AE stage: its total is not defined.
    r["paper_total_minutes"] = (r["paper_lstm_minutes"] + ae_minutes if "mirjax" in r["setup"]
                                else None)

  # 4. Scaling: replicas at the paper's batch, and batch sizes at 5 replicas (default placement).
  if _SWEEP.value:
    sweep = {}
    for r in ((1, 2) if quick else (1, 2, 5, 10, 20)):
      sweep[f"replicas={r},batch={batch}"] = mirjax_lstm_epoch(r, batch, n_batches)
    for b in ((64,) if quick else (64, 512)):
      sweep[f"replicas=5,batch={b}"] = mirjax_lstm_epoch(folds, b, max(1, n_batches * batch // b))
    med = interleaved_medians({k: v[0] for k, v in sweep.items()}, repeats)
    out["sweep"] = [{"point": k, "samples_per_s": sweep[k][1] / med[k]} for k in sweep]

  os.makedirs(_OUT.value, exist_ok=True)
  atomic.write_json(os.path.join(_OUT.value, "throughput.json"), out)
  atomic.write_text(os.path.join(_OUT.value, "throughput.md"), to_markdown(out))
  if "sweep" in out:
    pts = [(int(p["point"].split(",")[0].split("=")[1]), p["samples_per_s"]) for p in out["sweep"]
           if p["point"].endswith(f"batch={PAPER['lstm_batch']}")]
    plots.replica_scaling(os.path.join(_OUT.value, "replicas.png"), [p[0] for p in pts],
                          [p[1] for p in pts], best_torch["float32"])
  print(to_markdown(out))


def to_markdown(out: dict) -> str:
  cpu = out["host"]["cpu"]
  flags = ", ".join(f for f, on in cpu["flags"].items() if on) or "none of interest"
  lines = [f"CPU: {cpu['model']}, {cpu['logical_cores']} logical cores "
           f"(flags: {flags}); XLA CPU devices: {out['cpu_devices']} "
           f"(XLA_FLAGS: `{out['xla_flags'] or 'none'}`)", "",
           f"FLOPs per training sample (model in the module docstring): {out['flops_per_sample'] / 1e6:.1f} M",
           "", "| GEMM (float32, every device at once) | GFLOP/s |", "|---|---|"]
  lines += [f"| {k} | {v:.0f} |" for k, v in out["gemm_gflops"].items()]
  lines += ["", "| LSTM training setup | samples/s | GFLOP/s | % of GEMM ceiling | "
            "vs PyTorch f32 (its best row) | vs PyTorch bf16 (its best row) | "
            "paper protocol, min (LSTM / total with AE) |", "|---|---|---|---|---|---|---|"]
  ratio = lambda v: f"{v:.2f}x" if v else "n/a"
  for r in out["lstm"]:
    total = "n/a" if r["paper_total_minutes"] is None else f"{r['paper_total_minutes']:.0f}"
    lines.append(f"| {r['setup']} | {r['samples_per_s']:,.0f} | {r['gflops']:.0f} | "
                 f"{r['pct_of_gemm_ceiling']:.0f} % | {ratio(r['vs_pytorch'])} | "
                 f"{ratio(r['vs_pytorch_bf16'])} | {r['paper_lstm_minutes']:.0f} / "
                 f"{total} |")
  for mode, runs in out.get("pytorch_processes", {}).items():
    if runs:
      lines += ["", f"PyTorch alone, one process each ({mode.replace('_', ' ')}), samples/s: " +
                ", ".join(f"{v:,.0f}" for v in runs) + "."]
  for name, run in out.get("pytorch_per_core", {}).items():
    lines += ["", f"{name}: per process " + ", ".join(f"{v:,.0f}" for v in run["per_process"]) +
              " samples/s" + (" (a process started late: the sum is a lower bound)." if run["late"]
                              else ".")]
  lines += ["", f"AE stage (5 replicas, batch 64): {out['ae']['samples_per_s']:,.0f} samples/s, "
            f"{out['ae']['paper_minutes']:.1f} min for the paper's 200 epochs."]
  if "sweep" in out:
    lines += ["", "| sweep point (mirjax, default placement) | samples/s |", "|---|---|"]
    lines += [f"| {s['point']} | {s['samples_per_s']:,.0f} |" for s in out["sweep"]]
  return "\n".join(lines) + "\n"


if __name__ == "__main__":
  app.run(main)
