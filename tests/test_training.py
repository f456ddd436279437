"""The replica-parallel training loop: every placement gives the same numbers, resume ==
uninterrupted, padding is masked, NaN fails fast. conftest.py gives this process 4 CPU devices."""

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
from mirjax import experiment, placement
from mirjax.errors import ConfigError
from mirjax.kernels import lstm_onednn as kernels_lstm
from mirjax.pairwise import models, stages
from mirjax.train import loop
from mirjax.train.checkpoints import ReplicaCheckpoints
from mirjax.train.metrics_log import MetricsLog

def _oof(workdir):
  return pd.read_csv(os.path.join(workdir, "oof_predictions.csv"))


@pytest.fixture(scope="module")
def reference_run(tmp_path_factory):
  """One uninterrupted tiny run (default placement), shared by the comparisons below."""
  w = str(tmp_path_factory.mktemp("reference"))
  results = experiment.run(tiny_config(), w)
  return w, results


def test_reference_run_splits_minibatches_and_pads_the_autoencoder():
  assert len(jax.devices()) == 4
  train = tiny_config().train
  assert placement.Placement.from_config(train, 5, batch_size=32).describe(5) == (
      "5 replicas on 4 cpu device(s): 4 with whole minibatches (vmap per device), 1 with each "
      "minibatch split over 4")
  assert placement.Placement.from_config(train, 5).describe(5) == (  # the AE: BatchNorm
      "5 replicas on 4 cpu device(s), map per device, 3 padding")


@pytest.mark.parametrize("n, devices, batch, shards, expected", [
    (5, 2, 128, 0, (1, 2)),  # 5 on 2 (the hybrid layout's fallback rule): split, no padding
    (5, 4, 32, 0, (1, 4)),
    (6, 4, 32, 0, (2, 2)),
    (8, 4, 32, 0, (4, 1)),   # the replicas fill the devices: no split
    (1, 2, 128, 0, (1, 2)),  # one model on both cores
    (5, 4, 30, 0, (4, 1)),   # 30 is not divisible by 4 or 2 with 5 replicas: pad instead
    (5, 4, 32, 1, (4, 1)),   # never split
    (5, 4, 32, 2, (2, 2)),   # forced: 2 replica shards, padded to 6
    (5, 4, 0, 0, (4, 1)),    # a stage whose minibatches are never split
])
def test_mesh_shape(n, devices, batch, shards, expected):
  assert placement.mesh_shape(n, devices, batch, shards) == expected


def test_batch_shards_must_divide_the_minibatch():
  with pytest.raises(ConfigError, match="batch_shards=3 must divide"):
    placement.mesh_shape(5, 4, 32, 3)


def test_one_device_loop_equals_sharded_loop(tmp_path):
  """The same per-replica program on 1 device or sharded over 4 (5 folds padded to 8)."""
  one = experiment.run(tiny_config(**{"train.devices": 1}), str(tmp_path / "one"))
  four = experiment.run(tiny_config(**{"train.batch_shards": 1}), str(tmp_path / "four"))
  np.testing.assert_array_equal(_oof(tmp_path / "one")["score"], _oof(tmp_path / "four")["score"])
  assert [f["auc"] for f in one["folds"]] == [f["auc"] for f in four["folds"]]


@pytest.mark.parametrize("shards", [0, 4])
def test_split_minibatches_equal_unsplit(reference_run, tmp_path, shards):
  """Minibatches split over 4 devices, only the fifth fold's (the reference run, a Hybrid layout)
  or every fold's, vs whole on one device: the gradient is the mean of the slices' means, equal up
  to float reassociation."""
  w, results = reference_run
  if shards:
    results = experiment.run(tiny_config(**{"train.batch_shards": shards}), str(tmp_path / "s"))
    w = tmp_path / "s"
  one = experiment.run(tiny_config(**{"train.devices": 1}), str(tmp_path / "one"))
  for a, b in zip(results["folds"], one["folds"]):
    assert a["auc"] == pytest.approx(b["auc"], abs=2e-3)
  np.testing.assert_allclose(_oof(w)["score"], _oof(tmp_path / "one")["score"], atol=2e-3)


