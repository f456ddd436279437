"""One entry point for a whole run: `run(config, workdir, mode)`, called by launch.py.

Workdir outputs:
  config.json            resolved config, package versions, devices, seeds (see mirjax/workdir.py)
  dataset.json           every count of the dataset stage (threshold, candidates, band, folds, files)
  dataset_distances.png  positive vs unknown vs chosen-negative dissimilarities
  metrics.jsonl          (train) per stage, epoch and replica: train/val loss, samples/s
  checkpoints/{ae,classifier|graph}/  (train) orbax checkpoints; a rerun with the same workdir resumes
  results.json           (train) per-fold and mean ± std metrics on the paper's test and the honest
                         protocol (mirjax/evaluation/honest.py) beside every baseline
  oof_predictions.csv    (train) out-of-fold scores of every test pair of both test sets
  grid_scores.npz        (train) every fold model's and baseline's scores of the whole grid
  roc_curves.json, roc.png, loss_curves.png
"""

import os
import time

import ml_collections
import numpy as np
from absl import logging

from mirjax import atomic, cluster, inference, placement, plots, ranking, report, sweep
from mirjax import config as config_lib
from mirjax import predict as predict_lib
from mirjax import workdir as workdir_lib
from mirjax.data import content
from mirjax.data import dataset as dataset_lib
from mirjax.errors import ConfigError
from mirjax.evaluation import cv_results, honest
from mirjax.kernels import lstm as kernels_lstm
from mirjax.replicas import Replicas
from mirjax.train import graph_stage, stages
from mirjax.train.metrics_log import MetricsLog

MODES = ("train", "dataset", "predict", "query")
WRITING_MODES = ("train", "dataset", "predict")  # hold the workdir lock; query only reads


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


def _log_dataset(ds: dataset_lib.Dataset, seconds: float) -> None:
  r = ds.report
  logging.info("dataset: %d miRNAs x %d genes, %d positives, %d negatives (%s, threshold %s, "
               "%d candidates beyond, %d dropped by band), %d folds of %d, built in %.1fs",
               r["n_mirna"], r["n_gene"], r["n_positive"], r["n_negative"], r["strategy"],
               "n/a" if r["threshold"] is None else f"{r['threshold']:.4f}",
               r["n_candidates_beyond_threshold"], r["n_dropped_by_band"], r["folds"],
               r["fold_size"], seconds)


def _train(config, ds: dataset_lib.Dataset, workdir: str, t0: float) -> dict:
  """Trains every fold, scores the whole grid with each fold's model and evaluates it."""
  folds = honest.folds(ds, config.data.split, config.data.seed)
  log = MetricsLog(os.path.join(workdir, "metrics.jsonl"))
  checkpoints = os.path.join(workdir, "checkpoints")
  if config.classifier.model == "graph":
    reps = graph_stage.GraphReplicas.of_run(config, folds)
    workdir_lib.write_header(config, workdir, "train")
    write_dataset_report(ds, workdir)
    params = graph_stage.train_graph_replicas(config, content.node_content(ds), reps,
                                              checkpoint_root=checkpoints, metrics_log=log)
    trained = inference.TrainedGraph(config, params, reps.train)
  else:
    reps = Replicas.of_run(config, ds.train_idx)
    stages.check_batch_sizes(config, reps.train_idx.shape[1])  # before config.json is written
    workdir_lib.write_header(config, workdir, "train")
    write_dataset_report(ds, workdir)
    trained = stages.train_replicas(config, ds.pair_features(), ds.labels, reps,
                                    checkpoint_root=checkpoints, metrics_log=log)
  plots.loss_curves(os.path.join(workdir, "loss_curves.png"), log.rows())
  grids = predict_lib.fold_grid_log_odds(trained, ds, config)
  results = cv_results.evaluate_and_write(ds, folds, grids, config.data.seed, workdir,
                                          time.time() - t0)
  report.write_run_leaderboard(workdir, config, results["honest"]["per_fold"])
  s, h = results["summary"], results["honest"]["summary"]
  logging.info("done in %.0fs: own test AUC %.4f ± %.4f (paper %.4f; distance alone %.4f); random "
               "test AUC %.4f, AUPR %.4f, recall@20 per miRNA %.4f (EASE %.4f, %.4f, %.4f)",
               results["wall_seconds"], s["auc"]["mean"], s["auc"]["std"],
               cv_results.PAPER["mean_auc"], results["baselines"]["distance_only"]["mean_auc"],
               h["model"]["random_auc"]["mean"], h["model"]["random_aupr"]["mean"],
               h["model"]["mirna_recall@20"]["mean"], h["ease"]["random_auc"]["mean"],
               h["ease"]["random_aupr"]["mean"], h["ease"]["mirna_recall@20"]["mean"])
  return results


