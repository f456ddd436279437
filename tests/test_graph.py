"""The honest protocol and the graph model: no test pair in any training role (checked on the
arrays the replicas really get), cold-start folds that never leak a node, graph features equal to
the NumPy baselines, and a graph model that learns a planted graph end to end."""

import json
import os
import re

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

from conftest import synthetic_data_config, tiny_config
from mirjax import experiment, family
from mirjax.data import content, testsets
from mirjax.data import dataset as dataset_lib
from mirjax.evaluation import baselines
from mirjax.graph import features as graph_features
from mirjax.graph import stage as graph_stage
from mirjax.graph.model import GraphModel
from mirjax.train.loop import Store

GRAPH = {"classifier.model": "graph", "ae.enabled": False, "classifier.epochs": 6,
         "graph.steps_per_epoch": 4, "graph.steps_per_mask": 2, "classifier.learning_rate": 0.01,
         "data.side_graph": True}


def _pairs(mask):
  return set(map(tuple, np.argwhere(mask)))


@pytest.mark.parametrize("split", ["pairs", "mirna", "gene", "both"])
def test_no_test_pair_in_any_training_role(split):
  ds = dataset_lib.build_dataset(synthetic_data_config(split=split))
  folds = testsets.folds(ds, split, 0)
  reps = graph_stage.GraphReplicas.of_members(family.members(tiny_config(**GRAPH), ds, folds))
  val_pos, val_neg, excluded = graph_stage.validation_split(reps, 0.1)
  for f in folds:
    test = _pairs(f.test_pairs)
    assert test and len(test) == len(f.tests["own"]) + len(f.tests["random"]) - len(
        set(map(tuple, f.tests["own"][:, :2])) & set(map(tuple, f.tests["random"][:, :2])))
    # the graph replica's own arrays: training graph, negative pool, inner validation pairs
    assert not test & _pairs(reps.train[f.index]) and not test & _pairs(reps.allowed[f.index])
    flat = np.zeros(ds.status.size, bool)
    flat[np.r_[val_pos[f.index], val_neg[f.index]]] = True
    assert not test & _pairs(flat.reshape(ds.status.shape))
    assert not (flat.reshape(ds.status.shape) & ~excluded[f.index]).any()  # never trained on
    assert reps.train[f.index][np.unravel_index(val_pos[f.index], ds.status.shape)].all()
    assert reps.allowed[f.index][np.unravel_index(val_neg[f.index], ds.status.shape)].all()
    # the pair-feature replica's training rows (positives and its labelled negatives)
    assert not test & set(map(tuple, ds.pairs[ds.train_idx[f.index]]))
    # nothing recorded in miRTarBase is ever an unlabelled negative
    assert not (reps.allowed[f.index] & (ds.status == dataset_lib.POSITIVE)).any()
    assert not (reps.allowed[f.index] & (ds.status == dataset_lib.RECORD_NOT_FUNCTIONAL)).any()


@pytest.mark.parametrize("split, cols", [("mirna", (0,)), ("gene", (1,)), ("both", (0, 1))])
def test_cold_inner_validation_holds_out_whole_nodes(split, cols):
  """A cold fold's model is selected on new nodes: its validation pairs' nodes of the cold side
  have no pair left in training, and the warm side keeps all of its nodes."""
  ds = dataset_lib.build_dataset(synthetic_data_config(split=split))
  reps = graph_stage.GraphReplicas.of_members(
      family.members(tiny_config(**GRAPH), ds, testsets.folds(ds, split, 0)))
  val_pos, val_neg, excluded = graph_stage.validation_split(reps, 0.1)
  for r in range(len(reps)):
    assert reps.cold[r].tolist() == [0 in cols, 1 in cols]
    rows = np.stack(np.unravel_index(np.r_[val_pos[r], val_neg[r]], ds.status.shape), 1)
    for col in cols:
      nodes = np.unique(rows[:, col])
      mask = excluded[r] if col == 0 else excluded[r].T
      assert mask[nodes].all()  # every pair of a validation node is out of training
    assert (reps.train[r] & ~excluded[r]).any()
    for col in {0, 1} - set(cols):  # whole nodes of the cold side only: the same for every warm node
      mask = excluded[r] if col == 1 else excluded[r].T
      assert (mask == mask[:, :1]).all()


