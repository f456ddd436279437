"""Several processes as one run (jax.distributed, gloo collectives, 127.0.0.1): the same numbers as
one process with as many devices, one writer; a killed or frozen process stops the others with one
line, and the rerun resumes."""

import json
import os
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

from conftest import ROOT

TINY = os.path.join(ROOT, "configs", "tiny.py")
# Long enough to kill mid-run (killed after epoch 5; checkpoints every 2 epochs), short enough for CI.
LONGER = ["--config.classifier.epochs=12"]


def _free_port() -> int:
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


def _command(workdir, config=TINY, extra=()):
  return [sys.executable, os.path.join(ROOT, "launch.py"), f"--config={config}",
          f"--workdir={workdir}", *LONGER, *extra]


def _start(workdir, n, config=TINY, heartbeat=5, mode="train", only=None, extra=None, port=None):
  """n processes of one run, one CPU device each, started together (`only`: just these ids;
  `extra`: {id: more flags}); their output goes to files (a pipe nobody reads could fill and
  stall them)."""
  flags = [f"--coordinator=127.0.0.1:{port or _free_port()}", f"--num_processes={n}",
           f"--heartbeat_s={heartbeat}", "--config.train.cpu_devices=1", f"--mode={mode}"]
  env = {k: v for k, v in os.environ.items() if k != "MIRJAX_DATA_DIR"}
  os.makedirs(workdir, exist_ok=True)
  procs = []
  for p in (range(n) if only is None else only):
    log = open(os.path.join(os.path.dirname(str(workdir)), f"{os.path.basename(str(workdir))}"
                            f".{mode}.p{p}.log"), "w+", encoding="utf-8")
    more = (extra or {}).get(p, [])
    procs.append(subprocess.Popen(_command(workdir, config, [*flags, f"--process_id={p}", *more]),
                                  cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                  text=True))
    procs[-1].log = log
    _STARTED.append(procs[-1])
  return procs


def _output(proc) -> str:
  proc.log.seek(0)
  return proc.log.read()


def _finish(procs, timeout=300):
  for p in procs:
    p.wait(timeout=timeout)
  for p in procs:
    assert p.returncode == 0, _output(p)[-3000:]


_STARTED = []


@pytest.fixture(autouse=True)
def _no_process_outlives_its_test():
  yield
  while _STARTED:
    p = _STARTED.pop()
    if p.poll() is None:
      p.kill()
      p.wait()
    p.log.close()


def _one_process(workdir, config=TINY, mode="train"):
  """The same run in one process with 2 CPU devices (the single-host path)."""
  p = subprocess.run(_command(workdir, config, ["--config.train.cpu_devices=2", f"--mode={mode}"]),
                     cwd=ROOT, capture_output=True, text=True, timeout=300)
  assert p.returncode == 0, p.stderr[-3000:]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
  w = tmp_path_factory.mktemp("one_process")
  _one_process(w)
  return w


def _results(w):
  return json.loads((w / "results.json").read_text())


def test_two_processes_give_the_one_process_numbers(reference, tmp_path):
  _finish(_start(tmp_path, 2))
  one, two = _results(reference), _results(tmp_path)
  assert [f["auc"] for f in two["folds"]] == [f["auc"] for f in one["folds"]]
  np.testing.assert_array_equal(pd.read_csv(tmp_path / "oof_predictions.csv")["score"],
                                pd.read_csv(reference / "oof_predictions.csv")["score"])
  # One writer: one history, no temporary or lock files left behind.
  rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
  assert len(rows) == len({(r["stage"], r["epoch"], r["replica"]) for r in rows})
  assert len(rows) == len((reference / "metrics.jsonl").read_text().splitlines())
  assert not [f for f in os.listdir(tmp_path) if f.startswith(".") or f.endswith(".lock")]
  # Scoring the grid with the fold models works the same way.
  _one_process(reference, mode="predict")
  _finish(_start(tmp_path, 2, mode="predict"))
  pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "predictions" / "all_pairs.csv"),
                                pd.read_csv(reference / "predictions" / "all_pairs.csv"))


def test_a_sweep_over_two_processes_equals_one_process(tmp_path):
  config = tmp_path / "sweep.py"
  config.write_text(
      "import importlib.util\n"
      f"spec = importlib.util.spec_from_file_location('tiny', {TINY!r})\n"
      "tiny = importlib.util.module_from_spec(spec)\n"
      "spec.loader.exec_module(tiny)\n\n\n"
      "def get_config():\n"
      "  c = tiny.get_config()\n"
      "  c.sweep.variants = ('full:', 'distance_only: classifier.model=distance')\n"
      "  c.sweep.grid = ('classifier.learning_rate=0.001,0.003',)\n"
      "  return c\n")
  t = time.perf_counter()
  _one_process(tmp_path / "one", str(config))
  one_s = time.perf_counter() - t
  t = time.perf_counter()
  _finish(_start(tmp_path / "two", 2, str(config)))
  two_s = time.perf_counter() - t
  print(f"tiny sweep wall time: 1 process x 2 devices {one_s:.1f} s, 2 processes x 1 device "
        f"{two_s:.1f} s")
  a = pd.read_csv(tmp_path / "one" / "sweep_replicas.csv")
  b = pd.read_csv(tmp_path / "two" / "sweep_replicas.csv")
  pd.testing.assert_frame_equal(a, b)


