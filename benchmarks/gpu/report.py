"""Assembles benchmarks/gpu/run.sh's outputs into gpu.json and gpu.md: the steps and their exit
codes, configs/quick.py's AUC beside the CPU reference, the throughput table, the paper protocol's
time (end to end where it finished, else extrapolated), configs/whole.py end to end with its peak
device memory (where run.sh's `whole` step ran), and the issue's targets.

  python -m benchmarks.gpu.report --out=DIR --quick_workdir=W [--paper_workdir=P]
  python -m benchmarks.gpu.report --record_cpu_reference=W   # writes REFERENCE from a CPU quick run
No JAX here: run.sh calls it after every GPU process has exited.
"""

import csv
import json
import os
import time

from absl import app, flags

from benchmarks.gpu import vmapped
from mirjax import atomic

_OUT = flags.DEFINE_string("out", None, "run.sh's output folder (steps.tsv, throughput.json).")
_QUICK = flags.DEFINE_string("quick_workdir", None, "Workdir of the quick.py run on this device.")
_PAPER = flags.DEFINE_string("paper_workdir", None, "Workdir of the paper.py run (if any).")
_SMOKE = flags.DEFINE_bool("smoke", False, "run.sh --smoke: tiny.py, no CPU comparison.")
_RECORD = flags.DEFINE_string("record_cpu_reference", None,
                              "Write REFERENCE from this CPU quick.py workdir and exit.")

REFERENCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "cpu_reference.json")
AUC_TOLERANCE = 0.005  # the bound on |AUC(GPU) - AUC(CPU)| for configs/quick.py
SKIPPED = 125  # run.sh's exit code for a step it could not run (its `skip`)
TARGETS = {"folds_vs_pytorch": 3.0, "replicas_90_vs_1": 10.0, "paper_protocol_s": 180.0,
           "whole_table_s": 120.0}


def _json(path):
  with open(path, encoding="utf-8") as f:
    return json.load(f)


def run_summary(workdir: str) -> dict | None:
  """A finished run's AUCs, wall time and where it ran (None if it did not finish)."""
  if not workdir or not os.path.exists(os.path.join(workdir, "results.json")):
    return None
  results, config = _json(os.path.join(workdir, "results.json")), _json(
      os.path.join(workdir, "config.json"))
  devices = config.get("devices", {})
  return {"mean_auc": results["mean_auc"], "fold_auc": [f["auc"] for f in results["folds"]],
          "wall_seconds": results["wall_seconds"], "device_kind": devices.get("device_kind"),
          "cpu_model": devices.get("cpu", {}).get("model"),
          "versions": {k: config["versions"].get(k) for k in ("jax", "jaxlib", "flax", "optax")}}


def stage_progress(workdir: str) -> dict:
  """Per stage: epochs logged and their summed seconds (metrics.jsonl), to extrapolate a run that
  was stopped before it finished."""
  out = {}
  path = os.path.join(workdir or "", "metrics.jsonl")
  if not os.path.exists(path):
    return out
  with open(path, encoding="utf-8") as f:
    for line in f:
      row = json.loads(line)
      if row.get("replica") != 0:
        continue
      stage = out.setdefault(row["stage"], {"epochs": 0, "seconds": 0.0})
      stage["epochs"] += 1
      stage["seconds"] += row.get("epoch_seconds", 0.0)
  return out


def assemble(out_dir: str, quick_workdir: str, paper_workdir: str | None, smoke: bool) -> dict:
  with open(os.path.join(out_dir, "steps.tsv"), encoding="utf-8") as f:
    steps = [{"step": s, "exit_code": int(rc), "seconds": int(t)}
             for s, rc, t in csv.reader(f, delimiter="\t")]
  bench_path = os.path.join(out_dir, "throughput.json")
  bench = _json(bench_path) if os.path.exists(bench_path) else None
  quick = run_summary(quick_workdir)
  reference = _json(REFERENCE) if os.path.exists(REFERENCE) else None
  report = {"smoke": smoke, "steps": steps, "throughput": bench, "quick": quick,
            "cpu_reference": reference}
  if quick and reference and not smoke:
    diff = [g - c for g, c in zip(quick["fold_auc"], reference["fold_auc"])]
    report["quick_vs_cpu"] = {"mean_auc_difference": quick["mean_auc"] - reference["mean_auc"],
                              "fold_auc_differences": diff,
                              "within_tolerance": abs(quick["mean_auc"] - reference["mean_auc"])
                              <= AUC_TOLERANCE, "tolerance": AUC_TOLERANCE}
  paper = run_summary(paper_workdir) if paper_workdir else None
  report["paper_end_to_end"] = {"finished": paper is not None,
                                "wall_seconds": paper["wall_seconds"] if paper else None,
                                "mean_auc": paper["mean_auc"] if paper else None,
                                "stages": stage_progress(paper_workdir)} if paper_workdir else None
  whole_path = os.path.join(out_dir, "whole_table.json")
  report["whole_table"] = _json(whole_path) if os.path.exists(whole_path) else None
  report["targets"] = targets(bench, report["paper_end_to_end"], report["whole_table"])
  return report