@pytest.mark.parametrize("split, cols", [("mirna", (0,)), ("gene", (1,)), ("both", (0, 1))])
def test_cold_start_folds_never_leak_a_node(split, cols):
  ds = dataset_lib.build_dataset(synthetic_data_config(split=split))
  for f in testsets.folds(ds, split, 0):
    train_rows = ds.pairs[ds.train_idx[f.index]]
    for col in cols:
      nodes = np.unique(f.tests["own"][:, col])
      assert set(np.unique(f.tests["random"][:, col])) <= set(nodes)
      assert not set(nodes) & set(train_rows[:, col])
      graph = f.train_positive if col == 0 else f.train_positive.T
      allowed = f.allowed_negative if col == 0 else f.allowed_negative.T
      assert not graph[nodes].any() and not allowed[nodes].any()
    if split == "both":  # every test pair has both partners new
      m, g = np.unique(f.tests["own"][:, 0]), np.unique(f.tests["own"][:, 1])
      assert not np.isin(train_rows[:, 0], m).any() and not np.isin(train_rows[:, 1], g).any()


def test_graph_features_equal_the_numpy_baselines():
  """The JAX features the model learns on against the independently written NumPy baselines."""
  rng = np.random.default_rng(0)
  x = rng.random((23, 17)) < 0.2
  m, g = rng.normal(size=(23, 5)), rng.normal(size=(17, 5))
  gene_side, mirna_side = graph_features.ease_sides(jnp.asarray(x, jnp.float32), 7.0)
  np.testing.assert_allclose(np.asarray(gene_side + mirna_side), baselines.ease(x, 7.0),
                             rtol=1e-4, atol=1e-5)
  nodes = content.NodeContent(jnp.asarray(m, jnp.float32), jnp.asarray(g, jnp.float32),
                              jnp.zeros((23, 23)))
  f = graph_features.features(jnp.asarray(x, jnp.float32), nodes, ease_lambdas=(7.0,), cf=True,
                              cross_lambda=7.0, rp3_beta=0.5, content_knn=True, content_k=3,
                              degree_prior=0.0, families=False, zscore=True)
  assert f.shape == (23, 17, 3 * (2 + 2 + 1 + 1 + 5) + 2)  # 11 features, 22 z-scores, degrees
  np.testing.assert_allclose(np.asarray(f[..., 0] + f[..., 1]), baselines.ease(x, 7.0),
                             rtol=1e-4, atol=1e-5)
  np.testing.assert_allclose(np.asarray(f[:, 0, -2]), np.log1p(x.sum(1)) / 5, rtol=1e-6)
  # the kNN content feature equals the NumPy embedding-kNN baseline on the miRNA side
  np.testing.assert_allclose(np.asarray(f[..., 9]), baselines.embedding_knn(x, m, g, 3, "mirna"),
                             rtol=1e-4, atol=1e-5)
  np.testing.assert_allclose(np.asarray(f[0, :, -1]), np.log1p(x.sum(0)) / 5, rtol=1e-6)
  row_z = np.asarray(f[..., 11])  # the first feature standardized within each miRNA's row
  np.testing.assert_allclose(row_z[:, x.any(0)].mean(1), 0, atol=1e-5)  # over genes with edges
  # with a side graph (miRTarBase outside the grid): the EASE features are the NumPy baseline's
  side_m, side_g = (rng.poisson(2.0, (n, n)).astype(np.float32) for n in (23, 17))
  side_m, side_g = side_m + side_m.T, side_g + side_g.T
  sided = nodes._replace(mirna_side=jnp.asarray(side_m), gene_side=jnp.asarray(side_g))
  f = graph_features.features(jnp.asarray(x, jnp.float32), sided, ease_lambdas=(7.0,), cf=False,
                              cross_lambda=0.0, rp3_beta=0.0, content_knn=False, content_k=3,
                              degree_prior=0.0, families=False, zscore=False)
  np.testing.assert_allclose(np.asarray(f[..., 0] + f[..., 1]),
                             baselines.ease_side_graph(x, 7.0, side_m, side_g), rtol=1e-4, atol=1e-4)
  has = x.any(1)
  np.testing.assert_allclose(np.asarray(f[:, 0, -2]), np.log1p(np.diag(side_m) * has) / 5, rtol=1e-6)


