"""Times `configs/whole.py` end to end as a user runs it: train + evaluation, predict, queries.

  MIRJAX_DATA_DIR=../shared/data/raw python -m benchmarks.whole_table --out=benchmarks/results

Each step is `launch.py` in a fresh process under `/usr/bin/time -v`; wall time and the process's
peak RSS are recorded, beside the CPU model (`lscpu`) and the commit. Writes `whole_table.json` and
`whole_table.md` into --out. A step that fails stops the benchmark with its error. It measures; it
asserts nothing about the times.
"""

import json
import os
import subprocess
import sys
import time

from absl import app, flags

from mirjax import atomic, provenance

_OUT = flags.DEFINE_string("out", "benchmarks/results", "Directory for whole_table.json/.md.")
_WORKDIR = flags.DEFINE_string("workdir", "runs/whole_benchmark", "The run's workdir (fresh).")
_QUERIES = (["--gene=TP53", "--top=20"], ["--mirna=hsa-miR-335-5p", "--top=20"],
            ["--gene=TP53", "--top=20", "--format=json"],
            ["--mirna=hsa-miR-335-5p", "--gene=PTEN"])
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _cpu() -> str:
  out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
  return next((line.split(":", 1)[1].strip() for line in out.splitlines()
               if line.startswith("Model name")), "unknown")


def _peak_rss(args: list[str]) -> dict:
  """Runs one step; its wall time and peak RSS."""
  t = time.perf_counter()
  proc = subprocess.run(["/usr/bin/time", "-v", sys.executable, os.path.join(ROOT, "launch.py"),
                         "--config=configs/whole.py", f"--workdir={_WORKDIR.value}", *args],
                        cwd=ROOT, capture_output=True, text=True)
  seconds = time.perf_counter() - t
  if proc.returncode:
    raise SystemExit(f"{' '.join(args) or 'train'} failed:\n{proc.stderr[-3000:]}")
  kb = next(int(line.split(":")[1]) for line in proc.stderr.splitlines()
            if "Maximum resident set size" in line)
  return {"args": args, "seconds": round(seconds, 2), "peak_rss_gb": round(kb / 2**20, 2),
          "stdout_tail": proc.stdout[-800:]}


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
  steps = {"train_and_evaluate": _peak_rss([]), "predict": _peak_rss(["--mode=predict"])}
  steps["queries"] = [_peak_rss(["--mode=query", *q]) for q in _QUERIES]
  with open(os.path.join(ROOT, _WORKDIR.value, "results.json"), encoding="utf-8") as f:
    seconds = json.load(f)["seconds"]
  record = {"cpu": _cpu(), "cores": len(os.sched_getaffinity(0)), "versions": provenance.versions(),
            "commit": commit,
            "date": time.strftime("%Y-%m-%d"), "steps": steps, "train_phases_seconds": seconds}
  os.makedirs(_OUT.value, exist_ok=True)
  atomic.write_json(os.path.join(_OUT.value, "whole_table.json"), record)
  lines = [f"# configs/whole.py end to end ({record['date']}, {record['cpu']}, "
           f"{record['cores']} cores, commit {record['commit'][:8]}{record['commit'][40:]})", "",
           "| step | wall s | peak RSS GB |", "|---|---|---|",
           f"| train + evaluation (data {seconds['data']:.0f} s, model {seconds['train']:.0f} s, "
           f"evaluation {seconds['evaluate']:.0f} s) | {steps['train_and_evaluate']['seconds']:.0f} | "
           f"{steps['train_and_evaluate']['peak_rss_gb']:.2f} |",
           f"| predict (all pairs, parquet) | {steps['predict']['seconds']:.0f} | "
           f"{steps['predict']['peak_rss_gb']:.2f} |"]
  lines += [f"| query `{' '.join(q['args'][1:])}` | {q['seconds']:.2f} | {q['peak_rss_gb']:.2f} |"
            for q in steps["queries"]]
  atomic.write_text(os.path.join(_OUT.value, "whole_table.md"), "\n".join(lines) + "\n")
  print("\n".join(lines))


if __name__ == "__main__":
  app.run(main)
