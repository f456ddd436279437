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


def _config_file(tmp_path, body: str) -> str:
  path = tmp_path / "my_config.py"
  path.write_text("from mirjax.config import default_config\n\n\ndef get_config():\n"
                  "  c = default_config()\n" + body + "  return c\n")
  return str(path)


def test_a_config_files_mistakes_are_one_line(tmp_path):
  """A misspelt field set in a config file (not as an override) would be recorded and ignored; a
  wrong type, a syntax error or no get_config() would end in a traceback: each is one line."""
  cases = {"  c.classifier.epoch = 50\n": "config.classifier.epoch is no field of mirjax's config; "
                                           "did you mean classifier.epochs?",
           "  c.classifier.epochs = '4'\n": "cannot be loaded: line 6: TypeError",
           "  c.classifier.epochs = (\n": "cannot be loaded: line 6"}
  for body, want in cases.items():
    p = launch(f"--config={_config_file(tmp_path, body)}", f"--workdir={tmp_path / 'w'}",
               "--mode=dataset")
    lines = p.stderr.strip().splitlines()
    assert p.returncode != 0 and "Traceback" not in p.stderr, p.stderr[-2000:]
    assert len(lines) == 1 and lines[0].startswith("error: --config=") and want in lines[0], lines
  (tmp_path / "none.py").write_text("x = 1\n")
  p = launch(f"--config={tmp_path / 'none.py'}", f"--workdir={tmp_path / 'w'}")
  assert p.returncode != 0 and "defines no get_config()" in p.stderr and "Traceback" not in p.stderr
  assert not (tmp_path / "w").exists()


def test_a_question_without_query_mode_is_refused(tmp_path):
  """--gene without --mode=query would train (or re-evaluate) and rewrite a finished workdir."""
  p = launch("--config=configs/tiny.py", f"--workdir={tmp_path / 'w'}", "--gene=GENE22",
             "--top=3")
  assert p.returncode != 0 and "Traceback" not in p.stderr
  assert "--gene --top ask a question" in p.stderr and "--mode=query" in p.stderr
  assert not (tmp_path / "w").exists()
  p = launch("--config=configs/tiny.py", f"--workdir={tmp_path / 'w'}", "--mode=query", "--gene= ")
  assert p.returncode != 0 and "--gene names nothing" in p.stderr and "Traceback" not in p.stderr


def test_execution_fields_do_not_change_the_recorded_run():
  """Fewer evaluation threads, or checksums off, compute the same models: not a different run."""
  from mirjax import config as config_lib
  recorded = config_lib.default_config()
  changed = config_lib.override(recorded, {"protocols.workers": 1,
                                           "data.verify_checksums": False})
  assert config_lib.training_differences(recorded.to_dict(), changed) == []
  assert config_lib.training_differences(
      recorded.to_dict(), config_lib.override(recorded, {"protocols.seed": 1})) != []
