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

import dataclasses
import functools
import os
import time

import ml_collections
import numpy as np
import pandas as pd
from absl import logging

from mirjax import atomic, cluster, console, family, placement, plots, ranking, report, sweep
from mirjax import config as config_lib
from mirjax import predict as predict_lib
from mirjax import workdir as workdir_lib
from mirjax.data import dataset as dataset_lib
from mirjax.data import testsets
from mirjax.data import universe as universe_lib
from mirjax.errors import ConfigError, MirjaxError
from mirjax.evaluation import cv_results, metrics
from mirjax.prospective import evaluate as prospective_evaluate
from mirjax.prospective import features as prospective_features
from mirjax.prospective import predict as prospective_predict
from mirjax.prospective import query as universe_query
from mirjax.train.loop import Store

MODES = workdir_lib.MODES


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


@dataclasses.dataclass(frozen=True)
class _Replicas:
  """What a run's modes share, resolved from the config once: its family, dataset, folds, the
  replicas (one per fold) and where they keep their record."""
  fam: object
  ds: dataset_lib.Dataset
  folds: list
  members: list
  store: Store

  @classmethod
  def of(cls, config, fam, ds: dataset_lib.Dataset, workdir: str) -> "_Replicas":
    folds = testsets.folds(ds, config.data.split, config.data.seed)
    return cls(fam, ds, folds, family.members(config, ds, folds),
               Store.of_workdir(workdir, config.train))


def _train(run: _Replicas, header, workdir: str, t0: float) -> dict:
  """Trains every fold, scores the whole grid with each fold's model and evaluates it; writes
  results.json last, so a workdir that has it is complete. `header()` writes config.json."""
  run.fam.check(run.members)  # before config.json is written
  header()
  write_dataset_report(run.ds, workdir)
  trained = run.fam.train(run.members, run.store)
  plots.loss_curves(os.path.join(workdir, "loss_curves.png"), run.store.log.rows())
  logging.info("scoring the grid with %d fold models, then the baselines on the same folds",
               trained.n_replicas)
  m = run.members[0]
  results = cv_results.evaluate_and_write(run.ds, run.folds, trained.grid_log_odds(),
                                          run.ds.report["data_seed"], workdir)
  report.write_run_leaderboard(workdir, run.ds.report["split"], m.seed,
                               results["honest"]["per_fold"], model=run.fam.name)
  results["wall_seconds"] = time.perf_counter() - t0
  cv_results.write_results(workdir, results)
  s, h = results["summary"], results["honest"]["summary"]
  logging.info("done in %.0fs: own test AUC %.4f ± %.4f (paper %.4f; distance alone %.4f); random "
               "test AUC %.4f, AUPR %.4f, recall@20 per miRNA %.4f (EASE %.4f, %.4f, %.4f)",
               results["wall_seconds"], s["auc"]["mean"], s["auc"]["std"],
               cv_results.PAPER["mean_auc"], results["baselines"]["distance_only"]["mean_auc"],
               h["model"]["random_auc"]["mean"], h["model"]["random_aupr"]["mean"],
               h["model"]["mirna_recall@20"]["mean"], h["ease"]["random_auc"]["mean"],
               h["ease"]["random_aupr"]["mean"], h["ease"]["mirna_recall@20"]["mean"])
  return results


def _pair_answer(run: _Replicas, workdir: str, query: ranking.Query) -> dict:
  """Scores one named pair straight through the fold models, with its rank from the grid table."""
  ds = run.ds
  mirna = ranking.resolve_name(query.mirna, ds.mirna_names, "miRNA")
  gene = ranking.resolve_name(query.gene, ds.gene_names, "gene")
  row = ranking.pair_row(predict_lib.read_grid(workdir), mirna, gene)
  pair = np.array([[ds.mirna_names.index(mirna), ds.gene_names.index(gene)]])
  scores = metrics.probability(run.fam.restore(run.members, run.store).pair_log_odds(pair)[:, 0])
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
  # a universe's predict fits its own model; the grid's restores the fold models of a train run
  workdir_lib.check_path(workdir, must_exist=mode == "query" or (
      mode == "predict" and not config.protocols.universe))


def _disk_full_is_one_error(run_mode):
  """A full disk, whichever library meets it (pandas, NumPy, orbax), becomes one MirjaxError."""
  @functools.wraps(run_mode)
  def wrapped(config, workdir, *args, **kwargs):
    try:
      return run_mode(config, workdir, *args, **kwargs)
    except Exception as e:
      if console.disk_full(e):
        raise MirjaxError(console.disk_full_message(e, workdir)) from None
      raise
  return wrapped


