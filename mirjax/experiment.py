"""One entry point for a whole run: `run(config, workdir, mode)`, called by launch.py.

Workdir outputs:
  config.json            resolved config, package versions, devices, seeds
  dataset.json           every count of the dataset stage (threshold, candidates, band, folds, files)
  dataset_distances.png  positive vs unknown vs chosen-negative dissimilarities
  metrics.jsonl          (train) per stage, epoch and replica: train/val loss, samples/s
  checkpoints/{ae,lstm}/ (train) orbax checkpoints; a rerun with the same workdir resumes
  results.json           (train) per-fold and mean ± std metrics, the dataset report, baselines
  oof_predictions.csv    (train) out-of-fold score of every labelled pair
  roc_curves.json, roc.png, loss_curves.png
"""

import json
import os
import time

import jax.numpy as jnp
import ml_collections
import numpy as np
import pandas as pd
from absl import logging

from mirjax import atomic, evaluation, pipeline, placement, plots, provenance, ranking, sweep
from mirjax import predict as predict_lib
from mirjax import config as config_lib
from mirjax.data import dataset as dataset_lib
from mirjax.data import folds as folds_lib
from mirjax.errors import ConfigError
from mirjax.metrics_log import MetricsLog

MODES = ("train", "dataset", "predict", "query")
# Yoon, Hwang & Lee (JICCE 2023), SG-LSTM-core data, 5-fold CV.
PAPER = {"mean_auc": 0.9548, "best_auc": 0.9609, "precision": 0.938, "recall": 0.896,
         "accuracy": 0.92, "f1": 0.92}


def check_resumable(config: ml_collections.ConfigDict, workdir: str) -> None:
  """Refuses to reuse checkpoints that were made under a different config."""
  header = os.path.join(workdir, "config.json")
  if not (os.path.exists(header) and os.path.isdir(os.path.join(workdir, "checkpoints"))):
    return
  with open(header, encoding="utf-8") as f:
    differ = config_lib.training_differences(json.load(f)["config"], config)
  if differ:
    raise ConfigError(
        f"{workdir} holds checkpoints of a run with a different config ({'; '.join(differ[:8])}). "
        "Use a new --workdir, or delete this one to start over.")


def write_run_header(config: ml_collections.ConfigDict, workdir: str, mode: str) -> None:
  atomic.write_json(os.path.join(workdir, "config.json"), {
      "mode": mode,
      "config": config.to_dict(),
      "seeds": {"train": config.seed, "data": config.data.seed},
      "versions": provenance.versions(),
      "devices": provenance.devices(),
      "started_unix": time.time(),
  })


def write_dataset_report(ds: dataset_lib.Dataset, workdir: str) -> None:
  atomic.write_json(os.path.join(workdir, "dataset.json"), ds.report)
  r = ds.report
  plots.dissimilarity_histogram(
      os.path.join(workdir, "dataset_distances.png"),
      positive=ds.dissimilarity[ds.status == dataset_lib.POSITIVE],
      unknown=ds.dissimilarity[(ds.status == dataset_lib.UNKNOWN)
                               | (ds.status == dataset_lib.NEGATIVE)],
      negative=ds.dissimilarity[ds.status == dataset_lib.NEGATIVE],
      threshold=r["threshold"], metric=r["metric"], strategy=r["strategy"])


def summarize(per_fold: list[dict]) -> dict:
  """Mean and sample standard deviation (ddof=1) across folds of each metric."""
  out = {}
  for m in evaluation.METRICS:
    v = np.array([f[m] for f in per_fold])
    out[m] = {"mean": float(v.mean()), "std": float(v.std(ddof=1)) if v.size > 1 else 0.0,
              "min": float(v.min()), "max": float(v.max())}
  return out


def distance_baseline(ds: dataset_lib.Dataset, test_idx: np.ndarray) -> dict:
  """AUC of scoring each test pair by -dissimilarity alone: no learning at all.

  With distance-chosen negatives this is what any model gets for free.
  """
  aucs = [evaluation.roc_auc(ds.labels[idx], ds.distance_scores(ds.pairs[idx])) for idx in test_idx]
  return {"per_fold_auc": aucs, "mean_auc": float(np.mean(aucs))}


def evaluate_and_write(ds: dataset_lib.Dataset, oof_scores: np.ndarray, workdir: str,
                       wall_seconds: float) -> dict:
  """Writes results.json, roc_curves.json, oof_predictions.csv and roc.png from [k, n_test] scores."""
  per_fold, curves, roc_points, oof = [], [], {}, []
  n_labelled = ds.folds.size
  for k, (idx, scores) in enumerate(zip(ds.folds, oof_scores)):
    labels = ds.labels[idx]
    m = evaluation.classification_metrics(labels, scores)
    m.update(fold=k, n_train=n_labelled - idx.size, n_test=int(idx.size))
    per_fold.append(m)
    fpr, tpr = evaluation.roc_curve(labels, scores)
    curves.append((fpr, tpr, m["auc"]))
    roc_points[f"fold_{k}"] = {"fpr": fpr.tolist(), "tpr": tpr.tolist()}
    oof.append(pd.DataFrame({"fold": k, "mirna": np.asarray(ds.mirna_names)[ds.pairs[idx, 0]],
                             "gene": np.asarray(ds.gene_names)[ds.pairs[idx, 1]],
                             "label": labels, "score": scores}))
  summary = summarize(per_fold)
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