def _wait_for_classifier_epoch_5(workdir, procs):
  metrics = workdir / "metrics.jsonl"
  deadline = time.time() + 240
  while time.time() < deadline and not (
      metrics.exists() and '"stage": "classifier", "epoch": 5' in metrics.read_text()):
    time.sleep(0.2)
  assert all(p.poll() is None for p in procs), "the run ended before the fault: give it more epochs"


def test_a_killed_process_stops_the_other_and_the_rerun_resumes(reference, tmp_path):
  procs = _start(tmp_path, 2)
  metrics = tmp_path / "metrics.jsonl"
  _wait_for_classifier_epoch_5(tmp_path, procs)
  procs[1].send_signal(signal.SIGKILL)
  t = time.time()
  procs[0].wait(timeout=120)
  stopped_after = time.time() - t
  procs[1].wait()
  assert procs[0].returncode != 0 and stopped_after < 60
  assert _output(procs[0]).strip().splitlines()[-1].startswith("error: process 0 of 2 stopped")
  assert not (tmp_path / "results.json").exists()
  _finish(_start(tmp_path, 2))  # the same commands again: resumes from the epoch-4 checkpoint
  np.testing.assert_array_equal(pd.read_csv(tmp_path / "oof_predictions.csv")["score"],
                                pd.read_csv(reference / "oof_predictions.csv")["score"])
  epochs = [json.loads(line)["epoch"] for line in metrics.read_text().splitlines()
            if '"classifier"' in line and '"replica": 0' in line]
  assert epochs == list(range(1, 13))  # one history, no duplicated epochs


@pytest.mark.parametrize("frozen", [1, 0])
def test_a_frozen_process_stops_the_other_with_one_line(tmp_path, frozen):
  """SIGSTOP: a host that hangs or drops off the network closes no socket, so no collective fails.
  The other process's watchdog (mirjax/cluster.py) notices the silence after --heartbeat_s=5 and
  ends it with one line, before JAX's own heartbeat check (not before 10 s) would abort it with a
  stack trace. Frozen process 0 is the coordinator: process 1 then hears nothing from the service."""
  procs = _start(tmp_path, 2)
  _wait_for_classifier_epoch_5(tmp_path, procs)
  other = procs[1 - frozen]
  procs[frozen].send_signal(signal.SIGSTOP)
  other.wait(timeout=120)
  procs[frozen].kill()
  lines = _output(other).strip().splitlines()
  silent = ("the coordinator at 127.0.0.1:" if frozen == 0 else "process 1 has been silent")
  assert other.returncode == 1
  assert lines[-1].startswith(f"error: process {1 - frozen} of 2 stopped ({silent}"), lines[-1]
  assert not any("Fatal" in line or "Terminating process" in line for line in lines)
  assert not (tmp_path / "results.json").exists()


def _one_line_exit(proc, within: float) -> str:
  """Waits for `proc` to stop (at most `within` s); returns its last line, which must be its only
  line of stderr-worthy text: no traceback, no C++ stack."""
  proc.wait(timeout=within)
  text = _output(proc)
  assert proc.returncode != 0
  assert "Traceback" not in text and "Check failure" not in text and "*** " not in text, text
  return text.strip().splitlines()[-1]


def test_processes_started_with_different_configs_stop_naming_the_difference(tmp_path):
  """Two processes whose configs differ would join JAX and hang on mismatched programs; the roll
  call stops both at once, naming the first field that differs."""
  procs = _start(tmp_path, 2, extra={1: ["--config.seed=3"]})
  t = time.time()
  lines = [_one_line_exit(p, within=120) for p in procs]
  assert time.time() - t < 120
  for line in lines:
    assert line.startswith("error: process 1's config differs from process 0's (seed: 0 vs 3"), line
  assert not (tmp_path / "config.json").exists()


def test_a_process_that_never_joins_is_named_within_the_heartbeat(tmp_path):
  procs = _start(tmp_path, 2, only=[0])
  t = time.time()
  line = _one_line_exit(procs[0], within=120)
  assert time.time() - t < 60
  assert line.startswith("error: process 1 of 2 never joined within 5 s"), line
  assert "--process_id=1" in line and "launch.py" in line
  alone = _start(tmp_path / "p1", 2, only=[1])  # the other way round: no coordinator answers
  line = _one_line_exit(alone[0], within=120)
  assert "the coordinator (process 0) at 127.0.0.1:" in line and "--process_id=0" in line, line


def test_a_coordinator_port_in_use_is_one_line(tmp_path):
  with socket.socket() as busy:
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    port = busy.getsockname()[1]
    procs = _start(tmp_path, 2, only=[0], port=port)
    line = _one_line_exit(procs[0], within=120)
  assert line == (f"error: --coordinator=127.0.0.1:{port}: port {port} is already in use on this "
                  "host (by another run, or a process left over from one). Pick a free port and "
                  "give every process the same --coordinator."), line
