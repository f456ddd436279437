"""Where one LSTM training epoch's time goes on this host, by taking the epoch apart.

  python -m benchmarks.epoch_profile --out=benchmarks/results   # --profile_quick: a smoke run
Writes epoch_profile.json and epoch_profile.md.

The paper's classifier (5 folds, batch 128, 3 x LSTM(128) over 17 steps, Adam) in mirjax's default
placement, timed whole and in variants that each leave one part out; the differences are the parts:
- gradient + plain SGD instead of Adam: full minus this is Adam's share;
- gates without transcendentals (hard sigmoid and tanh, same shapes and data flow): full minus this
  is what the 3 sigmoids and 2 tanh per unit and step cost;
- the same epoch with hidden width 8: the per-step cost that does not scale with the matmuls (XLA CPU's
  loop and thunk dispatch, the scans' bookkeeping, small elementwise ops), an upper bound for it;
- the per-step gradient `pmean` alone (the same bytes, as many times, over the same devices), where the
  placement splits minibatches;
- the matmuls at the measured same-shape GEMM ceiling (benchmarks/throughput.py's FLOP model):
  what the GEMMs alone would cost, run at plain-GEMM speed.
Beside them, the forward pass alone as scoring runs it (no gradient) and its hard-gate twin. It is not
the training forward: training keeps every step's gates for the backward pass, and the two compile
differently (measured: the transcendentals cost the forward alone far more than the training epoch).
Medians of interleaved timed epochs, compilation excluded, as in benchmarks/throughput.py; nothing
asserts a time.
"""

import contextlib
import os
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
from absl import app, flags

from benchmarks import throughput as bench
from mirjax import atomic, placement, provenance
from mirjax.kernels import lstm_xla
from mirjax.pairwise import models
from mirjax.placement import BATCH_AXIS
from mirjax.train import loop

_PROFILE_QUICK = flags.DEFINE_bool("profile_quick", False, "Tiny sizes: a smoke run.")
FLAGS = flags.FLAGS  # --out, --repeats, --batches: benchmarks.throughput's


def forward_epoch_fn(loss_fn, tx, batch_size: int, n_fit: int):
  """make_epoch_fn's shape (shuffle, the minibatch slice of each device, a loss pmean per step)
  without the gradient and the update: the forward pass alone."""
  del tx
  n_batches = n_fit // batch_size

  def epoch_fn(state, data):
    shards = jax.lax.axis_size(BATCH_AXIS)
    batches = loop.epoch_batches(state, data["fit_idx"], batch_size, n_batches)

    def step(total, idx):
      loss = loss_fn(state["params"], state["model_state"], data, loop.device_slice(idx, batch_size),
                     True)[0]
      return total + (jax.lax.pmean(loss, BATCH_AXIS) if shards > 1 else loss), None
    total, _ = jax.lax.scan(step, jnp.zeros(()), batches)
    return {**state, "epoch": state["epoch"] + 1}, {"train_loss": total / n_batches}
  return epoch_fn


def _hard_gates(z):
  i, f, g, o = jnp.split(z, 4, axis=-1)
  hard_sigmoid = lambda x: jnp.clip(0.25 * x + 0.5, 0.0, 1.0)
  return hard_sigmoid(i), hard_sigmoid(f), jnp.clip(g, -1.0, 1.0), hard_sigmoid(o)


@contextlib.contextmanager
def hard_gates():
  """Programs traced inside use gates without transcendentals (a measurement device only: it swaps
  mirjax.models' private gate functions, training's and scoring's, and puts them back)."""
  original = lstm_xla._gates, lstm_xla._gates_one_sigmoid
  lstm_xla._gates = lstm_xla._gates_one_sigmoid = _hard_gates
  try:
    yield
  finally:
    lstm_xla._gates, lstm_xla._gates_one_sigmoid = original


def pmean_epoch(n_replicas: int, batch: int, n_batches: int, n_params: int):
  """The per-step gradient pmean alone: every replica all-reduces n_params floats n_batches times
  over the devices that split its minibatches, placed as the default placement places training.
  Returns a callable, or None when the placement splits no minibatch."""
  place = placement.Placement.create(n_replicas, batch_size=batch)
  if isinstance(place, placement.Hybrid):  # only the replicas it splits all-reduce
    place, n_replicas = place.split, n_replicas - place.n_whole
  if place.batch_shards == 1:
    return None

  def fn(g):
    def step(g, _):
      return jax.lax.pmean(g, BATCH_AXIS) * (1 + 1e-7), None  # a chain XLA cannot fold
    return jax.lax.scan(step, g, None, length=n_batches)[0]
  grads = place.place(np.ones((n_replicas, n_params), np.float32), n_replicas)
  valid = place.valid(n_replicas)
  program = place.compile(fn, (True,), (grads,))
  return lambda: jax.block_until_ready(program(grads, valid))