def test_hybrid_layout_keeps_replica_order_and_splits_only_what_it_can():
  hybrid = placement.Placement.create(5, batch_size=32)
  assert isinstance(hybrid, placement.Hybrid) and hybrid.n_whole == 4
  assert hybrid.split.batch_shards == 4 and hybrid.whole.batch_shards == 1
  x = {"a": np.arange(5 * 3, dtype=np.float32).reshape(5, 3), "b": np.arange(5)}
  back = hybrid.to_host(hybrid.place(x, 5), 5)
  for k in x:
    np.testing.assert_array_equal(back[k], x[k])
  np.testing.assert_array_equal(hybrid.to_host(hybrid.valid(5), 5), np.ones(5, bool))
  # A minibatch the devices do not divide: no split part is possible, so one padded layout.
  padded = placement.Placement.create(5, batch_size=30)
  assert isinstance(padded, placement.Placement) and padded.describe(5).endswith("3 padding")
  # Replicas that divide the devices, or fewer replicas than devices: no hybrid either.
  assert isinstance(placement.Placement.create(8, batch_size=32), placement.Placement)
  assert placement.Placement.create(3, batch_size=32).batch_shards == 4


@pytest.mark.parametrize("devices", [1, 4])
def test_vmapped_replicas_equal_looped(reference_run, tmp_path, devices):
  """vmap lowers to batched matmuls: same math up to float reassociation."""
  w, results = reference_run
  vm = experiment.run(tiny_config(**{"train.replica_loop": "vmap", "train.devices": devices}),
                      str(tmp_path))
  for a, b in zip(results["folds"], vm["folds"]):
    assert a["auc"] == pytest.approx(b["auc"], abs=2e-3)
  np.testing.assert_allclose(_oof(w)["score"], _oof(tmp_path)["score"], atol=2e-3)


@pytest.mark.skipif(not kernels_lstm.available(), reason="oneDNN or g++ missing")
def test_onednn_backend_trains_the_same_models(reference_run, tmp_path):
  """lstm.backend=onednn: the same training, split minibatches and all, up to reassociation."""
  w, results = reference_run
  dnn = experiment.run(tiny_config(**{"lstm.backend": "onednn"}), str(tmp_path))
  for a, b in zip(results["folds"], dnn["folds"]):
    assert a["auc"] == pytest.approx(b["auc"], abs=2e-3)
  np.testing.assert_allclose(_oof(w)["score"], _oof(tmp_path)["score"], atol=2e-3)


def test_resume_after_kill_equals_uninterrupted(reference_run, tmp_path, monkeypatch):
  w, results = reference_run
  original = MetricsLog.append

  def killed_at_lstm_epoch_3(self, rows):
    if rows[0]["stage"] == "classifier" and rows[0]["epoch"] == 3:
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
  clf_epochs = sorted({r["epoch"] for r in rows if r["stage"] == "classifier"})
  assert clf_epochs == [1, 2, 3, 4]  # one history, no duplicated epochs
  assert len(rows) == 5 * (3 + 4)


def test_placement_probe_trains_in_the_layout_it_chose_and_records_it(reference_run, tmp_path):
  """train.placement=probe times the hybrid (the rule), the whole-minibatch and the all-split
  layouts and keeps the fastest: the run then equals the run forced into that layout, bit for bit."""
  probed = experiment.run(tiny_config(**{"train.placement": "probe"}), str(tmp_path / "probe"))
  record = json.loads((tmp_path / "probe" / "checkpoints" / "classifier" / loop.PLACEMENT_FILE
                       ).read_text())
  assert len(record["epoch_seconds"]) == 3 and record["chosen"] in record["epoch_seconds"]
  shards = (0 if "whole minibatches" in record["chosen"]
            else 4 if "split" in record["chosen"] else 1)
  forced = (experiment.run(tiny_config(**{"train.batch_shards": shards}), str(tmp_path / "forced"))
            if shards else reference_run[1])
  assert [f["auc"] for f in probed["folds"]] == [f["auc"] for f in forced["folds"]]