def test_a_new_nodes_content_never_reaches_the_other_pairs_features():
  """Cold start without leakage: whatever a node without edges (a test fold's new miRNA) carries as
  content, the features of every pair that does not involve it are the same, z-scores included;
  and so are the model's scores of those pairs, cold head included. Its side-graph counts reach
  no feature at all, its own pairs' included."""
  rng = np.random.default_rng(2)
  x = rng.random((15, 11)) < 0.3
  x[4] = False  # miRNA 4 is new
  m, g = rng.normal(size=(15, 6)), rng.normal(size=(11, 6))
  family = content.same_family([f"hsa-miR-{i % 5}-5p" for i in range(15)])
  kw = dict(ease_lambdas=(7.0,), cf=True, cross_lambda=7.0, rp3_beta=0.5, content_knn=True,
            content_k=3, degree_prior=5.0, families=True, zscore=True)
  xs = jnp.asarray(x, jnp.float32)
  m2 = m.copy()
  m2[4] = 100 * rng.normal(size=6)
  side_m, side_g = rng.poisson(2.0, (15, 15)), rng.poisson(2.0, (11, 11))
  side_m2 = side_m.copy()
  side_m2[4], side_m2[:, 4] = 40, 40  # what it had outside the grid: a new node has no edges there
  nodes = [content.NodeContent(jnp.asarray(v, jnp.float32), jnp.asarray(g, jnp.float32),
                               jnp.asarray(family), jnp.asarray(s, jnp.float32),
                               jnp.asarray(side_g, jnp.float32))
           for v, s in ((m, side_m), (m2, side_m2))]
  f1, f2 = (np.asarray(graph_features.features(xs, n, **kw)) for n in nodes)
  others = np.arange(15) != 4
  np.testing.assert_allclose(f1[others], f2[others], rtol=1e-5, atol=1e-5)
  assert not np.allclose(f1[4], f2[4])  # its own pairs do see its content
  side_only = nodes[0]._replace(mirna_side=nodes[1].mirna_side)
  np.testing.assert_array_equal(np.asarray(graph_features.features(xs, side_only, **kw)), f1)
  cfg = tiny_config(**GRAPH, **{"graph.content": True, "graph.degree_prior": 5.0,
                                "graph.families": True, "graph.cold_head": True, "graph.content_k": 3})
  model = GraphModel.of(cfg.graph, 15, 11)
  params = model.init(jax.random.PRNGKey(0), nodes[0])
  s1, s2 = (np.asarray(model.log_odds(params, xs, n)) for n in nodes)
  np.testing.assert_allclose(s1[others], s2[others], rtol=1e-5, atol=1e-5)
  # untrained, the cold head scores a new node's pairs by the two imputed log degrees, standardized
  # over the pairs of known nodes (its partner's by its own degree, the new node's as predicted)
  feats = model.features(xs, nodes[0])
  has_m, has_g = x.any(1), x.any(0)  # the last two features: the imputed log degrees
  np.testing.assert_allclose(np.asarray(feats[has_m, 0, -2]), np.log1p(x.sum(1))[has_m] / 5,
                             rtol=1e-6)
  np.testing.assert_allclose(np.asarray(feats[0, has_g, -1]), np.log1p(x.sum(0))[has_g] / 5,
                             rtol=1e-6)
  known = jnp.asarray(x.any(1)[:, None] & x.any(0)[None, :], jnp.float32)
  z = np.asarray(graph_features.standardized(feats, known[..., None], (0, 1), 1e-6))
  np.testing.assert_allclose(s1[4], z[4, :, -2] + z[4, :, -1], rtol=1e-5, atol=1e-5)


