"""Cross-validation results of a run: per-fold metrics on the paper's protocol and the honest one
(mirjax/evaluation/honest.py) beside every baseline, their summaries, the workdir files that hold
them, and the published numbers they are read against (the only place those numbers are written).
"""

import os

import numpy as np
import pandas as pd

from mirjax import atomic, plots
from mirjax.data import dataset as dataset_lib
from mirjax.data import testsets
from mirjax.evaluation import honest, metrics

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


def _oof_rows(ds: dataset_lib.Dataset, folds: list[testsets.Fold], model: np.ndarray,
              baseline: dict) -> pd.DataFrame:
  """One row per fold, test set and test pair: the model's score and every baseline's."""
  frames = []
  for f in folds:
    for name, rows in f.tests.items():
      log_odds = model[f.index][rows[:, 0], rows[:, 1]]
      frames.append(pd.DataFrame({
          "fold": f.index, "test_set": name, "mirna": np.asarray(ds.mirna_names)[rows[:, 0]],
          "gene": np.asarray(ds.gene_names)[rows[:, 1]], "label": rows[:, 2],
          "score": metrics.probability(log_odds), "log_odds": log_odds,
          **{f"baseline_{b}": g[f.index][rows[:, 0], rows[:, 1]] for b, g in baseline.items()}}))
  return pd.concat(frames, ignore_index=True)


def honest_results(folds: list[testsets.Fold], model: np.ndarray, baseline: dict,
                   chosen: list[dict]) -> dict:
  """The honest protocol's numbers: per fold and summarized, for the model and every baseline."""
  per_fold = {"model": [honest.evaluate(model[f.index], f) for f in folds]}
  per_fold.update({b: [honest.evaluate(g[f.index], f) for f in folds] for b, g in baseline.items()})
  return {
      "summary": {name: {m: summarize([r[m] for r in rows]) for m in rows[0]}
                  for name, rows in per_fold.items()},
      "per_fold": per_fold,
      "baseline_hyperparameters": chosen,
      "test_sets": {t: [int(len(f.tests[t])) for f in folds] for t in honest.TEST_SETS},
  }


def evaluate_and_write(ds: dataset_lib.Dataset, folds: list[testsets.Fold], model: np.ndarray,
                       data_seed: int, workdir: str) -> dict:
  """Evaluates [k, n_mirna, n_gene] out-of-fold log-odds (fold f's model scores the grid) on the
  paper's protocol and the honest one, beside every baseline on the same folds; writes
  oof_predictions.csv, grid_scores.npz, roc_curves.json and roc.png, and returns what
  `write_results` writes last."""
  baseline, chosen = honest.baseline_grids(ds, folds, data_seed)
  per_fold, curves, roc_points = [], [], {}
  for f in folds:
    rows = f.tests["own"]
    labels, scores = rows[:, 2], metrics.probability(model[f.index][rows[:, 0], rows[:, 1]])
    m = metrics.classification_metrics(labels, scores)
    m.update(fold=f.index, n_train=int(ds.train_idx.shape[1]), n_test=int(len(rows)))
    per_fold.append(m)
    fpr, tpr = metrics.roc_curve(labels, scores)
    curves.append((fpr, tpr, m["auc"]))
    roc_points[f"fold_{f.index}"] = {"fpr": fpr.tolist(), "tpr": tpr.tolist()}
  summary = {m: summarize([f[m] for f in per_fold]) for m in metrics.METRICS}
  results = {
      "dataset": ds.report,
      "folds": per_fold,
      "mean_auc": summary["auc"]["mean"],
      "std_auc": summary["auc"]["std"],
      "summary": summary,
      "std_note": "sample standard deviation across folds (ddof=1)",
      "baselines": {"distance_only": distance_baseline(ds, ds.folds)},
      "honest": honest_results(folds, model, baseline, chosen),
      "paper": PAPER,
  }
  atomic.write_json(os.path.join(workdir, "roc_curves.json"), roc_points)
  with atomic.atomic_path(os.path.join(workdir, "oof_predictions.csv")) as tmp:
    _oof_rows(ds, folds, model, baseline).to_csv(tmp, index=False, float_format="%.8g")
  with atomic.atomic_path(os.path.join(workdir, "grid_scores.npz")) as tmp:
    np.savez_compressed(
        tmp, model_log_odds=model.astype(np.float32),
        train_positive=np.stack([f.train_positive for f in folds]),
        test_positive=np.stack([f.test_positive for f in folds]),
        **{f"baseline_{b}": g.astype(np.float32) for b, g in baseline.items()})
  plots.roc_curves(os.path.join(workdir, "roc.png"), curves)
  return results


def write_results(workdir: str, results: dict) -> None:
  """W/results.json, a run's last output: a workdir that has it is complete."""
  atomic.write_json(os.path.join(workdir, "results.json"), results)


def distance_baseline(ds: dataset_lib.Dataset, test_idx: np.ndarray) -> dict:
  """AUC of scoring each test pair by -dissimilarity alone: no learning at all.

  With distance-chosen negatives this is what any model gets for free.
  """
  aucs = [metrics.roc_auc(ds.labels[idx], ds.distance_scores(ds.pairs[idx])) for idx in test_idx]
  return {"per_fold_auc": aucs, "mean_auc": float(np.mean(aucs))}
