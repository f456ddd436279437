"""Cross-validation results of a run: per-fold metrics, their summaries, the workdir files that hold
them, and the published numbers they are read against (the only place those numbers are written).
"""

import os

import numpy as np
import pandas as pd

from mirjax import atomic, plots
from mirjax.data import dataset as dataset_lib
from mirjax.evaluation import metrics

# Yoon, Hwang & Lee (JICCE 2023), SG-LSTM-core data, 5-fold CV with distance-built negatives.
PAPER = {"name": "Yoon, Hwang & Lee (JICCE 2023)", "mean_auc": 0.9548, "best_auc": 0.9609,
         "precision": 0.938, "recall": 0.896, "accuracy": 0.92, "f1": 0.92}
# SG-LSTM (the data's origin), as the paper quotes it.
SG_LSTM_FRAME = {"name": "SG-LSTM-FRAME", "auc": 0.94}


def summarize(values) -> dict:
  """Mean, sample standard deviation (ddof=1; NaN for fewer than 2 values), min and max."""
  v = np.asarray(values, np.float64)
  if v.size == 0:
    return {"mean": float("nan"), "std": float("nan"), "min": float("nan"), "max": float("nan")}
  return {"mean": float(v.mean()), "std": float(v.std(ddof=1)) if v.size > 1 else float("nan"),
          "min": float(v.min()), "max": float(v.max())}


def distance_baseline(ds: dataset_lib.Dataset, test_idx: np.ndarray) -> dict:
  """AUC of scoring each test pair by -dissimilarity alone: no learning at all.

  With distance-chosen negatives this is what any model gets for free.
  """
  aucs = [metrics.roc_auc(ds.labels[idx], ds.distance_scores(ds.pairs[idx])) for idx in test_idx]
  return {"per_fold_auc": aucs, "mean_auc": float(np.mean(aucs))}


def evaluate_and_write(ds: dataset_lib.Dataset, oof_scores: np.ndarray, workdir: str,
                       wall_seconds: float) -> dict:
  """Writes results.json, roc_curves.json, oof_predictions.csv and roc.png from [k, n_test] scores."""
  per_fold, curves, roc_points, oof = [], [], {}, []
  n_labelled = ds.folds.size
  for k, (idx, scores) in enumerate(zip(ds.folds, oof_scores)):
    labels = ds.labels[idx]
    m = metrics.classification_metrics(labels, scores)
    m.update(fold=k, n_train=n_labelled - idx.size, n_test=int(idx.size))
    per_fold.append(m)
    fpr, tpr = metrics.roc_curve(labels, scores)
    curves.append((fpr, tpr, m["auc"]))
    roc_points[f"fold_{k}"] = {"fpr": fpr.tolist(), "tpr": tpr.tolist()}
    oof.append(pd.DataFrame({"fold": k, "mirna": np.asarray(ds.mirna_names)[ds.pairs[idx, 0]],
                             "gene": np.asarray(ds.gene_names)[ds.pairs[idx, 1]],
                             "label": labels, "score": scores}))
  summary = {m: summarize([f[m] for f in per_fold]) for m in metrics.METRICS}
  results = {
      "dataset": ds.report,
      "folds": per_fold,
      "mean_auc": summary["auc"]["mean"],
      "std_auc": summary["auc"]["std"],
      "summary": summary,
      "std_note": "sample standard deviation across folds (ddof=1)",
      "baselines": {"distance_only": distance_baseline(ds, ds.folds)},
      "paper": PAPER,
      "wall_seconds": wall_seconds,
  }
  atomic.write_json(os.path.join(workdir, "results.json"), results)
  atomic.write_json(os.path.join(workdir, "roc_curves.json"), roc_points)
  with atomic.atomic_path(os.path.join(workdir, "oof_predictions.csv")) as tmp:
    pd.concat(oof).to_csv(tmp, index=False)
  plots.roc_curves(os.path.join(workdir, "roc.png"), curves)
  return results