def test_cold_start_features_equal_the_numpy_baselines():
  """The family and predicted-degree features against the NumPy cold-start baselines, on a graph
  whose rows 0-2 are new (no edges), as a new miRNA's are."""
  rng = np.random.default_rng(1)
  x = rng.random((12, 9)) < 0.4
  x[:3] = False
  x[:, 0] = False  # and gene 0
  names = ["hsa-miR-19a-3p", "hsa-miR-7-5p", "hsa-miR-99", "hsa-miR-19b-3p", "hsa-miR-19b-5p",
           "hsa-miR-7-1-5p", "hsa-let-7a-5p", "hsa-miR-100", "GENE-like", "hsa-miR-20a-5p",
           "hsa-miR-20b-5p", "hsa-let-7b-5p"]
  family = content.same_family(names)
  m, g = rng.normal(size=(12, 4)), rng.normal(size=(9, 4))
  nodes = content.NodeContent(jnp.asarray(m, jnp.float32), jnp.asarray(g, jnp.float32),
                              jnp.asarray(family))
  f = np.asarray(graph_features.features(
      jnp.asarray(x, jnp.float32), nodes, ease_lambdas=(7.0,), cf=False, cross_lambda=0.0,
      rp3_beta=0.0, content_knn=False, content_k=3, degree_prior=5.0, families=True,
      zscore=False))
  assert f.shape == (12, 9, 2 + 1 + 5)  # EASE x2, family rows; 2 degrees, has-family, 2 imputed
  # family rows, as the name_family baseline without its popularity tie-break
  tie_break = 1e-3 * x.sum(0) / x.sum(0).max()
  np.testing.assert_allclose(f[..., 2], baselines.name_family(x, family) - tie_break, atol=1e-5)
  assert f[0, :, 2].any() and not f[2, :, 2].any()  # miR-19a has a family with edges, miR-99 not
  assert f[0, 0, -3] == 5 / 5 and f[2, 0, -3] == 0
  # degrees, a node without edges taking its content's prediction (as content_degree's)
  for got, graph, vectors in ((f[:, 0, -2], x, m), (f[0, :, -1], x.T, g)):
    imputed = np.where(graph.any(1), np.log1p(graph.sum(1)),
                       baselines.predicted_log_degree(graph, vectors, 5.0))
    np.testing.assert_allclose(got, imputed / 5, rtol=1e-4)


@pytest.fixture(scope="module")
def graph_run(tmp_path_factory):
  w = str(tmp_path_factory.mktemp("graph"))
  results = experiment.run(tiny_config(**GRAPH), w)
  return w, results


def test_graph_model_learns_the_planted_graph_and_writes_every_number(graph_run):
  w, results = graph_run
  h = results["honest"]["summary"]
  assert h["model"]["random_auc"]["mean"] > 0.8
  assert h["model"]["random_auc"]["mean"] > h["degree_product"]["random_auc"]["mean"]
  assert h["ease_side_graph"]["random_auc"]["mean"] > 0.5  # data.side_graph's baseline beside it
  board = open(os.path.join(w, "leaderboard.md")).read()  # the run's own leaderboard
  for name in h:
    assert f"| {'graph' if name == 'model' else name} | " in board
  assert "| graph | random_auc | " in board and os.path.exists(os.path.join(w, "leaderboard.png"))
  oof = pd.read_csv(os.path.join(w, "oof_predictions.csv"))
  assert set(oof["test_set"]) == {"own", "random"}
  # every AUC in results.json is recomputable from the OOF file
  from mirjax.evaluation import metrics
  for (fold, test_set), rows in oof.groupby(["fold", "test_set"]):
    per_fold = results["honest"]["per_fold"]
    assert metrics.roc_auc(rows["label"], rows["log_odds"]) == pytest.approx(
        per_fold["model"][fold][f"{test_set}_auc"])
    assert metrics.roc_auc(rows["label"], rows["baseline_ease"]) == pytest.approx(
        per_fold["ease"][fold][f"{test_set}_auc"])
  grids = np.load(os.path.join(w, "grid_scores.npz"))
  assert grids["model_log_odds"].shape == (5, 40, 30)
  assert not (grids["train_positive"] & grids["test_positive"]).any()
  rows = [json.loads(line) for line in open(os.path.join(w, "metrics.jsonl"))]
  assert {r["stage"] for r in rows} == {"graph"} and all("val_auc" in r for r in rows)
  # its throughput counts optimizer steps (each scores the whole grid), not samples
  assert all(r["steps_per_s"] > 0 and "samples_per_s" not in r for r in rows)


