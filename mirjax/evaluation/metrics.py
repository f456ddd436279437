"""Binary classification metrics in NumPy: exact tie-aware ROC AUC, AUPR, thresholded scores.

Computed on the host once per fold after training; exactness matters more than speed here.
"""

import numpy as np
import scipy.stats


def probability(log_odds) -> np.ndarray:
  """P(association) from log-odds, in float64 (saturates at 1 only beyond log-odds ~37)."""
  return 1.0 / (1.0 + np.exp(-np.asarray(log_odds, np.float64)))


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
  """P(score of a random positive > score of a random negative) + 0.5 P(tie): Mann–Whitney U."""
  labels = np.asarray(labels).astype(bool)
  n_pos, n_neg = labels.sum(), (~labels).sum()
  if n_pos == 0 or n_neg == 0:
    raise ValueError("ROC AUC needs at least one positive and one negative.")
  ranks = scipy.stats.rankdata(np.asarray(scores, np.float64))  # ties: their average rank
  return float((ranks[labels].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _tie_grouped_counts(labels: np.ndarray, scores: np.ndarray):
  """At each distinct score threshold, from the highest down: (true positives, pairs predicted).

  Pairs with equal scores enter together, which is what makes ROC and PR curves tie-aware.
  """
  order = np.argsort(-np.asarray(scores, np.float64), kind="mergesort")
  s, y = np.asarray(scores)[order], labels[order]
  last_of_tie = np.r_[np.flatnonzero(np.diff(s)), s.size - 1]
  return np.cumsum(y)[last_of_tie], last_of_tie + 1


def roc_curve(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  """(fpr, tpr) at every distinct score threshold, from (0, 0) to (1, 1)."""
  labels = np.asarray(labels).astype(bool)
  tp, predicted = _tie_grouped_counts(labels, scores)
  fp = predicted - tp
  return (np.r_[0.0, fp / max((~labels).sum(), 1)], np.r_[0.0, tp / max(labels.sum(), 1)])


def average_precision(labels: np.ndarray, scores: np.ndarray) -> float:
  """AUPR as average precision: sum over thresholds of (ΔRecall × Precision), ties grouped."""
  labels = np.asarray(labels).astype(bool)
  tp, predicted = _tie_grouped_counts(labels, scores)
  recall = tp / max(labels.sum(), 1)
  return float(np.sum(np.diff(np.r_[0.0, recall]) * tp / predicted))


# The scalar metrics `classification_metrics` reports, in report order.
METRICS = ("auc", "aupr", "precision", "recall", "accuracy", "f1")


def classification_metrics(labels: np.ndarray, scores: np.ndarray, threshold: float = 0.5) -> dict:
  labels = np.asarray(labels).astype(bool)
  pred = np.asarray(scores) >= threshold
  tp = int((pred & labels).sum())
  fp = int((pred & ~labels).sum())
  fn = int((~pred & labels).sum())
  tn = int((~pred & ~labels).sum())
  precision = tp / (tp + fp) if tp + fp else 0.0
  recall = tp / (tp + fn) if tp + fn else 0.0
  return {
      "auc": roc_auc(labels, scores),
      "aupr": average_precision(labels, scores),
      "precision": precision,
      "recall": recall,
      "accuracy": (tp + tn) / labels.size,
      "f1": 2 * precision * recall / (precision + recall) if precision + recall else 0.0,
      "confusion": [[tn, fp], [fn, tp]],
      "threshold": threshold,
  }
