"""Metrics against brute-force definitions, with ties."""

import numpy as np
import pytest

from mirjax.evaluation import metrics as evaluation


def brute_force_auc(labels, scores):
  pos = scores[labels == 1]
  neg = scores[labels == 0]
  wins = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg)
  return wins / (pos.size * neg.size)


def brute_force_average_precision(labels, scores):
  """Sum over distinct thresholds t (descending) of (R(t) - R(previous t)) * P(t)."""
  ap, prev_recall = 0.0, 0.0
  for t in sorted(set(scores.tolist()), reverse=True):
    pred = scores >= t
    tp = (pred & (labels == 1)).sum()
    recall = tp / (labels == 1).sum()
    ap += (recall - prev_recall) * tp / pred.sum()
    prev_recall = recall
  return ap


@pytest.mark.parametrize("seed", range(5))
def test_auc_and_aupr_match_brute_force_with_ties(seed):
  rng = np.random.default_rng(seed)
  labels = rng.integers(0, 2, 120)
  scores = np.round(rng.random(120) + 0.3 * labels, 1)  # coarse rounding makes many ties
  assert evaluation.roc_auc(labels, scores) == pytest.approx(brute_force_auc(labels, scores))
  assert evaluation.average_precision(labels, scores) == pytest.approx(
      brute_force_average_precision(labels, scores))


def test_auc_edge_cases():
  assert evaluation.roc_auc(np.array([0, 1]), np.array([0.2, 0.9])) == 1.0
  assert evaluation.roc_auc(np.array([0, 1]), np.array([0.9, 0.2])) == 0.0
  assert evaluation.roc_auc(np.array([0, 1, 0, 1]), np.full(4, 0.5)) == 0.5
  with pytest.raises(ValueError):
    evaluation.roc_auc(np.array([1, 1]), np.array([0.1, 0.2]))


def test_roc_curve_area_equals_auc():
  rng = np.random.default_rng(7)
  labels = rng.integers(0, 2, 300)
  scores = np.round(rng.random(300) + 0.5 * labels, 2)
  fpr, tpr = evaluation.roc_curve(labels, scores)
  assert (fpr[0], tpr[0], fpr[-1], tpr[-1]) == (0, 0, 1, 1)
  assert (np.diff(fpr) >= 0).all() and (np.diff(tpr) >= 0).all()
  trapezoid = np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2)  # ties are diagonal segments
  assert trapezoid == pytest.approx(evaluation.roc_auc(labels, scores))


def test_threshold_metrics_and_confusion_layout():
  labels = np.array([1, 1, 1, 0, 0, 0, 0])
  scores = np.array([0.9, 0.6, 0.2, 0.7, 0.1, 0.3, 0.5])
  m = evaluation.classification_metrics(labels, scores)
  # predicted positive (>= 0.5): 0.9, 0.6 (tp), 0.7, 0.5 (fp); fn: 0.2; tn: 0.1, 0.3
  assert m["confusion"] == [[2, 2], [1, 2]]
  assert m["precision"] == pytest.approx(0.5) and m["recall"] == pytest.approx(2 / 3)
  assert m["accuracy"] == pytest.approx(4 / 7)
  assert m["f1"] == pytest.approx(2 * 0.5 * (2 / 3) / (0.5 + 2 / 3))
