"""Times `configs/whole.py` end to end as a user runs it: train + evaluation, predict, queries.

  MIRJAX_DATA_DIR=../shared/data/raw python -m benchmarks.whole_table --out=benchmarks/results

Each step is `launch.py` in a fresh process; its wall time and peak RSS (the child's rusage, as
`/usr/bin/time -v` reports it) are recorded, beside the CPU model (`lscpu`), the device and, on a GPU,
the peak device memory of train + evaluation, and the commit. Writes `whole_table.json` and
`whole_table.md` into --out. A step that fails stops the benchmark with its error. It measures; it
asserts nothing about the times.
"""

import json
import os
import subprocess
import sys
import tempfile
import time

from absl import app, flags

from mirjax import atomic, provenance

_OUT = flags.DEFINE_string("out", "benchmarks/results", "Directory for whole_table.json/.md.")
_WORKDIR = flags.DEFINE_string("workdir", "runs/whole_benchmark", "The run's workdir (fresh).")
_SET = flags.DEFINE_multi_string(
    "set", [], "A config override given to every step, e.g. --set=protocols.workers=8 (a host with "
    "more cores evaluates more splits at once).")
_QUERIES = (["--gene=TP53", "--top=20"], ["--mirna=hsa-miR-335-5p", "--top=20"],
            ["--gene=TP53", "--top=20", "--format=json"],
            ["--mirna=hsa-miR-335-5p", "--gene=PTEN"])
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _cpu() -> str:
  out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
  return next((line.split(":", 1)[1].strip() for line in out.splitlines()
               if line.startswith("Model name")), "unknown")


def measured(command: list[str], cwd: str) -> dict:
  """Runs `command`: its exit code, wall seconds, peak RSS (GiB) and output. The peak is the child's,
  from wait4's rusage, as /usr/bin/time -v reports it but without needing that program (not every
  image has it). Linux counts the forked parent's RSS into it too (about 20 MB for this process):
  nothing beside steps of gigabytes."""
  with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
    t = time.perf_counter()
    proc = subprocess.Popen(command, cwd=cwd, stdout=out, stderr=err)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
    out.seek(0)
    err.seek(0)
    return {"returncode": proc.returncode, "seconds": seconds,
            "peak_rss_gb": usage.ru_maxrss / 2**20,  # KiB on Linux
            "stdout": out.read().decode(errors="replace"), "stderr": err.read().decode(errors="replace")}


def _step(args: list[str]) -> dict:
  """One launch.py step of configs/whole.py in a fresh process; its wall time and peak RSS."""
  run = measured([sys.executable, os.path.join(ROOT, "launch.py"), "--config=configs/whole.py",
                  f"--workdir={_WORKDIR.value}", *(f"--config.{o}" for o in _SET.value), *args],
                 ROOT)
  if run["returncode"]:
    raise SystemExit(f"{' '.join(args) or 'train'} failed:\n{run['stderr'][-3000:]}")
  return {"args": args, "seconds": round(run["seconds"], 2),
          "peak_rss_gb": round(run["peak_rss_gb"], 2), "stdout_tail": run["stdout"][-800:]}


def _commit() -> str:
  """HEAD, with '+uncommitted' when the code (not docs or results) differs from it: what runs."""
  def git(*args):
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout.strip()
  changed = git("status", "--porcelain", "--untracked-files=no", "--", "mirjax", "configs",
                "launch.py", "benchmarks/*.py", "requirements*.txt")
  return git("rev-parse", "HEAD") + ("+uncommitted" if changed else "")


def main(argv):
  del argv
  commit = _commit()  # before the runs: the code they start with
  steps = {"train_and_evaluate": _step([]), "predict": _step(["--mode=predict"])}
  steps["queries"] = [_step(["--mode=query", *q]) for q in _QUERIES]

  # Device facts come from the run's own record: this process never starts JAX, which on a GPU
  # would hold device memory beside its children.
  def recorded(name):
    with open(os.path.join(ROOT, _WORKDIR.value, name), encoding="utf-8") as f:
      return json.load(f)
  results = recorded("results.json")
  seconds, device = results["seconds"], results.get("device_memory")
  record = {"cpu": _cpu(), "cores": len(os.sched_getaffinity(0)), "versions": provenance.versions(),
            "commit": commit,
            "date": time.strftime("%Y-%m-%d"), "steps": steps, "train_phases_seconds": seconds,
            "device": recorded("config.json")["devices"]["device_kind"], "device_memory": device,
            "overrides": _SET.value}
  os.makedirs(_OUT.value, exist_ok=True)
  atomic.write_json(os.path.join(_OUT.value, "whole_table.json"), record)
  lines = [f"# configs/whole.py end to end ({record['date']}, {record['cpu']}, "
           f"{record['cores']} cores, commit {record['commit'][:8]}{record['commit'][40:]}"
           + "".join(f", {o}" for o in _SET.value) + ")", "",
           "| step | wall s | peak RSS GB |", "|---|---|---|",
           f"| train + evaluation (data {seconds['data']:.0f} s, model {seconds['train']:.0f} s, "
           f"evaluation {seconds['evaluate']:.0f} s) | {steps['train_and_evaluate']['seconds']:.0f} | "
           f"{steps['train_and_evaluate']['peak_rss_gb']:.2f} |",
           f"| predict (all pairs, parquet) | {steps['predict']['seconds']:.0f} | "
           f"{steps['predict']['peak_rss_gb']:.2f} |"]
  lines += [f"| query `{' '.join(q['args'][1:])}` | {q['seconds']:.2f} | {q['peak_rss_gb']:.2f} |"
            for q in steps["queries"]]
  if device:
    lines += ["", f"Device {record['device']}: peak memory during train + evaluation "
              f"{device['peak_bytes_in_use'] / 2**30:.2f} GiB of {device['bytes_limit'] / 2**30:.2f} GiB."]
  atomic.write_text(os.path.join(_OUT.value, "whole_table.md"), "\n".join(lines) + "\n")
  print("\n".join(lines))


if __name__ == "__main__":
  app.run(main)