def test_a_recorded_placement_choice_is_kept(tmp_path):
  train = tiny_config(**{"train.placement": "probe"}).train
  candidates = placement.Placement.candidates(train, 5, batch_size=32)
  assert len(candidates) == 3 and isinstance(candidates[0], placement.Hybrid)
  assert candidates[1].batch_shards == 1 and candidates[2].batch_shards == 4
  stage = loop.Stage("classifier", 4, 32, 64, str(tmp_path), 2, 1)
  (tmp_path / loop.PLACEMENT_FILE).write_text(json.dumps({"chosen": candidates[1].describe(5)}))
  state = {"params": {"w": np.zeros((5, 2), np.float32)}}
  assert loop.choose_placement(stage, None, state, None, candidates) == (candidates[1], None)
  assert placement.Placement.candidates(tiny_config().train, 5, batch_size=32) == (
      placement.Placement.from_config(tiny_config().train, 5, 32),)


def test_resume_refuses_a_different_config(reference_run, tmp_path):
  w, _ = reference_run
  shutil.copytree(w, tmp_path / "w")
  with pytest.raises(ConfigError, match="lstm.hidden"):
    experiment.run(tiny_config(**{"lstm.hidden": 8}), str(tmp_path / "w"))
  # Execution-only fields may differ.
  experiment.run(tiny_config(**{"train.devices": 1}), str(tmp_path / "w"))


@pytest.mark.parametrize("damage", ["truncate", "remove_data"])
def test_damaged_latest_checkpoint_falls_back(reference_run, tmp_path, damage):
  w, _ = reference_run
  shutil.copytree(os.path.join(w, "checkpoints", "classifier"), tmp_path / "classifier")
  ckpt = ReplicaCheckpoints(str(tmp_path / "classifier"), keep=3)
  try:
    assert ckpt.steps() == [2, 4]
    template, step = ckpt.restore_latest()
    assert step == 4
    data_dir = tmp_path / "classifier" / "4" / "default"
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


def _toy_run(tmp_path, poison, place, epochs=3):
  """A 3-replica least-squares problem through loop.train; replica r fits target r."""
  def loss_fn(params, model_state, data, idx, train):
    loss = jnp.mean((params["w"] - data["target"]) ** 2) * data["poison"]
    return loss, model_state

  tx = optax.adam(0.1)
  epoch_fn = loop.make_epoch_fn(loss_fn, tx, batch_size=2, n_fit=4)
  state = jax.vmap(lambda k: loop.init_state({"w": jnp.zeros(3)}, {}, tx, k))(
      jax.random.split(jax.random.PRNGKey(0), 3))
  data = loop.ReplicaData(
      own={"fit_idx": jnp.tile(jnp.arange(4), (3, 1)), "val_idx": jnp.zeros((3, 0), jnp.int32),
           "target": jnp.arange(3.0)[:, None] * jnp.ones(3), "poison": jnp.asarray(poison)},
      shared={})
  log = MetricsLog(str(tmp_path / "m.jsonl"))
  stage = loop.Stage("toy", epochs=epochs, batch_size=2, n_fit=4,
                     checkpoint_dir=str(tmp_path / "ckpt"), checkpoint_every=1, keep_checkpoints=2)
  state = loop.train(stage, epoch_fn, state, data, placement=place, metrics_log=log)
  return state, log.rows()


def test_nan_loss_fails_fast_naming_the_replica(tmp_path):
  with pytest.raises(loop.NonFiniteLossError, match=r"epoch 1 in replica\(s\) \[1\]"):
    _toy_run(tmp_path, [1.0, np.nan, 1.0], placement.Placement.create(3))
  assert not os.path.exists(tmp_path / "ckpt" / "1")  # nothing saved from the bad epoch


