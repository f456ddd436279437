"""Honest evaluation data: cold-start folds never leak, random-negative test sets, and the
distance-only baseline on synthetic data whose planted signal is known."""

import numpy as np
import pytest

from conftest import synthetic_data_config
from mirjax.data import content, testsets
from mirjax.evaluation import honest
from mirjax.evaluation import metrics as evaluation
from mirjax.data import dataset as dataset_lib
from mirjax.data import folds as folds_lib
from mirjax.errors import ConfigError


@pytest.mark.parametrize("split, col", [("mirna", 0), ("gene", 1)])
def test_cold_start_split_never_leaks_into_training(split, col):
  ds = dataset_lib.build_dataset(synthetic_data_config(split=split))
  train = folds_lib.train_indices(ds.folds)
  assert ds.report["split"] == split
  assert len({len(f) for f in ds.folds}) == 1 and len({len(t) for t in train}) == 1
  for f, (test_idx, train_idx) in enumerate(zip(ds.folds, train)):
    test_items = set(ds.pairs[test_idx, col])
    assert not test_items & set(ds.pairs[train_idx, col]), f"fold {f} leaks"
    # The random-negative test set stays cold too.
    rnd = testsets.random_negative_tests(ds, split, seed=0)[f]
    assert set(rnd[:, col]) <= test_items
  # Each miRNA (gene) is tested in exactly one fold.
  seen = [set(ds.pairs[idx, col]) for idx in ds.folds]
  assert sum(len(s) for s in seen) == len(set().union(*seen))
  n_in_folds = ds.folds.size
  assert n_in_folds + ds.report["n_left_out_for_equal_folds"] == ds.labels.size


@pytest.mark.parametrize("split", ["mirna", "gene", "both"])
def test_cold_ranking_lists_hold_only_the_settings_pairs(split):
  """A cold split's lists rank new nodes only: how a model scores pairs outside the setting (in
  'both', a new miRNA's pairs with known genes, many of them recorded positives kept out of
  training and test) changes no ranking metric."""
  ds = dataset_lib.build_dataset(synthetic_data_config(split=split))
  for fold, (test_idx, train_idx) in zip(testsets.folds(ds, split, 0), zip(ds.folds, ds.train_idx)):
    new_m = np.isin(np.arange(ds.status.shape[0]), fold.tests["own"][:, 0])
    new_g = np.isin(np.arange(ds.status.shape[1]), fold.tests["own"][:, 1])
    block = {"mirna": new_m[:, None] & True, "gene": new_g[None, :] & True,
             "both": new_m[:, None] & new_g[None, :]}[split]
    used = np.zeros(ds.status.shape, bool)
    used[tuple(ds.pairs[np.concatenate([test_idx, train_idx])].T)] = True
    labelled = np.zeros(ds.status.shape, bool)
    labelled[tuple(ds.pairs.T)] = True
    np.testing.assert_array_equal(fold.candidate, block & ~(labelled & ~used))
    # No recorded positive outside training and test is on a list.
    hidden = (ds.status == dataset_lib.POSITIVE) & ~fold.train_positive & ~fold.test_positive
    assert not (hidden & fold.candidate).any()
    if split == "both":
      assert hidden.any()
    assert fold.candidate[fold.test_positive].all() and not fold.candidate.all()
    if len({*fold.tests["own"][:, 2]}) < 2:  # a tiny synthetic fold without both labels: no AUC
      continue
    scores = np.random.default_rng(fold.index).normal(size=fold.train_positive.shape)
    low, high = scores.copy(), scores.copy()
    low[~fold.candidate], high[~fold.candidate] = -100.0, 100.0
    a, b = honest.evaluate(low, fold), honest.evaluate(high, fold)
    for k in ("mirna_recall@20", "gene_recall@20", "mirna_mrr", "gene_mrr", "random_auc"):
      assert a[k] == b[k], k


def test_group_folds_need_enough_groups():
  with pytest.raises(ConfigError, match="at least data.folds=5 groups"):
    folds_lib.group_folds(np.array([0, 0, 1, 1, 2, 3]), 5, np.random.default_rng(0))