def targets(bench: dict | None, paper: dict | None, whole: dict | None = None) -> list[dict]:
  """The issue's targets that this run measured: the throughput ones where the throughput step ran,
  configs/whole.py end to end where the whole step ran; each judged against its goal."""
  out = []
  if bench:
    rows = {r["setup"]: r for r in bench["rows"]}
    five, ninety = rows.get(vmapped(5)), rows.get(vmapped(90))
    out += [{"target": "5 folds vmapped >= 3x PyTorch cuDNN, 5 folds one after another",
             "value": five and five["vs_pytorch_folds_sequential"],
             "goal": TARGETS["folds_vs_pytorch"]},
            {"target": "90 replicas >= 10x the samples/s of 1 replica",
             "value": ninety and ninety["vs_one_replica"], "goal": TARGETS["replicas_90_vs_1"]}]
    if paper and paper["finished"]:
      value, how = paper["wall_seconds"], "measured end to end"
    else:
      value, how = bench["paper_protocol_extrapolated"]["float32"]["total_s"], (
          "extrapolated from timed epochs (float32)")
    out.append({"target": f"paper protocol (AE + LSTM, 200 + 200 epochs, 5 folds) <= 3 min, {how}",
                "value": value, "goal": TARGETS["paper_protocol_s"], "lower_is_better": True})
  if whole:
    steps = whole["steps"]
    out.append({"target": "configs/whole.py train + evaluation + predict <= 2 min",
                "value": steps["train_and_evaluate"]["seconds"] + steps["predict"]["seconds"],
                "goal": TARGETS["whole_table_s"], "lower_is_better": True})
  for t in out:
    v = t["value"]
    t["met"] = None if v is None else (v <= t["goal"] if t.get("lower_is_better") else
                                       v >= t["goal"])
  return out


