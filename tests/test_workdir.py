"""A workdir that no fault or mistake can corrupt or strand: damaged checkpoints, the lock, config
checks in every mode, read-only workdirs, and one plain line for every user mistake."""

import json
import logging
import os
import shutil
import socket
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from conftest import ROOT, tiny_config
from mirjax import experiment, ranking, workdir
from mirjax.errors import ConfigError, MirjaxError


def launch(*args, prefix=()):
  return subprocess.run([*prefix, sys.executable, os.path.join(ROOT, "launch.py"), *args], cwd=ROOT,
                        capture_output=True, text=True, timeout=600)


def one_plain_line(p, needle: str) -> str:
  """The run failed with exactly one 'error:' line containing `needle`, and no traceback."""
  assert p.returncode != 0
  errors = [line for line in p.stderr.splitlines() if line.startswith("error:")]
  assert len(errors) == 1 and needle in errors[0], p.stderr[-2000:]
  assert "Traceback" not in p.stderr and p.stderr.count(errors[0]) == 1
  return errors[0]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
  """A finished tiny run, scored with --mode=predict."""
  w = str(tmp_path_factory.mktemp("trained"))
  results = experiment.run(tiny_config(), w)
  experiment.run(tiny_config(), w, "predict")
  return w, results


def _copy(trained, tmp_path):
  w = str(tmp_path / "w")
  shutil.copytree(trained[0], w)
  return w


# ----------------------------------------------------------------------------- damaged checkpoint

def test_damaged_newest_checkpoint_retrains_through_it(trained, tmp_path, caplog):
  w = _copy(trained, tmp_path)
  step = os.path.join(w, "checkpoints", "classifier", "4")
  shutil.rmtree(os.path.join(step, "default", "ocdbt.process_0"))  # the disk lost the arrays
  with caplog.at_level(logging.WARNING):
    again = experiment.run(tiny_config(), w)  # falls back to epoch 2, retrains, re-saves 4
  warnings = [r.getMessage() for r in caplog.records if "cannot be restored" in r.getMessage()]
  assert len(warnings) == 1 and "\n" not in warnings[0] and step in warnings[0]
  assert [f["auc"] for f in again["folds"]] == [f["auc"] for f in trained[1]["folds"]]
  rerun = experiment.run(tiny_config(), w)  # and the workdir is not stranded
  assert [f["auc"] for f in rerun["folds"]] == [f["auc"] for f in trained[1]["folds"]]


def test_predict_after_a_damaged_final_checkpoint_is_one_line(trained, tmp_path):
  """Restoring a damaged step leaves TensorStore reads calling back into orbax's closed event loop;
  each used to print a traceback ('Event loop is closed', 29-305 lines)."""
  w = _copy(trained, tmp_path)
  arrays = os.path.join(w, "checkpoints", "classifier", "4", "default", "d")
  for name in os.listdir(arrays):
    with open(os.path.join(arrays, name), "wb") as f:
      f.write(os.urandom(100))
  p = launch("--config=configs/tiny.py", f"--workdir={w}", "--mode=predict")
  one_plain_line(p, "has no restorable checkpoint of a finished run (newest restorable epoch 2 of 4")
  assert "Event loop is closed" not in p.stderr
  assert len(p.stderr.strip().splitlines()) <= 3, p.stderr  # dataset, the damaged step, the error


def test_a_full_disk_is_one_line_and_leaves_no_results(tmp_path, monkeypatch):
  """The disk fills while the evaluation writes oof_predictions.csv: one plain error naming the
  remedy, and no results.json, which a finished workdir has (it is written last)."""
  w = tmp_path / "w"
  real = pd.DataFrame.to_csv

  def full(self, path, *args, **kwargs):
    if str(path).endswith(".csv") and "oof_predictions" in str(path):
      raise OSError(28, "No space left on device", str(path))
    return real(self, path, *args, **kwargs)
  monkeypatch.setattr(pd.DataFrame, "to_csv", full)
  with pytest.raises(MirjaxError, match="the disk is full .*oof_predictions.*rerun the same "
                                        "command") as raised:
    experiment.run(tiny_config(), str(w))
  assert "\n" not in str(raised.value)
  assert not (w / "results.json").exists() and (w / "config.json").exists()
  assert not [f for f in os.listdir(w) if f.startswith(".oof_predictions")]  # nothing half-written
  monkeypatch.setattr(pd.DataFrame, "to_csv", real)
  finished = experiment.run(tiny_config(), str(w))  # the rerun restores the models and finishes
  assert (w / "results.json").exists() and (w / "oof_predictions.csv").exists()
  assert finished["mean_auc"] > 0