@_disk_full_is_one_error
def run(config: ml_collections.ConfigDict, workdir: str, mode: str = "train",
        query: ranking.Query | None = None, processes: cluster.Cluster = cluster.Cluster(),
        fmt: str = "table"):
  """Runs one mode and returns its result.

  'train': dataset + cross-validated training + evaluation (returns results.json's content);
  'dataset': the data stage only (returns dataset.json's content);
  'predict': scores the whole grid with the finished fold models (returns the all-pairs table);
  'query': answers `query` from the scored grid and prints it (returns the rows or the pair).
  With protocols.universe, the same modes on the universe's splits and its predictions; its answers
  print as `fmt` ('table', 'csv' or 'json').
  Every mode checks the workdir's recorded config first; the writing modes hold its lock.
  `processes`: this process's place in a run of several (mirjax/cluster.py); each process runs the
  same command with its own process_id, and process 0 writes the workdir.
  """
  t0 = time.perf_counter()
  query = query or ranking.Query()
  _check(config, workdir, mode)
  if mode == "query" and config.protocols.universe:  # reads the predictions only: no JAX, no lock
    return universe_query.run(config, workdir, query, fmt)
  if mode == "query":
    ranking.check_format(fmt)
    workdir_lib.check_config(workdir, config)
    return _query(config, workdir, query, processes, fmt)
  fam = _start_jax(config.train.cpu_devices, processes, {**config.to_dict(), "mode": mode},
                   family.of(config))
  with workdir_lib.lock(workdir, mode):  # first, so a busy workdir is refused naming its holder
    workdir_lib.check_config(workdir, config)
    if sweep.is_sweep(config):
      return sweep.run(config, workdir)
    if config.protocols.universe:  # the prospective protocols on a universe of pairs
      return _prospective(config, workdir, mode, query, fmt, t0)
    ds = dataset_lib.build_dataset(config.data)
    _log_dataset(ds, time.perf_counter() - t0)
    if mode == "dataset":
      if workdir_lib.recorded(workdir) is None:  # never overwrite a trained run's record
        workdir_lib.write_header(config, workdir, mode)
      write_dataset_report(ds, workdir)
      return ds.report
    replicas = _Replicas.of(config, fam, ds, workdir)
    if mode == "train":
      return _train(replicas, lambda: workdir_lib.write_header(config, workdir, mode), workdir, t0)
    final = family.whole_member(config, ds) if config.predict.final_model else None
    table = predict_lib.predict_grid(ds, fam.restore(replicas.members, replicas.store), workdir,
                                     fam, final, replicas.store)
    query = ranking.resolved(table, query)
    ranking.print_answer(f"{query.describe()} ({workdir})", ranking.answer(table, query), fmt)
    return table


def _prospective(config, workdir: str, mode: str, query: ranking.Query, fmt: str, t0: float):
  """The writing modes of a universe (protocols.universe): train and evaluate every split, or score
  every pair with the model of all records (and answer `query` from the result, printed as `fmt`)."""
  if mode != "dataset":  # train resumes, predict restores: models on other inputs would score wrong
    workdir_lib.check_inputs(workdir, prospective_features.INPUTS,
                             prospective_features.INPUTS_CHANGE)
  u = universe_lib.build(config.protocols.universe, config.data)
  if mode == "predict":
    recorded = workdir_lib.recorded(workdir)
    if recorded is None or recorded.get("mode") == "dataset":  # what its model was fit with
      workdir_lib.write_header(config, workdir, mode, prospective_features.INPUTS)
    table = prospective_predict.run(u, config.prospective, config.train, config.predict.top,
                                    config.protocols.seed, workdir, t0)
    if query.gene or query.mirna:
      universe_query.run(config, workdir, query, fmt)
    return table
  if mode == "dataset":
    if workdir_lib.recorded(workdir) is None:
      workdir_lib.write_header(config, workdir, mode)
    return prospective_evaluate.write_splits(u, config.protocols, workdir)
  return prospective_evaluate.run(
      u, config.protocols, config.prospective, config.train, workdir, t0,
      lambda: workdir_lib.write_header(config, workdir, mode, prospective_features.INPUTS))


def _start_jax(cpu_devices: int, processes: cluster.Cluster, resolved: dict, fam):
  """Before JAX's first operation: the backend (float32 matmuls, `cpu_devices` CPU devices), then
  the processes (which compare their `resolved` configs); then what the model family needs of this
  machine (a missing piece fails here, in one line, not after the data stage). Returns `fam`."""
  placement.configure(cpu_devices)
  cluster.initialize(processes, resolved)
  fam.setup()
  return fam


def _query(config: ml_collections.ConfigDict, workdir: str, query: ranking.Query,
           processes: cluster.Cluster, fmt: str):
  """Answers a query from the scored grid; reads the workdir, never writes to it."""
  if not (query.mirna and query.gene):
    grid = predict_lib.read_grid(workdir)  # no JAX needed
    query = ranking.resolved(grid, query)
    rows = ranking.answer(grid, query)
    ranking.print_answer(f"{query.describe()} ({workdir})", rows, fmt)
    return rows
  fam = _start_jax(config.train.cpu_devices, processes, {**config.to_dict(), "mode": "query"},
                   family.of(config))
  ds = dataset_lib.build_dataset(config.data)
  answer = _pair_answer(_Replicas.of(config, fam, ds, workdir), workdir, query)
  if fmt != "table":
    ranking.print_answer(query.describe(), pd.DataFrame([answer]), fmt)
    return answer
  print(f"pair {answer['mirna']} – {answer['gene']}: score {answer['score']:.4f} ± "
        f"{answer['score_std']:.4f} (folds: {', '.join(f'{s:.4f}' for s in answer['fold_scores'])})"
        f", rank {answer['rank']:,} of {answer['n_pairs']:,}, status {answer['status']}")
  return answer
