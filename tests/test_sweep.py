"""Sweeps: point expansion, replica bookkeeping, sweep replicas == standalone runs, the report."""

import os

import numpy as np
import pandas as pd
import pytest

from conftest import tiny_config
from mirjax import experiment, sweep
from mirjax.errors import ConfigError


def _sweep_config(**overrides):
  c = tiny_config(**overrides)
  c.sweep.variants = ("full:", "random_negatives: data.negatives.strategy=random",
                      "distance_only: classifier.model=distance")
  c.sweep.grid = ("classifier.learning_rate=0.001,0.003",)
  c.sweep.seeds = (0, 1)
  return c


def test_points_are_variants_times_grid():
  points = sweep.expand(_sweep_config())
  assert [p.name for p in points] == [
      "full learning_rate=0.001", "full learning_rate=0.003",
      "random_negatives learning_rate=0.001", "random_negatives learning_rate=0.003",
      "distance_only learning_rate=0.001", "distance_only learning_rate=0.003"]
  assert points[3].config.data.negatives.strategy == "random"
  assert points[3].config.classifier.learning_rate == 0.003
  assert points[0].settings == {"classifier.learning_rate": 0.001}


def test_points_that_differ_in_node_content_train_in_separate_groups():
  """A graph group shares one NodeContent: a sweep over data.side_graph (or the sequence
  embeddings) must not train both points on the first point's."""
  c = tiny_config(**{"classifier.model": "graph", "ae.enabled": False})
  c.sweep.variants = ("plain:", "side: data.side_graph=True", "seq: data.sequence_embeddings=True",
                      "other_fold_data: data.seed=3")
  keys = [sweep._group_key(p.config, 100) for p in sweep.expand(c)]
  assert len(set(keys[:3])) == 3 and keys[3] == keys[0]


@pytest.mark.parametrize("field, text, message", [
    ("variants", ("x: lstm.hiden=3",), "no field 'lstm.hiden'"),
    ("variants", ("x lstm.hidden=3",), "is not 'name: field=value"),
    ("grid", ("lstm.hidden",), "is not 'field=v1,v2"),
    ("variants", ("x: lstm.hidden='wide'",), "wrong type"),
    ("variants", ("x: data.dim=8",), "changes data.dim"),
    ("variants", ("x: classifier.model=transformer",), "classifier.model"),
])
def test_bad_sweep_points_name_the_problem(field, text, message):
  c = tiny_config()
  c.sweep[field] = text
  with pytest.raises(ConfigError, match=message):
    sweep.expand(c)


@pytest.fixture(scope="module")
def sweep_run(tmp_path_factory):
  w = str(tmp_path_factory.mktemp("sweep"))
  results = experiment.run(_sweep_config(), w)
  return w, results


def test_sweep_rows_come_from_the_replicas_they_claim(sweep_run):
  w, results = sweep_run
  table = pd.read_csv(os.path.join(w, "sweep.csv"), keep_default_na=False, na_values=[""])
  reps = pd.read_csv(os.path.join(w, "sweep_replicas.csv"))
  # full and random_negatives have the same shapes: all 4 trained points are one group; the
  # distance points another (one replica per fold: their seeds would repeat the same scores).
  assert results["groups"] == 2 and results["replicas"] == 4 * 2 * 5 + 2 * 5
  for _, row in table.iterrows():
    claimed = row["replicas"].split()
    mine = reps[reps.point == row["point"]]
    assert sorted(claimed) == sorted(mine["replica"])
    assert len(claimed) == (2 * 5 if row["model"] in ("lstm", "graph") else 5)
    assert len(set(zip(mine["seed"].fillna(-1), mine["fold"]))) == len(claimed)
    for m in ("own_auc", "random_auc", "mirna_recall@20"):
      assert row[f"{m}_mean"] == pytest.approx(mine[m].mean())
      assert row[f"{m}_std"] == pytest.approx(mine[m].std(ddof=1))
  # Each data setting (random negatives change the labelled pairs, so the folds) has its baselines.
  assert set(table[table.model == "baseline"]["data"].fillna("")) == {"", "strategy=random"}
  # No replica id is claimed by two points.
  every = " ".join(table["replicas"]).split()
  assert len(every) == len(set(every))


def test_sweep_replica_equals_the_standalone_run(sweep_run, tmp_path):
  """Point 'random_negatives, lr 0.003', seed 1, in a shared pool and program == its own run."""
  w, _ = sweep_run
  reps = pd.read_csv(os.path.join(w, "sweep_replicas.csv"))
  alone = experiment.run(tiny_config(**{"data.negatives.strategy": "random",
                                        "classifier.learning_rate": 0.003, "seed": 1}), str(tmp_path))
  mine = reps[(reps.point == "random_negatives learning_rate=0.003")
              & (reps.seed == 1)].sort_values("fold")
  np.testing.assert_allclose(mine["own_auc"], [f["auc"] for f in alone["folds"]], atol=1e-6)
  honest = alone["honest"]["per_fold"]["model"]
  np.testing.assert_allclose(mine["random_auc"], [f["random_auc"] for f in honest], atol=1e-6)


def test_distance_only_rows_are_the_distance_baseline(sweep_run):
  w, _ = sweep_run
  reps = pd.read_csv(os.path.join(w, "sweep_replicas.csv"))
  d = reps[reps.point == "distance_only learning_rate=0.001"].sort_values("fold")
  b = reps[reps.point == "distance"].sort_values("fold")
  np.testing.assert_allclose(d["random_auc"], b["random_auc"])
  np.testing.assert_allclose(d["own_auc"], b["own_auc"])


def test_report_and_plots_are_written(sweep_run):
  w, _ = sweep_run
  text = open(os.path.join(w, "REPORT.md")).read()
  for needle in ("| point | model | replicas |", "0.9548", "SG-LSTM-FRAME", "random test",
                 "Distance-based negatives help", "![", "sweep_learning_rate.png",
                 "leaderboard.png", "## Against the baselines, fold by fold", "| ease |"):
    assert needle in text, needle
  assert os.path.getsize(os.path.join(w, "sweep_learning_rate.png")) > 0
  assert os.path.getsize(os.path.join(w, "leaderboard.png")) > 0


def test_sweep_refuses_predict(sweep_run):
  w, _ = sweep_run
  with pytest.raises(ConfigError, match="single run"):
    experiment.run(_sweep_config(), w, mode="predict")