def main(argv):
  del argv
  devices = placement.configure()  # the default CPU layout, as training uses it
  quick = _PROFILE_QUICK.value
  folds, batch = bench.PAPER["folds"], bench.PAPER["lstm_batch"]
  n_batches = 2 if quick else FLAGS.batches
  repeats = 2 if quick else FLAGS.repeats
  sgd = optax.sgd(1e-3)
  setups = {
      "full epoch (Adam)": bench.mirjax_lstm_epoch(folds, batch, n_batches),
      "gradient + SGD": bench.mirjax_lstm_epoch(folds, batch, n_batches, tx=sgd),
      "full epoch, hidden 8": bench.mirjax_lstm_epoch(folds, batch, n_batches, hidden=8),
      "forward only (scoring)": bench.mirjax_lstm_epoch(folds, batch, n_batches,
                                                        make_epoch_fn=forward_epoch_fn),
  }
  with hard_gates():  # compiled here, so the swap sticks to these programs only
    setups["full epoch, hard gates"] = bench.mirjax_lstm_epoch(folds, batch, n_batches)
    setups["forward only (scoring), hard gates"] = bench.mirjax_lstm_epoch(
        folds, batch, n_batches, make_epoch_fn=forward_epoch_fn)
  n_params = sum(x.size for x in jax.tree.leaves(jax.eval_shape(
      lambda: models.LSTMClassifier(bench.HIDDEN, bench.LAYERS, bench.STEP_FEATURES).init(
          jax.random.PRNGKey(0), jnp.zeros((2, bench.IN_DIM))))))
  pmean = pmean_epoch(folds, batch, n_batches, n_params)
  calls = {k: fn for k, (fn, _) in setups.items()}
  if pmean:
    calls["gradient pmean alone"] = pmean
  gemm, gemm_flops = bench.gemm_call(128, 128, 512, 20 if quick else 2000)
  calls["GEMM 128x128x512 (ceiling)"] = gemm
  med = bench.interleaved_medians(calls, repeats)
  ceiling = gemm_flops / med.pop("GEMM 128x128x512 (ceiling)")  # FLOP/s, all devices at once
  samples = setups["full epoch (Adam)"][1]
  gemm_s = samples * bench.lstm_flops_per_sample() / ceiling
  full = med["full epoch (Adam)"]
  # These overlap a little: the hidden-8 epoch has its own small matmuls, pmean and Adam.
  inside = [
      ("matmuls at the GEMM ceiling (forward + backward)", gemm_s),
      ("per-step cost independent of width (the hidden-8 epoch)", med["full epoch, hidden 8"]),
      ("Adam (full minus gradient + SGD)", full - med["gradient + SGD"]),
      ("gate transcendentals (full minus hard gates)", full - med["full epoch, hard gates"]),
  ]
  if pmean:
    inside.append(("gradient pmean (alone)", med["gradient pmean alone"]))
  forward = {"seconds": med["forward only (scoring)"],
             "hard_gates_seconds": med["forward only (scoring), hard gates"],
             "pct_of_gemm_ceiling": 100 * gemm_s / 3 / med["forward only (scoring)"]}
  out = {"host": provenance.devices(), "versions": provenance.versions(), "cpu_devices": devices,
         "placement": placement.Placement.create(folds, batch_size=batch).describe(folds),
         "batches_per_epoch": n_batches, "repeats": repeats, "quick": quick,
         "epoch_seconds": med, "gemm_ceiling_gflops": ceiling / 1e9,
         "forward_only": forward,
         "inside": [{"part": k, "seconds": v, "share": v / full} for k, v in inside],
         "remainder": {"seconds": full - sum(v for _, v in inside),
                       "share": 1 - sum(v for _, v in inside) / full}}
  os.makedirs(FLAGS.out, exist_ok=True)
  atomic.write_json(os.path.join(FLAGS.out, "epoch_profile.json"), out)
  text = to_markdown(out)
  atomic.write_text(os.path.join(FLAGS.out, "epoch_profile.md"), text)
  print(text)


def to_markdown(out: dict) -> str:
  cpu = out["host"]["cpu"]
  full = out["epoch_seconds"]["full epoch (Adam)"]
  lines = [f"CPU: {cpu['model']}, {cpu['logical_cores']} logical cores; {out['placement']}; "
           f"{out['batches_per_epoch']} minibatches of 128 per replica; median of "
           f"{out['repeats']} interleaved epochs; {time.strftime('%Y-%m-%d')}", "",
           f"Full training epoch: {full * 1e3:.0f} ms. What it is made of (GEMM ceiling "
           f"{out['gemm_ceiling_gflops']:.0f} GFLOP/s, same shape, all devices):", "",
           "| component | ms per epoch | share |", "|---|---|---|"]
  lines += [f"| {p['part']} | {p['seconds'] * 1e3:.0f} | {p['share']:.0%} |" for p in out["inside"]]
  r = out["remainder"]
  lines.append(f"| remainder: matmuls below the ceiling, the other elementwise math, data movement | "
               f"{r['seconds'] * 1e3:.0f} | {r['share']:.0%} |")
  f = out["forward_only"]
  lines += ["", f"Forward pass alone, as scoring runs it: {f['seconds'] * 1e3:.0f} ms for a third of "
            f"the epoch's FLOPs ({f['pct_of_gemm_ceiling']:.0f} % of the GEMM ceiling); with hard "
            f"gates {f['hard_gates_seconds'] * 1e3:.0f} ms."]
  return "\n".join(lines) + "\n"


if __name__ == "__main__":
  app.run(main)
