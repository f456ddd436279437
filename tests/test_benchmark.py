"""The throughput benchmark still runs end to end (a smoke run; it measures, it asserts no time)."""

import importlib.util
import json
import os
import subprocess
import sys

import pytest

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


def test_gpu_script_smoke_mode_runs_every_step_on_the_cpu(tmp_path):
  """benchmarks/gpu/run.sh --smoke: the GPU run's steps at tiny sizes, on whatever device is here."""
  env = {**os.environ, "OUT": str(tmp_path), "PYTHON": sys.executable}
  env.pop("MIRJAX_DATA_DIR", None)
  p = subprocess.run(["bash", "benchmarks/gpu/run.sh", "--smoke"], cwd=ROOT, env=env,
                     capture_output=True, text=True, timeout=900)
  assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
  report = json.loads((tmp_path / "gpu.json").read_text())
  assert report["smoke"] and [s["step"] for s in report["steps"]] == [
      "device", "tests", "quick", "throughput"]
  assert all(s["exit_code"] == 0 for s in report["steps"])
  assert 0.0 <= report["quick"]["mean_auc"] <= 1.0 and "quick_vs_cpu" not in report
  rows = {r["setup"]: r for r in report["throughput"]["rows"]}
  assert {"mirjax, 1 replica vmapped", "mirjax, 2 replicas vmapped",
          "mirjax, 2 replicas vmapped, bfloat16 matmuls"} <= set(rows)
  assert all(r["samples_per_s"] > 0 for r in rows.values())
  assert rows["mirjax, 1 replica vmapped"]["vs_one_replica"] == 1.0
  assert rows["mirjax, 2 replicas vmapped"]["program_bytes"] > 0
  assert report["throughput"]["paper_protocol_extrapolated"]["float32"]["total_s"] > 0
  assert "| setup | precision | samples/s |" in (tmp_path / "gpu.md").read_text()


def test_gpu_targets_use_the_end_to_end_time_only_when_the_paper_run_finished():
  from benchmarks.gpu import report, vmapped
  rows = [{"setup": vmapped(1), "vs_one_replica": 1.0, "vs_pytorch_folds_sequential": 2.0},
          {"setup": vmapped(5), "vs_one_replica": 3.0, "vs_pytorch_folds_sequential": 4.0},
          {"setup": vmapped(90), "vs_one_replica": 12.0, "vs_pytorch_folds_sequential": 30.0}]
  bench = {"rows": rows, "paper_protocol_extrapolated": {"float32": {"total_s": 150.0}}}
  stopped = report.targets(bench, {"finished": False, "wall_seconds": None})
  assert [t["met"] for t in stopped] == [True, True, True] and "extrapolated" in stopped[2]["target"]
  finished = report.targets(bench, {"finished": True, "wall_seconds": 200.0})
  assert finished[2]["value"] == 200.0 and finished[2]["met"] is False
  assert "measured end to end" in finished[2]["target"]


def test_whole_table_measures_each_steps_own_peak_memory():
  """benchmarks.whole_table times each step in a child process and reads that child's peak RSS
  from wait4 (no /usr/bin/time needed): a child holding 300 MiB reports at least that, a small one
  after it far less (the peak is the child's own, not the largest so far), and an exit code
  comes back. (A child's peak includes its parent's RSS at the fork, about 20 MB for the
  benchmark, so it runs in a fresh process here, not in pytest's.)"""
  script = (
      "import json, sys\n"
      "from benchmarks import whole_table as w\n"
      "runs = [w.measured([sys.executable, '-c', c], '.') for c in (\n"
      "    'import numpy as np; a = np.ones(300 * 2**20 // 8); print(a.sum())',\n"
      "    'print(\"small\")', 'import sys; sys.exit(3)')]\n"
      "print(json.dumps(runs))\n")
  p = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True,
                     timeout=120)
  assert p.returncode == 0, p.stderr[-3000:]
  big, small, failed = json.loads(p.stdout)
  assert big["returncode"] == 0 and big["stdout"].strip() == str(float(300 * 2**20 // 8))
  assert big["peak_rss_gb"] >= 300 / 1024 and small["peak_rss_gb"] < 100 / 1024
  assert small["stdout"] == "small\n" and failed["returncode"] == 3 and big["seconds"] > 0


def test_gpu_report_adds_the_whole_table_and_its_target(tmp_path):
  """run.sh's `whole` step: without the real data it is a skipped row; with benchmarks.whole_table's
  record in OUT, the report shows its times and device memory and judges the 2-minute target on
  train + evaluation + predict."""
  env = {**os.environ, "OUT": str(tmp_path), "PYTHON": sys.executable, "GPU_STEPS": "whole"}
  env.pop("MIRJAX_DATA_DIR", None)
  p = subprocess.run(["bash", "benchmarks/gpu/run.sh", "--smoke"], cwd=ROOT, env=env,
                     capture_output=True, text=True, timeout=300)
  assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
  report = json.loads((tmp_path / "gpu.json").read_text())
  assert [(s["step"], s["exit_code"]) for s in report["steps"]] == [("whole", 125)]
  assert report["whole_table"] is None and report["targets"] == []
  from benchmarks.gpu import report as gpu_report
  whole = {"device": "NVIDIA H100", "train_phases_seconds": {"data": 20, "train": 30, "evaluate": 40},
           "device_memory": {"peak_bytes_in_use": 3 * 2**30, "bytes_limit": 80 * 2**30},
           "steps": {"train_and_evaluate": {"seconds": 95.0, "peak_rss_gb": 6.0},
                     "predict": {"seconds": 40.0, "peak_rss_gb": 6.5}}}
  (tmp_path / "whole_table.json").write_text(json.dumps(whole))
  got = gpu_report.assemble(str(tmp_path), str(tmp_path / "none"), None, False)
  assert got["targets"] == [{"target": "configs/whole.py train + evaluation + predict <= 2 min",
                             "value": 135.0, "goal": 120.0, "lower_is_better": True, "met": False}]
  text = gpu_report.to_markdown(got)
  assert "train + evaluation 95 s (data 20 s, model 30 s, evaluation 40 s)" in text
  assert "peak device memory 3.00 GiB of 80.00 GiB" in text and "| 135 s | False |" in text


def test_epoch_profile_takes_the_epoch_apart(tmp_path):
  p = subprocess.run([sys.executable, "-m", "benchmarks.epoch_profile", "--profile_quick",
                      f"--out={tmp_path}"], cwd=ROOT, capture_output=True, text=True, timeout=900)
  assert p.returncode == 0, p.stderr[-3000:]
  out = json.loads((tmp_path / "epoch_profile.json").read_text())
  full = out["epoch_seconds"]["full epoch (Adam)"]
  parts = {p["part"].split(" ")[0] for p in out["inside"]}
  assert {"matmuls", "per-step", "Adam", "gate"} <= parts
  assert sum(p["seconds"] for p in out["inside"]) + out["remainder"]["seconds"] == pytest.approx(full)
  assert out["forward_only"]["seconds"] > 0
  assert out["gemm_ceiling_gflops"] > 0 and "| component | ms per epoch |" in (
      tmp_path / "epoch_profile.md").read_text()