def test_random_negative_tests_are_unknown_pairs_with_the_fold_positives():
  ds = dataset_lib.build_dataset(synthetic_data_config())
  for f, rows in enumerate(testsets.random_negative_tests(ds, "pairs", seed=0)):
    pos, neg = rows[rows[:, 2] == 1], rows[rows[:, 2] == 0]
    idx = ds.folds[f]
    assert {tuple(p) for p in pos[:, :2]} == {tuple(p) for p in ds.pairs[idx][ds.labels[idx] == 1]}
    assert len(neg) == len(pos)
    assert (ds.status[neg[:, 0], neg[:, 1]] == dataset_lib.UNKNOWN).all()  # never labelled


def _distance_aucs(ds, tests):
  return [evaluation.roc_auc(t[:, 2], -ds.dissimilarity[t[:, 0], t[:, 1]]) for t in tests]


def test_distance_baseline_on_planted_signal():
  """Planted: positives lie within embedding clusters. Distance negatives are beyond the mean
  positive distance, so on their own test the distance AUC is at least the share of test
  positives inside the threshold (a provable bound); random negatives include near pairs, so
  the same baseline is lower there, yet far above chance."""
  ds = dataset_lib.build_dataset(synthetic_data_config(**{"synthetic.n_mirna": 80,
                                                          "synthetic.n_gene": 60}))
  own = [np.concatenate([ds.pairs[i], ds.labels[i, None]], 1) for i in ds.folds]
  random = testsets.random_negative_tests(ds, "pairs", seed=0)
  thr = ds.report["threshold"]
  for t, auc in zip(own, _distance_aucs(ds, own)):
    pos = t[t[:, 2] == 1]
    assert auc >= np.mean(ds.dissimilarity[pos[:, 0], pos[:, 1]] <= thr) - 1e-12
  own_auc, random_auc = np.mean(_distance_aucs(ds, own)), np.mean(_distance_aucs(ds, random))
  assert own_auc > random_auc > 0.75


def test_distance_baseline_is_chance_without_signal():
  """No planted signal (same interaction probability within and across clusters): the distance
  says nothing about random negatives."""
  ds = dataset_lib.build_dataset(synthetic_data_config(**{
      "synthetic.n_mirna": 80, "synthetic.n_gene": 60, "synthetic.p_within": 0.1,
      "synthetic.p_across": 0.1}))
  aucs = _distance_aucs(ds, testsets.random_negative_tests(ds, "pairs", seed=0))
  assert abs(np.mean(aucs) - 0.5) < 0.08


@pytest.mark.parametrize("split, col", [("mirna", 0), ("gene", 1)])
def test_side_graph_baseline_says_nothing_of_a_new_node(split, col):
  """A new node's pairs get no score from the side graph (its edges outside the grid are unknown
  too): ease_side_graph is 0 there, as EASE is; elsewhere the side graph changes the scores."""
  ds = dataset_lib.build_dataset(synthetic_data_config(split=split, side_graph=True))
  assert ds.side is not None and ds.side.n_pairs > 0
  fold = testsets.folds(ds, split, 0)[0]
  scores, _ = honest.baseline_scores(ds, fold, 0, content.node_content(ds))
  new = np.unique(fold.tests["random"][:, col])
  side, ease = (scores[name] if col == 0 else scores[name].T for name in ("ease_side_graph", "ease"))
  assert np.all(side[new] == 0) and np.all(ease[new] == 0)
  known = np.setdiff1d(np.arange(side.shape[0]), new)
  assert not np.allclose(side[known], ease[known])


def test_the_baselines_report_their_progress_fold_by_fold(caplog):
  """On the real grid the baselines take minutes; the evaluation says where it is."""
  import logging
  ds = dataset_lib.build_dataset(synthetic_data_config())
  folds = testsets.folds(ds, "pairs", 0)
  with caplog.at_level(logging.INFO):
    honest.baseline_grids(ds, folds, 0)
  lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("baselines: fold")]
  assert [line.split(" fitted")[0] for line in lines] == [
      f"baselines: fold {f}/{len(folds)}" for f in range(1, len(folds) + 1)]
