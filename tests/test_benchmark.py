"""The throughput benchmark still runs end to end (a smoke run; it measures, it asserts no time)."""

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
  assert not os.path.exists(tmp_path / "replicas.png")  # no sweep asked for