def to_markdown(report: dict) -> str:
  bench = report["throughput"]
  lines = ["SMOKE RUN (tiny sizes; configs/tiny.py for quick.py)", ""] if report["smoke"] else []
  if bench:
    host, v = bench["host"], bench["versions"]
    torch = bench.get("torch") or {}
    lines += [f"Device: {host['device_kind']} ({host['platform_version']}), host CPU "
              f"{host['cpu']['model']}; jax {v['jax']}, jaxlib {v['jaxlib']}, flax {v['flax']}; "
              f"PyTorch {torch.get('version')} (CUDA {torch.get('cuda')}, cuDNN "
              f"{torch.get('cudnn')}); {bench['date']}",
              "", f"Epochs of {bench['batches_per_epoch']} minibatches of 128 per replica, median "
              f"of {bench['repeats']} interleaved timed epochs; compile time apart.", "",
              "| setup | precision | samples/s | GFLOP/s | vs PyTorch, 5 folds one after another "
              "| vs 1 replica | compile s | program memory MiB |", "|---|---|---|---|---|---|---|---|"]
    fmt = lambda x, f: "n/a" if x is None else f.format(x)
    for r in bench["rows"]:
      lines.append(f"| {r['setup']} | {r['precision']} | {r['samples_per_s']:,.0f} | "
                   f"{fmt(r.get('gflops'), '{:,.0f}')} | "
                   f"{fmt(r['vs_pytorch_folds_sequential'], '{:.2f}x')} | "
                   f"{fmt(r['vs_one_replica'], '{:.2f}x')} | {fmt(r['compile_s'], '{:.1f}')} | "
                   f"{fmt(r['program_bytes'] and r['program_bytes'] / 2**20, '{:,.0f}')} |")
    ex = bench["paper_protocol_extrapolated"]
    lines += ["", "Paper protocol extrapolated from the timed epochs (training only): " + "; ".join(
        f"{p}: LSTM {e['lstm_s']:.0f} s + AE {e['ae_s']:.0f} s = {e['total_s']:.0f} s"
        for p, e in ex.items()) + "."]
  paper = report.get("paper_end_to_end")
  if paper:
    stages = ", ".join(f"{s} {p['epochs']} epochs in {p['seconds']:.0f} s"
                       for s, p in paper["stages"].items())
    lines += ["", (f"Paper protocol end to end (launch.py --config=configs/paper.py): "
                   f"{paper['wall_seconds']:.0f} s wall, mean AUC {paper['mean_auc']:.4f}."
                   if paper["finished"] else "Paper protocol end to end: stopped before it "
                   "finished.") + (f" Epochs logged: {stages}." if stages else "")]
  whole = report.get("whole_table")
  if whole:
    steps, phases, memory = whole["steps"], whole["train_phases_seconds"], whole["device_memory"]
    lines += ["", f"configs/whole.py end to end (benchmarks.whole_table, {whole['device']}): train + "
              f"evaluation {steps['train_and_evaluate']['seconds']:.0f} s (data {phases['data']:.0f} s, "
              f"model {phases['train']:.0f} s, evaluation {phases['evaluate']:.0f} s), host peak RSS "
              f"{steps['train_and_evaluate']['peak_rss_gb']:.2f} GiB; predict "
              f"{steps['predict']['seconds']:.0f} s; peak device memory "
              + (f"{memory['peak_bytes_in_use'] / 2**30:.2f} GiB of {memory['bytes_limit'] / 2**30:.2f}"
                 " GiB." if memory else "not reported by this backend.")]
  lines += [x for note in report.get("notes", []) for x in ("", note)]
  quick, ref = report["quick"], report["cpu_reference"]
  if quick:
    lines += ["", f"{'configs/tiny.py' if report['smoke'] else 'configs/quick.py'} here: mean AUC {quick['mean_auc']:.6f} (folds "
              + ", ".join(f"{a:.4f}" for a in quick["fold_auc"]) + f"), {quick['wall_seconds']:.0f}"
              " s wall."]
  if "quick_vs_cpu" in report:
    q = report["quick_vs_cpu"]
    lines.append(f"CPU reference ({ref['cpu_model']}, jax {ref['versions']['jax']}, "
                 f"{ref['date']}): mean AUC {ref['mean_auc']:.6f}; difference "
                 f"{q['mean_auc_difference']:+.6f} (folds " + ", ".join(
                     f"{d:+.4f}" for d in q["fold_auc_differences"]) + f"): "
                 f"{'within' if q['within_tolerance'] else 'OUTSIDE'} ±{q['tolerance']}.")
  if report.get("targets"):
    lines += ["", "| target | value | met |", "|---|---|---|"]
    for t in report["targets"]:
      v = "n/a" if t["value"] is None else (f"{t['value']:.0f} s" if t.get("lower_is_better")
                                            else f"{t['value']:.2f}x")
      lines.append(f"| {t['target']} | {v} | {'n/a' if t['met'] is None else t['met']} |")
  lines += ["", "| step | exit code | seconds |", "|---|---|---|"]
  lines += [f"| {s['step']} | {'skipped' if s['exit_code'] == SKIPPED else s['exit_code']} | "
            f"{s['seconds']} |" for s in report["steps"]]
  return "\n".join(lines) + "\n"


def main(argv):
  del argv
  if _RECORD.value:
    summary = run_summary(_RECORD.value)
    if summary is None:
      raise SystemExit(f"error: {_RECORD.value} holds no finished run (results.json).")
    config = _json(os.path.join(_RECORD.value, "config.json"))
    summary.update(config="configs/quick.py",
                   date=time.strftime("%Y-%m-%d", time.gmtime(config["started_unix"])))
    atomic.write_json(REFERENCE, summary)
    print(f"wrote {REFERENCE}: mean AUC {summary['mean_auc']:.6f}")
    return
  report = assemble(_OUT.value, _QUICK.value, _PAPER.value, _SMOKE.value)
  atomic.write_json(os.path.join(_OUT.value, "gpu.json"), report)
  text = to_markdown(report)
  atomic.write_text(os.path.join(_OUT.value, "gpu.md"), text)
  print(text)


if __name__ == "__main__":
  app.run(main)
