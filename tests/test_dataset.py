"""Dataset construction on synthetic tables: labels, negative rules, folds, determinism."""

import numpy as np
import pytest

from conftest import synthetic_data_config
from mirjax.data import dataset, folds, negatives
from mirjax.errors import ConfigError


@pytest.fixture(scope="module")
def ds():
  return dataset.build_dataset(synthetic_data_config())


def _grid(ds, idx):
  return ds.pairs[idx, 0], ds.pairs[idx, 1]


def test_positives_are_exactly_the_functional_pairs(ds):
  mirnas, genes, evidence, _, _ = dataset.load_tables(synthetic_data_config())
  pos = ds.labels == 1
  assert pos.sum() == evidence.functional.sum() == ds.report["n_positive"]
  assert evidence.functional[_grid(ds, pos)].all()
  assert ds.report["n_nonfunctional_only"] > 0  # the generator plants some, and they are excluded


def test_negatives_are_unknown_and_beyond_threshold(ds):
  neg = ds.labels == 0
  mi, gi = _grid(ds, neg)
  assert (ds.status[mi, gi] == dataset.NEGATIVE).all()
  _, _, evidence, _, _ = dataset.load_tables(synthetic_data_config())
  assert not evidence.any_record[mi, gi].any()
  thr = ds.report["threshold"]
  assert thr == pytest.approx(ds.dissimilarity[evidence.functional].mean())
  assert (ds.dissimilarity[mi, gi] > thr).all()
  assert ds.report["n_negative"] == neg.sum() == ds.report["n_positive"]  # ratio 1


def test_config_threshold_and_band():
  base = dataset.build_dataset(synthetic_data_config())
  thr = base.report["threshold"] - 0.5
  banded = dataset.build_dataset(synthetic_data_config(**{"negatives.threshold": thr,
                                                          "negatives.band": 0.3}))
  r = banded.report
  assert r["threshold"] == thr and r["threshold_source"] == "config"
  d = banded.dissimilarity[_grid(banded, banded.labels == 0)]
  assert (d > thr + 0.3).all()
  assert r["n_dropped_by_band"] > 0
  assert r["n_candidates"] == r["n_candidates_beyond_threshold"] - r["n_dropped_by_band"]


def test_cosine_metric_means_less_similar():
  ds = dataset.build_dataset(synthetic_data_config(metric="cosine"))
  m = ds.mirna_vectors / np.linalg.norm(ds.mirna_vectors, axis=1, keepdims=True)
  g = ds.gene_vectors / np.linalg.norm(ds.gene_vectors, axis=1, keepdims=True)
  mi, gi = _grid(ds, ds.labels == 0)
  sim = (m[mi] * g[gi]).sum(1)
  assert (sim < ds.report["threshold_as_similarity"] + 1e-6).all()


def test_random_strategy_samples_all_unknown_distances():
  ds = dataset.build_dataset(synthetic_data_config(**{"negatives.strategy": "random"}))
  mi, gi = _grid(ds, ds.labels == 0)
  assert (ds.status[mi, gi] == dataset.NEGATIVE).all()
  assert ds.report["threshold"] is None
  dist = dataset.build_dataset(synthetic_data_config())
  # Random negatives reach below the distance threshold that the distance strategy enforces.
  assert ds.dissimilarity[mi, gi].min() < dist.report["threshold"]


def test_too_many_negatives_requested():
  with pytest.raises(ConfigError, match="eligible"):
    dataset.build_dataset(synthetic_data_config(**{"negatives.ratio": 50.0}))


def test_same_seed_same_dataset_other_seed_differs():
  a = dataset.build_dataset(synthetic_data_config())
  b = dataset.build_dataset(synthetic_data_config())
  c = dataset.build_dataset(synthetic_data_config(seed=1))
  np.testing.assert_array_equal(a.pairs, b.pairs)
  np.testing.assert_array_equal(a.folds, b.folds)
  assert not np.array_equal(a.folds, c.folds)


def test_folds_are_stratified_disjoint_and_equal(ds):
  k, n = ds.folds.shape
  assert k == 5
  flat = ds.folds.ravel()
  assert len(set(flat.tolist())) == flat.size  # disjoint
  assert flat.size + ds.report["n_left_out_for_equal_folds"] == ds.labels.size
  per_fold_pos = ds.labels[ds.folds].sum(1)
  assert (per_fold_pos == per_fold_pos[0]).all()
  train = folds.train_indices(ds.folds)
  for i in range(k):
    assert not set(train[i].tolist()) & set(ds.folds[i].tolist())
    assert train[i].size == (k - 1) * n


def test_fold_leftovers_are_counted():
  labels = np.array([1] * 12 + [0] * 9)
  f, left = folds.stratified_folds(labels, 5, np.random.default_rng(0))
  assert f.shape == (5, 3) and left == 2 + 4
  with pytest.raises(ConfigError):
    folds.stratified_folds(np.array([1, 1, 0]), 5, np.random.default_rng(0))


def test_pair_dissimilarity_matches_direct_computation():
  rng = np.random.default_rng(0)
  m, g = rng.normal(size=(4, 3)), rng.normal(size=(5, 3))
  e = negatives.pair_dissimilarity(m, g, "euclidean")
  c = negatives.pair_dissimilarity(m, g, "cosine")
  for i in range(4):
    for j in range(5):
      assert e[i, j] == pytest.approx(np.linalg.norm(m[i] - g[j]))
      assert c[i, j] == pytest.approx(1 - m[i] @ g[j] / np.linalg.norm(m[i]) / np.linalg.norm(g[j]))


def test_pair_features_layout(ds):
  x = ds.pair_features(np.array([0, 3]))
  np.testing.assert_array_equal(x[1, :16], ds.mirna_vectors[ds.pairs[3, 0]])
  np.testing.assert_array_equal(x[1, 16:], ds.gene_vectors[ds.pairs[3, 1]])