@pytest.mark.parametrize("loop", ["map", "vmap"])
def test_padded_replicas_are_masked(tmp_path, loop):
  """3 replicas on 2 devices run as 4; the copy is never reported, saved or returned."""
  padded = placement.Placement.create(3, devices=2, loop=loop)
  assert padded.padded(3) == 4
  state, rows = _toy_run(tmp_path / "padded", [1.0, 1.0, 1.0], padded)
  alone, _ = _toy_run(tmp_path / "alone", [1.0, 1.0, 1.0], placement.Placement.create(3, 1, loop))
  assert state["params"]["w"].shape == (3, 3)
  np.testing.assert_allclose(state["params"]["w"], alone["params"]["w"], rtol=1e-6)
  assert sorted({r["replica"] for r in rows}) == [0, 1, 2]
  # Replica r moved towards its own target r: the padding copy of replica 0 did not leak in.
  assert np.all(np.diff(np.asarray(state["params"]["w"])[:, 0]) > 0)
  ckpt = ReplicaCheckpoints(str(tmp_path / "padded" / "ckpt"), keep=2)
  try:
    restored, step = ckpt.restore_latest()
    assert step == 3 and np.asarray(restored["params"]["w"]).shape == (3, 3)
  finally:
    ckpt.close()


def _regression_epochs(place, epochs=3):
  """3 replicas fitting y = x @ w_r by Adam on minibatches of 8 rows: the loss depends on which
  rows each device gets. Returns (final state as placed, the unpadded state)."""
  rng = np.random.default_rng(0)
  x = rng.normal(size=(32, 4)).astype(np.float32)
  w_true = rng.normal(size=(3, 4)).astype(np.float32)

  def loss_fn(params, model_state, data, idx, train):
    return jnp.mean((data["x"][idx] @ params["w"] - data["y"][idx]) ** 2), model_state

  tx = optax.adam(0.05)
  epoch_fn = loop.make_epoch_fn(loss_fn, tx, batch_size=8, n_fit=32)
  state = jax.vmap(lambda k: loop.init_state({"w": jnp.zeros(4)}, {}, tx, k))(
      jax.random.split(jax.random.PRNGKey(0), 3))
  own = {"y": (x @ w_true.T).T, "fit_idx": np.tile(np.arange(32), (3, 1)),  # y: [replica, row]
         "val_idx": np.zeros((3, 0), np.int32)}
  placed = place.place(state, 3)
  data = loop.ReplicaData(place.place(own, 3), place.place({"x": x}, 3, replicated=True))
  run = loop.compile_epoch(epoch_fn, place, placed, data)
  for _ in range(epochs):
    placed, _ = run(placed, data.own, data.shared, place.valid(3))
  return placed, place.unpad(placed, 3)


@pytest.mark.parametrize("devices, shards", [(2, 2), (4, 4), (4, 2)])
def test_split_minibatch_updates_equal_whole(devices, shards):
  whole = placement.Placement.create(3, 1, batch_size=8)
  split = placement.Placement.create(3, devices, batch_size=8, batch_shards=shards)
  assert split.batch_shards == shards
  _, expected = _regression_epochs(whole)
  placed, got = _regression_epochs(split)
  np.testing.assert_allclose(got["params"]["w"], expected["params"]["w"], rtol=1e-5, atol=1e-6)
  assert not np.allclose(got["params"]["w"], 0)
  # Every device of a replica's row holds exactly the same copy after the pmean'd updates.
  copies = {}
  for shard in placed["params"]["w"].addressable_shards:
    copies.setdefault(str(shard.index), []).append(np.asarray(shard.data))
  assert len(copies) == split.replica_shards
  for same in copies.values():
    assert len(same) == shards
    for c in same[1:]:
      np.testing.assert_array_equal(c, same[0])