def _pair_answer(config, ds: dataset_lib.Dataset, workdir: str, query: ranking.Query) -> dict:
  """Scores one named pair straight through the fold models, with its rank from the grid table."""
  mirna = ranking.resolve_name(query.mirna, ds.mirna_names, "miRNA")
  gene = ranking.resolve_name(query.gene, ds.gene_names, "gene")
  row = ranking.pair_row(predict_lib.read_grid(workdir), mirna, gene)
  pair = np.array([[ds.mirna_names.index(mirna), ds.gene_names.index(gene)]])
  scores = inference.probability(predict_lib.fold_pair_log_odds(config, ds, workdir, pair)[:, 0])
  return {"mirna": mirna, "gene": gene, "score": float(scores.mean()),
          "score_std": float(scores.std()), "fold_scores": scores.tolist(),
          "rank": int(row["rank"]), "n_pairs": len(ds.mirna_names) * len(ds.gene_names),
          "status": row["status"]}


def _check(config: ml_collections.ConfigDict, workdir: str, mode: str) -> None:
  """Every check that needs neither data nor the workdir's lock: mode, config, workdir path."""
  if mode not in MODES:
    raise ConfigError(f"--mode={mode!r} is unknown; choose one of {MODES}.")
  config_lib.validate(config)
  if sweep.is_sweep(config) and mode != "train":
    raise ConfigError(f"--mode={mode} works on a single run; this config is a sweep "
                      "(config.sweep), which only trains and reports.")
  if not sweep.is_sweep(config) and config.classifier.model == "distance":
    raise ConfigError("classifier.model='distance' trains nothing; a single run's results.json "
                      "already reports the distance-only baseline (as a point of its own, use a "
                      "sweep variant, see configs/ablations.py).")
  workdir_lib.check_path(workdir, must_exist=mode in ("predict", "query"))


def run(config: ml_collections.ConfigDict, workdir: str, mode: str = "train",
        query: ranking.Query | None = None, processes: cluster.Cluster = cluster.Cluster()):
  """Runs one mode and returns its result.

  'train': dataset + cross-validated training + evaluation (returns results.json's content);
  'dataset': the data stage only (returns dataset.json's content);
  'predict': scores the whole grid with the finished fold models (returns the all-pairs table);
  'query': answers `query` from the scored grid and prints it (returns the rows or the pair).
  Every mode checks the workdir's recorded config first; the writing modes hold its lock.
  `processes`: this process's place in a run of several (mirjax/cluster.py); each process runs the
  same command with its own process_id, and process 0 writes the workdir.
  """
  t0 = time.time()
  query = query or ranking.Query()
  _check(config, workdir, mode)
  if mode == "query":
    workdir_lib.check_config(workdir, config)
    return _query(config, workdir, query, processes)
  _start_jax(config, processes)
  with workdir_lib.lock(workdir, mode):  # first, so a busy workdir is refused naming its holder
    workdir_lib.check_config(workdir, config)
    if sweep.is_sweep(config):
      return sweep.run(config, workdir)
    ds = dataset_lib.build_dataset(config.data)
    _log_dataset(ds, time.time() - t0)
    if mode == "dataset":
      if workdir_lib.recorded(workdir) is None:  # never overwrite a trained run's record
        workdir_lib.write_header(config, workdir, mode)
      write_dataset_report(ds, workdir)
      return ds.report
    if mode == "train":
      return _train(config, ds, workdir, t0)
    table = predict_lib.predict_grid(config, ds, workdir)
    top = ranking.answer(table, query)
    print(f"{query.describe()} ({workdir}):\n{ranking.format_table(top)}")
    return table


def _start_jax(config: ml_collections.ConfigDict, processes: cluster.Cluster) -> None:
  """Before JAX's first operation: the backend (float32 matmuls, CPU devices), then the processes;
  then the oneDNN LSTM kernel if the config asks for it (a missing piece fails here, in one line,
  not after the data and autoencoder stages)."""
  placement.configure(config.train.cpu_devices)
  cluster.initialize(processes)
  if config.classifier.model == "lstm" and config.lstm.backend == "onednn":
    kernels_lstm.check()


def _query(config: ml_collections.ConfigDict, workdir: str, query: ranking.Query,
           processes: cluster.Cluster):
  """Answers a query from the scored grid; reads the workdir, never writes to it."""
  if not (query.mirna and query.gene):
    rows = ranking.answer(predict_lib.read_grid(workdir), query)  # no JAX needed
    print(f"{query.describe()} ({workdir}):\n{ranking.format_table(rows)}")
    return rows
  _start_jax(config, processes)
  answer = _pair_answer(config, dataset_lib.build_dataset(config.data), workdir, query)
  print(f"pair {answer['mirna']} – {answer['gene']}: score {answer['score']:.4f} ± "
        f"{answer['score_std']:.4f} (folds: {', '.join(f'{s:.4f}' for s in answer['fold_scores'])})"
        f", rank {answer['rank']:,} of {answer['n_pairs']:,}, status {answer['status']}")
  return answer