# ----------------------------------------------------------------------------- the lock

def test_busy_workdir_is_refused_naming_the_holder(tmp_path):
  holder = subprocess.Popen(["sleep", "60"])
  try:
    w = tmp_path / "w"
    w.mkdir()
    (w / workdir.LOCK).write_text(json.dumps({
        "pid": holder.pid, "host": socket.gethostname(), "mode": "train",
        "started": "2026-11-26T10:00:00+00:00",
        "process_start": workdir._process_start(holder.pid)}))
    with pytest.raises(workdir.WorkdirBusyError,
                       match=rf"pid {holder.pid} on {socket.gethostname()}, mode train, started "
                             r"2026-11-26T10:00:00"):
      experiment.run(tiny_config(), str(w), "dataset")
    assert not (w / "config.json").exists()
  finally:
    holder.kill()
    holder.wait()


def test_two_runs_at_once_the_second_is_refused(tmp_path):
  w = str(tmp_path / "w")
  first = subprocess.Popen([sys.executable, os.path.join(ROOT, "launch.py"),
                            "--config=configs/tiny.py", f"--workdir={w}",
                            "--config.classifier.epochs=400"], cwd=ROOT,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
  try:
    lock = os.path.join(w, workdir.LOCK)
    for _ in range(600):
      if os.path.exists(lock) or first.poll() is not None:
        break
      subprocess.run(["sleep", "0.1"])
    second = launch("--config=configs/tiny.py", f"--workdir={w}", "--config.seed=1")
    one_plain_line(second, f"is in use by another run (pid {first.pid}")
  finally:
    first.kill()
    first.wait()


def test_stale_lock_is_taken_over(tmp_path, caplog):
  gone = subprocess.Popen(["true"])
  gone.wait()
  w = tmp_path / "w"
  w.mkdir()
  (w / workdir.LOCK).write_text(json.dumps({"pid": gone.pid, "host": socket.gethostname(),
                                            "mode": "train", "started": "earlier"}))
  with caplog.at_level(logging.WARNING):
    experiment.run(tiny_config(), str(w), "dataset")
  assert any("taking over the lock" in r.getMessage() for r in caplog.records)
  assert not (w / workdir.LOCK).exists()  # released after the run
  assert (w / "dataset.json").exists()


# ----------------------------------------------------------------------------- config checks

def test_dataset_mode_never_rewrites_a_trained_run(trained, tmp_path):
  w = _copy(trained, tmp_path)
  header = open(os.path.join(w, "config.json")).read()
  with pytest.raises(ConfigError, match="data.negatives.threshold"):
    experiment.run(tiny_config(**{"data.negatives.threshold": 3.0}), w, "dataset")
  experiment.run(tiny_config(), w, "dataset")  # same config: allowed, header kept
  assert open(os.path.join(w, "config.json")).read() == header


@pytest.mark.parametrize("mode", ["dataset", "predict", "query"])
def test_every_mode_checks_the_recorded_config(trained, mode):
  with pytest.raises(ConfigError, match="classifier.epochs"):
    experiment.run(tiny_config(**{"classifier.epochs": 5}), trained[0], mode)


def test_old_layout_workdir_is_refused_with_the_reason(trained, tmp_path):
  w = _copy(trained, tmp_path)
  header = json.load(open(os.path.join(w, "config.json")))
  del header["schema"]
  with open(os.path.join(w, "config.json"), "w") as f:
    json.dump(header, f)
  with pytest.raises(ConfigError, match="older mirjax .*checkpoints/lstm"):
    experiment.run(tiny_config(), w, "predict")


def test_scoring_does_not_touch_the_training_record(trained, tmp_path):
  w = _copy(trained, tmp_path)
  before = open(os.path.join(w, "metrics.jsonl")).read()
  experiment.run(tiny_config(), w, "predict")
  assert open(os.path.join(w, "metrics.jsonl")).read() == before


# ----------------------------------------------------------------------------- read-only workdirs

def _read_only_prefix(w: str) -> tuple:
  """Runs the command with `w` read-only: a read-only bind mount in a private mount namespace
  (root ignores permission bits), else permission bits."""
  if os.geteuid() != 0:
    for root, dirs, files in os.walk(w):
      for name in dirs + files:
        os.chmod(os.path.join(root, name), 0o555)
    os.chmod(w, 0o555)
    return ()
  if not shutil.which("unshare") or subprocess.run(
      ["unshare", "-m", "true"], capture_output=True).returncode:
    pytest.skip("needs unshare (mount namespaces) to make a read-only workdir as root")
  return ("unshare", "-m", "sh", "-c",
          f'mount --bind "{w}" "{w}" && mount -o remount,bind,ro "{w}" && exec "$@"', "sh")


def test_query_works_on_a_read_only_workdir_and_predict_says_why_not(trained, tmp_path):
  w = _copy(trained, tmp_path)
  prefix = _read_only_prefix(w)
  listed = launch("--config=configs/tiny.py", f"--workdir={w}", "--mode=query", "--gene=GENE3",
                  "--top=3", prefix=prefix)
  assert listed.returncode == 0, listed.stderr[-2000:]
  assert "top 3 miRNAs for GENE3" in listed.stdout
  pair = launch("--config=configs/tiny.py", f"--workdir={w}", "--mode=query",
                "--mirna=hsa-miR-syn-3", "--gene=GENE3", prefix=prefix)
  assert pair.returncode == 0 and "rank" in pair.stdout, pair.stderr[-2000:]
  refused = launch("--config=configs/tiny.py", f"--workdir={w}", "--mode=predict", prefix=prefix)
  one_plain_line(refused, f"--workdir={w} is not writable")


# ----------------------------------------------------------------------------- plain errors

@pytest.mark.parametrize("args, needle", [
    (["--config=configs/nope.py"], "--config=configs/nope.py cannot be loaded: [Errno 2]"),
    (["--config=configs/tiny.py", "--workdir="], "--workdir is empty"),
    (["--config=configs/tiny.py", "--config.ae.hiden=3"],
     "the config has no field 'hiden'; Did you mean \"hidden\""),
    (["--config=configs/tiny.py", "--config.data.dir=/no/such/dir"],
     "config.data.dir='/no/such/dir': is not a directory"),
])
def test_user_mistakes_are_one_plain_line(tmp_path, args, needle):
  if not any(a.startswith("--workdir") for a in args):
    args = args + [f"--workdir={tmp_path / 'w'}"]
  line = one_plain_line(launch(*args), needle)
  assert "\\'" not in line and "\\n" not in line


def test_workdir_that_is_a_file(tmp_path):
  f = tmp_path / "file"
  f.write_text("")
  one_plain_line(launch("--config=configs/tiny.py", f"--workdir={f}"), "is a file, not a directory")


def test_batch_size_is_checked_before_training_and_a_fixed_rerun_runs(tmp_path):
  w = tmp_path / "w"
  one_plain_line(launch("--config=configs/tiny.py", f"--workdir={w}",
                        "--config.classifier.batch_size=100000"),
                 "config.classifier.batch_size=100000 is larger than")
  assert not w.exists()  # the early failure leaves no empty workdir behind
  ok = launch("--config=configs/tiny.py", f"--workdir={w}", "--config.classifier.batch_size=64")
  assert ok.returncode == 0, ok.stderr[-2000:]


def test_include_known_alone_lists_all_pairs(trained, capsys):
  rows = experiment.run(tiny_config(), trained[0], "query",
                        ranking.Query(top=50, include_known=True))
  everything = pd.read_csv(os.path.join(trained[0], "predictions", "all_pairs.csv"))
  assert list(rows["rank"]) == list(range(1, 51))
  assert set(rows["status"]) == set(everything.sort_values("rank").head(50)["status"])
  assert "top 50 all pairs overall" in capsys.readouterr().out
  unknown = experiment.run(tiny_config(), trained[0], "query", ranking.Query(top=50))
  assert (unknown["status"] == "unknown").all()
  assert not np.array_equal(rows["rank"], unknown["rank"])


def test_predict_needs_a_trained_workdir(tmp_path):
  with pytest.raises(MirjaxError, match="does not exist"):
    experiment.run(tiny_config(), str(tmp_path / "never"), "predict")


def test_models_on_other_inputs_are_refused(tmp_path):
  """A universe's models restore by shape; under another version of their inputs they would score
  wrong, so a workdir that recorded another version (or none) is refused, and one without models
  passes."""
  config = tiny_config()
  w = str(tmp_path)
  workdir.check_inputs(w, 3, "why")  # nothing recorded yet
  workdir.write_header(config, w, "dataset")
  workdir.check_inputs(w, 3, "why")  # no models
  workdir.write_header(config, w, "train", model_inputs=3)
  workdir.check_inputs(w, 3, "why")
  with pytest.raises(ConfigError, match="version 3 of the prospective model's inputs; this mirjax "
                                        "reads version 4 \\(why\\)"):
    workdir.check_inputs(w, 4, "why")
  workdir.write_header(config, w, "train")
  with pytest.raises(ConfigError, match="older than 3.*new --workdir"):
    workdir.check_inputs(w, 3, "why")
