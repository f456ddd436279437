"""The throughput benchmark still runs end to end (a smoke run; it measures, it asserts no time)."""

import importlib.util
import json
import os
import subprocess
import sys

from conftest import ROOT


def test_benchmark_quick_run_writes_its_tables(tmp_path):
  p = subprocess.run([sys.executable, "-m", "benchmarks.throughput", "--quick", "--nosweep",
                      f"--out={tmp_path}"], cwd=ROOT, capture_output=True, text=True, timeout=900)
  assert p.returncode == 0, p.stderr[-3000:]
  out = json.loads((tmp_path / "throughput.json").read_text())
  setups = {r["setup"] for r in out["lstm"]}
  assert {"mirjax, 5 folds vmapped on one device",
          "mirjax, 5 folds one after another on one device"} <= setups
  assert out["cpu_devices"] >= 1
  if out["cpu_devices"] > 1:
    assert any("minibatches not split" in s for s in setups)
  assert all(r["samples_per_s"] > 0 and r["paper_lstm_minutes"] > 0 for r in out["lstm"])
  assert out["flops_per_sample"] > 0 and set(out["gemm_gflops"]) and out["ae"]["samples_per_s"] > 0
  assert "| LSTM training setup |" in (tmp_path / "throughput.md").read_text()
  cpu = out["host"]["cpu"]
  assert cpu["model"] and set(cpu["flags"]) >= {"avx512_bf16", "amx_bf16"}
  if importlib.util.find_spec("torch") is not None:  # CI does not install the benchmark extras
    per_core = [r for r in out["lstm"] if "processes x 1 thread" in r["setup"]]
    assert {r["precision"] for r in per_core} == {"float32", "bfloat16"}
    best = {p: max(r["samples_per_s"] for r in out["lstm"]
                   if r["setup"].startswith("PyTorch") and r["precision"] == p)
            for p in ("float32", "bfloat16")}
    for r in out["lstm"]:
      assert r["vs_pytorch"] == r["samples_per_s"] / best["float32"]
      assert r["vs_pytorch_bf16"] == r["samples_per_s"] / best["bfloat16"]
  assert not os.path.exists(tmp_path / "replicas.png")  # no sweep asked for