def test_graph_scoring_program_takes_the_content_as_arguments(graph_run):
  """Closed over, the nodes' content became constants that XLA folded at compile time (on the real
  grid over a second per matrix, printing 'E ... Constant folding' lines on a successful run)."""
  w, _ = graph_run
  config = tiny_config(**GRAPH)
  ds = dataset_lib.build_dataset(config.data)
  fam = family.of(config)
  trained = fam.restore(family.members(config, ds, testsets.folds(ds, "pairs", 0)),
                        Store.of_workdir(w, config.train))
  program, args = trained.scoring_program()
  hlo = program.lower(*args).as_text()
  shapes = re.findall(r"stablehlo\.constant dense<.*?> : tensor<([0-9x]+)x[a-z0-9]+>", hlo)
  sizes = [int(np.prod([int(d) for d in shape.split("x")])) for shape in shapes]
  assert max(sizes, default=0) < 100, sizes  # scalars and small index tables only


def test_cold_start_graph_model_beats_the_partner_popularity(tmp_path):
  """A new-miRNA run with every cold-start option (content vectors with sequence embeddings,
  degree prior, families, cold head, node dropout): its model ranks a new miRNA's planted partners
  above popularity and writes the cold baselines beside it."""
  cold = {**GRAPH, "data.split": "mirna", "data.sequence_embeddings": True, "graph.content": True,
          "graph.degree_prior": 10.0, "graph.families": True, "graph.cold_head": True,
          "graph.node_dropout": 0.5, "graph.content_k": 5}
  results = experiment.run(tiny_config(**cold), str(tmp_path))
  h = results["honest"]["summary"]
  assert {"partner_popularity", "embedding_knn", "content_degree", "name_family"} <= set(h)
  assert h["model"]["random_auc"]["mean"] > h["partner_popularity"]["random_auc"]["mean"] + 0.1


def test_graph_predict_and_query(graph_run, capsys):
  w, results = graph_run
  config = tiny_config(**GRAPH)
  table = experiment.run(config, w, "predict")
  assert len(table) == 40 * 30 and (np.diff(table["rank"]) > 0).all()
  row = table.iloc[5]
  from mirjax import ranking
  answer = experiment.run(config, w, "query", ranking.Query(mirna=row["mirna"], gene=row["gene"]))
  assert answer["score"] == pytest.approx(row["score"], abs=1e-6) and answer["rank"] == row["rank"]


def test_graph_sweep_replica_equals_the_standalone_run(graph_run, tmp_path):
  """A graph point of a sweep trains the same replicas as configs with the same settings alone."""
  w, results = graph_run
  config = tiny_config(**GRAPH)
  config.sweep.variants = ("graph:",)
  sweep_results = experiment.run(config, str(tmp_path))
  reps = pd.read_csv(tmp_path / "sweep_replicas.csv")
  mine = reps[reps.point == "graph"].sort_values("fold")
  alone = results["honest"]["per_fold"]["model"]
  assert sweep_results["replicas"] == 5
  np.testing.assert_allclose(mine["random_auc"], [f["random_auc"] for f in alone], atol=1e-6)
  np.testing.assert_allclose(mine["mirna_recall@20"], [f["mirna_recall@20"] for f in alone],
                             atol=1e-6)
