"""The replica-parallel training loop: vmapped == sequential, resume == uninterrupted, NaN fails fast."""

import json
import os
import shutil

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pandas as pd
import pytest

from conftest import tiny_config
from mirjax import experiment, replicas
from mirjax.checkpoints import ReplicaCheckpoints
from mirjax.errors import ConfigError
from mirjax.metrics_log import MetricsLog

def _oof(workdir):
  return pd.read_csv(os.path.join(workdir, "oof_predictions.csv"))


@pytest.fixture(scope="module")
def reference_run(tmp_path_factory):
  """One uninterrupted tiny run (vmapped folds), shared by the comparisons below."""
  w = str(tmp_path_factory.mktemp("reference"))
  results = experiment.run(tiny_config(), w)
  return w, results


def test_vmapped_folds_equal_each_fold_alone(reference_run, tmp_path):
  w, results = reference_run
  seq = experiment.run(tiny_config(**{"train.parallel_folds": False}), str(tmp_path))
  for a, b in zip(results["folds"], seq["folds"]):
    assert a["auc"] == pytest.approx(b["auc"], abs=2e-3)
  np.testing.assert_allclose(_oof(w)["score"], _oof(tmp_path)["score"], atol=2e-3)


def test_resume_after_kill_equals_uninterrupted(reference_run, tmp_path, monkeypatch):
  w, results = reference_run
  original = MetricsLog.append

  def killed_at_lstm_epoch_3(self, rows):
    if rows[0]["stage"] == "lstm" and rows[0]["epoch"] == 3:
      raise KeyboardInterrupt("simulated kill")
    original(self, rows)

  monkeypatch.setattr(MetricsLog, "append", killed_at_lstm_epoch_3)
  with pytest.raises(KeyboardInterrupt):
    experiment.run(tiny_config(), str(tmp_path))
  assert not (tmp_path / "results.json").exists()
  monkeypatch.setattr(MetricsLog, "append", original)
  resumed = experiment.run(tiny_config(), str(tmp_path))
  np.testing.assert_array_equal(_oof(w)["score"], _oof(tmp_path)["score"])
  assert [f["auc"] for f in resumed["folds"]] == [f["auc"] for f in results["folds"]]
  rows = MetricsLog(str(tmp_path / "metrics.jsonl")).rows()
  lstm_epochs = sorted({r["epoch"] for r in rows if r["stage"] == "lstm"})
  assert lstm_epochs == [1, 2, 3, 4]  # one history, no duplicated epochs
  assert len(rows) == 5 * (3 + 4)


def test_resume_refuses_a_different_config(reference_run, tmp_path):
  w, _ = reference_run
  shutil.copytree(w, tmp_path / "w")
  with pytest.raises(ConfigError, match="lstm.hidden"):
    experiment.run(tiny_config(**{"lstm.hidden": 8}), str(tmp_path / "w"))
  # Execution-only fields may differ.
  experiment.run(tiny_config(**{"train.parallel_folds": False}), str(tmp_path / "w"))


@pytest.mark.parametrize("damage", ["truncate", "remove_data"])
def test_damaged_latest_checkpoint_falls_back(reference_run, tmp_path, damage):
  w, _ = reference_run
  shutil.copytree(os.path.join(w, "checkpoints", "lstm"), tmp_path / "lstm")
  ckpt = ReplicaCheckpoints(str(tmp_path / "lstm"), keep=3)
  try:
    assert ckpt.steps() == [2, 4]
    template, step = ckpt.restore_latest()
    assert step == 4
    data_dir = tmp_path / "lstm" / "4" / "default"
    if damage == "remove_data":  # as if the disk lost the array files
      shutil.rmtree(data_dir / "ocdbt.process_0")
    else:  # every file of the step cut to a few bytes
      for root, _, files in os.walk(data_dir):
        for name in files:
          with open(os.path.join(root, name), "r+b") as f:
            f.truncate(3)
    state, step = ckpt.restore_latest(template)
    assert step == 2
    np.testing.assert_array_equal(np.asarray(state["epoch"]), 2)
  finally:
    ckpt.close()


def test_nan_loss_fails_fast_naming_the_replica(tmp_path):
  def loss_fn(params, model_state, data, idx, train):
    loss = jnp.mean((params["w"] - data["target"]) ** 2) * data["poison"]
    return loss, model_state

  tx = optax.adam(0.1)
  epoch_fn = replicas.make_epoch_fn(loss_fn, tx, batch_size=2, n_fit=4)
  state = jax.vmap(lambda k: replicas.init_state({"w": jnp.zeros(3)}, {}, tx, k))(
      jax.random.split(jax.random.PRNGKey(0), 3))
  data = {"fit_idx": jnp.tile(jnp.arange(4), (3, 1)), "val_idx": jnp.zeros((3, 0), jnp.int32),
          "target": jnp.ones(3), "poison": jnp.array([1.0, jnp.nan, 1.0])}
  axes = {"fit_idx": 0, "val_idx": 0, "target": None, "poison": 0}
  with pytest.raises(replicas.NonFiniteLossError, match=r"epoch 1 in replica\(s\) \[1\]"):
    replicas.train("toy", epoch_fn, state, data, axes, epochs=3, samples_per_epoch=4,
                   parallel=True, checkpoint_dir=str(tmp_path / "ckpt"), checkpoint_every=1,
                   keep_checkpoints=2, metrics_log=MetricsLog(str(tmp_path / "m.jsonl")))
  assert not os.path.exists(tmp_path / "ckpt" / "1")  # nothing saved from the bad epoch


def test_end_to_end_outputs(reference_run):
  w, results = reference_run
  for name in ("config.json", "dataset.json", "dataset_distances.png", "metrics.jsonl",
               "results.json", "oof_predictions.csv", "roc_curves.json", "roc.png",
               "loss_curves.png"):
    assert os.path.getsize(os.path.join(w, name)) > 0, name
  r = json.load(open(os.path.join(w, "results.json")))
  assert {"dataset", "folds", "mean_auc", "std_auc", "wall_seconds"} <= set(r)
  assert len(r["folds"]) == 5
  for f in r["folds"]:
    assert {"auc", "aupr", "precision", "recall", "accuracy", "f1", "confusion", "n_train",
            "n_test"} <= set(f)
    (tn, fp), (fn, tp) = f["confusion"]
    assert tn + fp + fn + tp == f["n_test"]
  assert r["mean_auc"] == pytest.approx(np.mean([f["auc"] for f in r["folds"]]))
  oof = _oof(w)
  assert len(oof) == r["dataset"]["n_labelled"] - r["dataset"]["n_left_out_for_equal_folds"]
  assert set(oof.columns) == {"fold", "mirna", "gene", "label", "score"}
  assert oof["score"].between(0, 1).all()
  rows = MetricsLog(os.path.join(w, "metrics.jsonl")).rows()
  assert {(r["stage"], r["replica"]) for r in rows} == {(s, k) for s in ("ae", "lstm")
                                                        for k in range(5)}
  assert all(r["samples_per_s"] > 0 and r["val_loss"] is not None for r in rows)
