"""launch.py as a user runs it: outputs in the workdir, and plain errors for bad flags."""

import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SYNTHETIC = ["--config.data.source=synthetic", "--config.data.dim=16",
             "--config.data.synthetic.n_mirna=40", "--config.data.synthetic.n_gene=30"]


def launch(*args, env=None):
  return subprocess.run([sys.executable, os.path.join(ROOT, "launch.py"), *args], cwd=ROOT,
                        capture_output=True, text=True, env=env, timeout=600)


def test_dataset_mode_writes_report_and_plot(tmp_path):
  w = tmp_path / "w"
  p = launch("--config=configs/quick.py", f"--workdir={w}", "--mode=dataset", *SYNTHETIC)  # no training
  assert p.returncode == 0, p.stderr
  report = json.loads((w / "dataset.json").read_text())
  assert report["n_mirna"] == 40 and report["n_negative"] == report["n_positive"] > 0
  header = json.loads((w / "config.json").read_text())
  assert header["config"]["data"]["source"] == "synthetic"
  assert header["versions"]["jax"] and header["seeds"] == {"train": 0, "data": 0}
  assert (w / "dataset_distances.png").read_bytes()[:4] == b"\x89PNG"


def test_unknown_config_field_is_a_plain_error(tmp_path):
  p = launch("--config=configs/quick.py", f"--workdir={tmp_path}", "--config.data.thresold=3")
  assert p.returncode != 0
  assert "no field 'thresold'" in p.stderr and "Traceback" not in p.stderr


def test_bad_config_value_is_a_plain_error(tmp_path):
  p = launch("--config=configs/quick.py", f"--workdir={tmp_path}", "--config.data.folds=1",
             *SYNTHETIC)
  assert p.returncode != 0
  assert "config.data.folds=1" in p.stderr and "Traceback" not in p.stderr


def test_negative_epochs_is_a_plain_error(tmp_path):
  p = launch("--config=configs/tiny.py", f"--workdir={tmp_path}", "--config.classifier.epochs=-1")
  assert p.returncode != 0
  assert "config.classifier.epochs=-1: must be at least 1" in p.stderr and "Traceback" not in p.stderr


def test_missing_data_names_the_file_and_remedies(tmp_path):
  env = {k: v for k, v in os.environ.items() if k != "MIRJAX_DATA_DIR"}
  env["XDG_CACHE_HOME"] = str(tmp_path / "cache")
  (tmp_path / "nothing").mkdir()  # an existing directory without the inputs
  p = launch("--config=configs/quick.py", f"--workdir={tmp_path / 'w'}",
             f"--config.data.dir={tmp_path / 'nothing'}", "--config.data.fetch=False", env=env)
  assert p.returncode != 0
  assert "SG128_383_miRNA.csv" in p.stderr and "MIRJAX_DATA_DIR" in p.stderr
  assert not (tmp_path / "w" / "dataset.json").exists()


def test_graph_steps_per_epoch_zero_is_a_plain_error(tmp_path):
  p = launch("--config=configs/tiny.py", f"--workdir={tmp_path}", "--config.classifier.model=graph",
             "--config.ae.enabled=False", "--config.graph.steps_per_epoch=0")
  assert p.returncode != 0 and "Traceback" not in p.stderr
  assert "config.graph.steps_per_epoch=0: must be at least 1" in p.stderr


def test_the_log_filter_keeps_mirjax_lines_wherever_the_checkout_lives(tmp_path):
  """Checked out as `mirjax/` (the natural clone name), the virtual environment's libraries sit
  under a `mirjax/` directory too: their INFO lines must still be dropped."""
  import logging
  from mirjax import console
  keep = console.ProgressOnly().filter

  def record(path, level=logging.INFO, message="x"):
    return logging.LogRecord("absl", level, path, 1, message, None, None)
  package = os.path.join(ROOT, "mirjax", "train", "loop.py")
  clone_venv = "/home/me/mirjax/.venv/lib/python3.11/site-packages/orbax/checkpoint/x.py"
  assert keep(record(package)) and keep(record(os.path.join(ROOT, "launch.py")))
  assert not keep(record(clone_venv))
  assert keep(record(clone_venv, logging.WARNING, "a real warning"))
  assert not keep(record(clone_venv, logging.WARNING, "Given directory is read only=/w"))