def _lstm_replicas(place, keys, fit_idx, epochs=2):
  """LSTM classifiers (the real loss and update) trained on their own rows of one shared pool,
  one replica per key, all in one program placed by `place`. Returns the unpadded params."""
  rng = np.random.default_rng(0)
  n, in_dim = 64, 24
  clf = models.LSTMClassifier(hidden=8, layers=2, step_features=6)
  tx = optax.adam(1e-2)
  r = len(keys)
  state = jax.vmap(lambda k: loop.init_state(clf.init(k, jnp.zeros((2, in_dim)))["params"], {},
                                             tx, k))(jnp.stack(keys))
  own = {"latent": np.tile(rng.normal(size=(1, n, 4)).astype(np.float32), (r, 1, 1)),
         "mean": np.zeros((r, in_dim), np.float32), "std": np.ones((r, in_dim), np.float32),
         "fit_idx": fit_idx, "val_idx": np.zeros((r, 0), np.int32)}
  shared = {"x": rng.normal(size=(n, in_dim - 4)).astype(np.float32),
            "labels": rng.integers(0, 2, n).astype(np.int32)}
  epoch_fn = loop.make_epoch_fn(stages.classifier_loss_fn(clf), tx, batch_size=8,
                                n_fit=fit_idx.shape[1])
  placed = place.place(state, r)
  data = loop.ReplicaData(place.place(own, r), place.place(shared, r, replicated=True))
  run = loop.compile_epoch(epoch_fn, place, placed, data)
  for _ in range(epochs):
    placed, _ = run(placed, data.own, data.shared, place.valid(r))
  return place.unpad(placed, r)["params"], state["params"]


def test_each_vmapped_fold_equals_the_fold_trained_alone():
  """The design's promise on any backend (run on a GPU by benchmarks/gpu/run.sh): folds batched
  into one vmapped program train exactly as each fold would alone, up to float reassociation."""
  keys = list(jax.random.split(jax.random.PRNGKey(7), 3))
  fit_idx = np.stack([np.random.default_rng(f).permutation(64)[:48] for f in range(3)])
  together, init = _lstm_replicas(placement.Placement.create(3, 1, "vmap"), keys, fit_idx)
  for f in range(3):
    alone, _ = _lstm_replicas(placement.Placement.create(1, 1, "vmap"), keys[f:f + 1],
                              fit_idx[f:f + 1])
    for a, b, start in zip(jax.tree.leaves(together), jax.tree.leaves(alone),
                           jax.tree.leaves(init)):
      np.testing.assert_allclose(np.asarray(a)[f], np.asarray(b)[0], rtol=1e-4, atol=1e-5)
      assert not np.allclose(np.asarray(a)[f], np.asarray(start)[f])  # it trained


def test_split_minibatches_refuse_batch_statistics():
  def loss_fn(params, model_state, data, idx, train):
    return jnp.sum(params["w"]) * 0, model_state
  tx = optax.adam(0.1)
  epoch_fn = loop.make_epoch_fn(loss_fn, tx, batch_size=4, n_fit=4)
  place = placement.Placement.create(1, 2, batch_size=4)
  state = jax.vmap(lambda k: loop.init_state({"w": jnp.zeros(2)}, {"mean": jnp.zeros(2)},
                                             tx, k))(jax.random.split(jax.random.PRNGKey(0), 1))
  own = {"fit_idx": np.arange(4)[None], "val_idx": np.zeros((1, 0), np.int32)}
  with pytest.raises(ValueError, match="batch statistics"):
    loop.compile_epoch(epoch_fn, place, place.place(state, 1),
                       loop.ReplicaData(place.place(own, 1), {}))


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
  own = oof[oof["test_set"] == "own"]
  assert len(own) == r["dataset"]["n_labelled"] - r["dataset"]["n_left_out_for_equal_folds"]
  assert {"fold", "test_set", "mirna", "gene", "label", "score", "log_odds",
          "baseline_ease", "baseline_distance"} <= set(oof.columns)
  assert oof["score"].between(0, 1).all() and set(oof["test_set"]) == {"own", "random"}
  # the paper's model is measured on the honest protocol too, beside the baselines
  honest = r["honest"]["summary"]
  assert {"model", "ease", "truncated_svd", "distance"} <= set(honest)
  assert 0 <= honest["model"]["mirna_recall@20"]["mean"] <= 1
  rows = MetricsLog(os.path.join(w, "metrics.jsonl")).rows()
  assert {(r["stage"], r["replica"]) for r in rows} == {(s, k) for s in ("ae", "classifier")
                                                        for k in range(5)}
  assert all(r["samples_per_s"] > 0 and r["val_loss"] is not None for r in rows)