def _log_dataset(ds: dataset_lib.Dataset, seconds: float) -> None:
  r = ds.report
  logging.info("dataset: %d miRNAs x %d genes, %d positives, %d negatives (%s, threshold %s, "
               "%d candidates beyond, %d dropped by band), %d folds of %d, built in %.1fs",
               r["n_mirna"], r["n_gene"], r["n_positive"], r["n_negative"], r["strategy"],
               "n/a" if r["threshold"] is None else f"{r['threshold']:.4f}",
               r["n_candidates_beyond_threshold"], r["n_dropped_by_band"], r["folds"],
               r["fold_size"], seconds)


def _train(config, ds: dataset_lib.Dataset, workdir: str, t0: float) -> dict:
  log = MetricsLog(os.path.join(workdir, "metrics.jsonl"))
  trained = pipeline.train_replicas(
      config, ds.pair_features(), ds.labels,
      pipeline.Replicas.of_run(config, folds_lib.train_indices(ds.folds)),
      checkpoint_root=os.path.join(workdir, "checkpoints"), metrics_log=log)
  plots.loss_curves(os.path.join(workdir, "loss_curves.png"), log.rows())
  oof_scores = np.asarray(trained.score(jnp.asarray(ds.pair_features()[ds.folds])))
  results = evaluate_and_write(ds, oof_scores, workdir, time.time() - t0)
  s = results["summary"]
  logging.info("done in %.0fs: AUC %.4f ± %.4f, AUPR %.4f, F1 %.4f (distance-only AUC %.4f; "
               "paper AUC %.4f)", results["wall_seconds"], s["auc"]["mean"], s["auc"]["std"],
               s["aupr"]["mean"], s["f1"]["mean"],
               results["baselines"]["distance_only"]["mean_auc"], PAPER["mean_auc"])
  return results


def _pair_answer(config, ds: dataset_lib.Dataset, workdir: str, query: ranking.Query) -> dict:
  """Scores one named pair straight through the fold models, with its rank from the grid table."""
  mirna = ranking.resolve_name(query.mirna, ds.mirna_names, "miRNA")
  gene = ranking.resolve_name(query.gene, ds.gene_names, "gene")
  models = predict_lib.load_fold_models(config, ds, workdir)
  pair = np.array([[ds.mirna_names.index(mirna), ds.gene_names.index(gene)]])
  scores = predict_lib.probability(
      predict_lib.pair_log_odds(models, ds, pair, chunk=1, train_cfg=config.train)[:, 0])
  row = ranking.pair_row(predict_lib.read_grid(workdir), mirna, gene)
  return {"mirna": mirna, "gene": gene, "score": float(scores.mean()),
          "score_std": float(scores.std()), "fold_scores": scores.tolist(),
          "rank": int(row["rank"]), "n_pairs": len(ds.mirna_names) * len(ds.gene_names),
          "status": row["status"]}


def run(config: ml_collections.ConfigDict, workdir: str, mode: str = "train",
        query: ranking.Query | None = None):
  """Runs one mode and returns its result.

  'train': dataset + cross-validated training + evaluation (returns results.json's content);
  'dataset': the data stage only (returns dataset.json's content);
  'predict': scores the whole grid with the finished fold models (returns the all-pairs table);
  'query': answers `query` from the scored grid and prints it (returns the rows or the pair).
  """
  t0 = time.time()
  query = query or ranking.Query()
  if mode not in MODES:
    raise ConfigError(f"--mode={mode!r} is unknown; choose one of {MODES}.")
  config_lib.validate(config)
  if sweep.is_sweep(config) and mode not in ("train",):
    raise ConfigError(f"--mode={mode} works on a single run; this config is a sweep "
                      "(config.sweep), which only trains and reports.")
  if not sweep.is_sweep(config) and config.lstm.architecture == "distance":
    raise ConfigError("lstm.architecture='distance' trains nothing; a single run's results.json "
                      "already reports the distance-only baseline (as a point of its own, use a "
                      "sweep variant, see configs/ablations.py).")
  placement.configure_cpu(config.train.cpu_devices)  # before JAX starts
  if mode == "query" and not (query.mirna and query.gene):
    rows = ranking.answer(predict_lib.read_grid(workdir), query)  # no JAX needed
    print(f"{query.describe()} ({workdir}):\n{ranking.format_table(rows)}")
    return rows
  os.makedirs(workdir, exist_ok=True)
  if mode != "dataset":
    check_resumable(config, workdir)
  if mode in ("train", "dataset"):
    write_run_header(config, workdir, mode)
  if sweep.is_sweep(config):
    return sweep.run(config, workdir)
  ds = dataset_lib.build_dataset(config.data)
  _log_dataset(ds, time.time() - t0)
  if mode == "dataset":
    write_dataset_report(ds, workdir)
    return ds.report
  if mode == "train":
    write_dataset_report(ds, workdir)
    return _train(config, ds, workdir, t0)
  if mode == "predict":
    table = predict_lib.predict_grid(config, ds, workdir)
    top = ranking.answer(table, query)
    print(f"{query.describe()} ({workdir}):\n{ranking.format_table(top)}")
    return table
  answer = _pair_answer(config, ds, workdir, query)
  print(f"pair {answer['mirna']} – {answer['gene']}: score {answer['score']:.4f} ± {answer['score_std']:.4f} "
        f"(folds: {', '.join(f'{s:.4f}' for s in answer['fold_scores'])}), rank "
        f"{answer['rank']:,} of {answer['n_pairs']:,}, status {answer['status']}")
  return answer
