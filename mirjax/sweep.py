"""Sweeps and ablations: many runs as the replicas of a few compiled programs, in one tidy table.

A config with a non-empty `sweep` section (configs/sweep_threshold.py, configs/ablations.py) lists
named `variants` (override sets) and/or a `grid` (a cartesian product of field values), and the
`seeds`. Every (point, seed, fold) is one replica. Replicas whose array shapes agree (model sizes,
epochs, batch sizes, index lengths) form one group and train as one program: what differs between
them is data (index arrays into a pool of pair features shared by the group), learning rates
(per-replica data) and keys (from seed and fold). A replica is the same model that fold of a
standalone run with the point's settings would train.

Every trained replica is scored on two test sets: its own fold's test pairs (negatives of its own
strategy) and the fold's positives with random unknown pairs as negatives (`random_negative_tests`).
Outputs in the workdir: `sweep_replicas.csv` (one row per replica and test set), `sweep.csv` (one
row per point: mean ± std over folds × seeds of every metric on each test set, and the replica ids
it was computed from), plots, and REPORT.md.
"""

import ast
import dataclasses
import itertools
import json
import os
import time

import ml_collections
import numpy as np
import pandas as pd
from absl import logging

from mirjax import atomic, inference, plots, report
from mirjax import config as config_lib
from mirjax import workdir as workdir_lib
from mirjax.data import dataset as dataset_lib
from mirjax.data import folds as folds_lib
from mirjax.errors import ConfigError
from mirjax.evaluation import cv_results
from mirjax.evaluation import metrics as evaluation
from mirjax.placement import Placement
from mirjax.replicas import Replicas
from mirjax.train import stages
from mirjax.train.metrics_log import MetricsLog

TEST_SETS = ("own", "random")
METRICS = evaluation.METRICS
# Fields that may differ between the replicas of one program (they change data or per-replica
# values, not shapes). Everything else in a point's config must agree within a group.
_PER_REPLICA_FIELDS = ("seed", "data.", "ae.learning_rate", "classifier.learning_rate", "sweep.",
                       "train.checkpoint", "train.keep", "predict.")
_SHARED_DATA_FIELDS = ("data.source", "data.dim", "data.dir", "data.fetch",
                       "data.verify_checksums", "data.synthetic.")


@dataclasses.dataclass(frozen=True)
class Point:
  name: str  # '<variant> <axis>=<value> ...'
  variant: str  # '' without variants
  settings: dict  # the overrides that define it, {dotted field: value}
  config: ml_collections.ConfigDict


def is_sweep(config: ml_collections.ConfigDict) -> bool:
  return bool(config.sweep.variants or config.sweep.grid)


def _value(text: str):
  try:
    return ast.literal_eval(text.strip())
  except (ValueError, SyntaxError):
    return text.strip()


def _assignments(text: str, where: str) -> dict:
  out = {}
  for part in filter(None, (p.strip() for p in text.split(";"))):
    field, sep, value = part.partition("=")
    if not sep:
      raise ConfigError(f"{where}: {part!r} is not 'field=value'.")
    out[field.strip()] = _value(value)
  return out


def expand(config: ml_collections.ConfigDict) -> list[Point]:
  """The sweep's points: each variant (`'name: field=value; ...'`) × the grid product
  (`'field=v1,v2,...'` per axis), in declaration order."""
  variants = [("", {})]
  if config.sweep.variants:
    variants = []
    for text in config.sweep.variants:
      name, sep, rest = text.partition(":")
      if not sep or not name.strip():
        raise ConfigError(f"config.sweep.variants: {text!r} is not 'name: field=value; ...'.")
      variants.append((name.strip(), _assignments(rest, f"variant {name.strip()!r}")))
  axes = []
  for text in config.sweep.grid:
    field, sep, values = text.partition("=")
    if not sep or not values.strip():
      raise ConfigError(f"config.sweep.grid: {text!r} is not 'field=v1,v2,...'.")
    axes.append([(field.strip(), _value(v)) for v in values.split(",")])
  points, names = [], set()
  for (vname, vset), combo in itertools.product(variants, itertools.product(*axes)):
    settings = {**vset, **dict(combo)}
    name = " ".join([vname] * bool(vname) + [f"{f.rsplit('.', 1)[-1]}={v}" for f, v in combo])
    cfg = config_lib.override(config, settings, f"sweep point {name!r}")
    config_lib.validate(cfg)
    if name in names:
      raise ConfigError(f"config.sweep: two points are both named {name!r}.")
    names.add(name)
    points.append(Point(name or "base", vname, settings, cfg))
  shared = {k: v for k, v in config_lib.flatten(config.to_dict()).items()
            if k.startswith(_SHARED_DATA_FIELDS)}
  for p in points:
    flat = config_lib.flatten(p.config.to_dict())
    for k, v in shared.items():
      if flat[k] != v:
        raise ConfigError(f"sweep point {p.name!r} changes {k}; all points must share the input "
                          "data (source, dim, files): make separate sweeps.")
  return points


def seeds_of(config) -> list[int]:
  return list(config.sweep.seeds) or [config.seed]


def _group_key(cfg: ml_collections.ConfigDict, n_train: int) -> str:
  flat = config_lib.flatten(cfg.to_dict())
  kept = {k: v for k, v in flat.items() if not k.startswith(_PER_REPLICA_FIELDS)}
  return json.dumps({"config": kept, "n_train": n_train}, sort_keys=True, default=str)


@dataclasses.dataclass
class _PointData:
  ds: dataset_lib.Dataset
  train_idx: np.ndarray  # [k, n] into ds.pairs
  tests: dict  # test set name -> list over folds of int [n, 3] (miRNA, gene, label)


def _point_data(points: list[Point]) -> list[_PointData]:
  """Each point's dataset, folds and test sets; points with the same data settings share them."""
  cache, out = {}, []
  for p in points:
    key = json.dumps(p.config.data.to_dict(), sort_keys=True, default=str)
    if key not in cache:
      ds = dataset_lib.build_dataset(p.config.data)
      own = [np.concatenate([ds.pairs[idx], ds.labels[idx, None]], axis=1) for idx in ds.folds]
      cache[key] = _PointData(ds, folds_lib.train_indices(ds.folds), {
          "own": own,
          "random": dataset_lib.random_negative_tests(ds, p.config.data.split, p.config.data.seed)})
      logging.info("data for %s: %d labelled pairs, %d folds x %d test pairs", p.name,
                   ds.labels.size, *ds.folds.shape)
    out.append(cache[key])
  return out


def _metrics(labels: np.ndarray, scores: np.ndarray, probabilities: bool) -> dict:
  if probabilities:
    m = evaluation.classification_metrics(labels, scores)
    return {k: m[k] for k in METRICS}
  # A raw score (distance) has no probability threshold: ranking metrics only.
  return {"auc": evaluation.roc_auc(labels, scores),
          "aupr": evaluation.average_precision(labels, scores),
          **{k: float("nan") for k in METRICS[2:]}}


def _train_group(g: int, members: list[tuple[int, int, int]], points, data, workdir, log):
  """Trains one group's replicas (one program per stage) and scores their test sets."""
  cfg = points[members[0][0]].config
  ds0 = data[members[0][0]].ds
  n_gene = len(ds0.gene_names)
  ids_of = lambda pairs: pairs[:, 0].astype(np.int64) * n_gene + pairs[:, 1]
  pool_ids = np.unique(np.concatenate([ids_of(data[i].ds.pairs) for i in {m[0] for m in members}]))
  pool_pairs = np.stack(np.divmod(pool_ids, n_gene), axis=1)
  pool_x = ds0.features_of(pool_pairs)
  pool_labels = (ds0.status[pool_pairs[:, 0], pool_pairs[:, 1]] == dataset_lib.POSITIVE)
  # Same order as the standalone run's training indices, so batches match it exactly.
  train_idx = np.stack([np.searchsorted(pool_ids, ids_of(data[i].ds.pairs[data[i].train_idx[f]]))
                        for i, _, f in members]).astype(np.int32)
  cfgs = [points[i].config for i, _, _ in members]
  reps = Replicas(train_idx, np.array([f for _, _, f in members]),
                  np.array([s for _, s, _ in members]),
                  np.array([c.ae.learning_rate for c in cfgs]),
                  np.array([c.classifier.learning_rate for c in cfgs]))
  logging.info("group %d: %d replicas (%s), pool of %d pairs", g, len(reps),
               ", ".join(sorted({points[i].name for i, _, _ in members})), len(pool_ids))
  trained = stages.train_replicas(
      cfg, pool_x, pool_labels.astype(np.int32), reps,
      checkpoint_root=os.path.join(workdir, "checkpoints"), metrics_log=log,
      label_prefix=f"group{g}_")
  # Each replica scores its own two test sets, padded to one length and spread over the devices.
  rows = [np.concatenate([data[i].tests[t][f] for t in TEST_SETS]) for i, _, f in members]
  width = max(len(r) for r in rows)
  x = np.zeros((len(rows), width, pool_x.shape[1]), np.float32)
  for r, pr in enumerate(rows):
    x[r, :len(pr)] = ds0.features_of(pr)
  place = Placement.from_config(cfg.train, len(rows))
  scores = inference.probability(
      place.to_host(trained.scorer(place, per_replica_x=True)(x), len(rows)))
  return [scores[r, :len(pr)] for r, pr in enumerate(rows)]


def run(config: ml_collections.ConfigDict, workdir: str) -> dict:
  """Trains and evaluates every point of the sweep; writes the tables, plots and REPORT.md."""
  t0 = time.time()
  points = expand(config)
  seeds = seeds_of(config)
  data = _point_data(points)
  k = config.data.folds
  groups: dict[str, list] = {}
  for i, p in enumerate(points):
    if p.config.classifier.model == "distance":
      continue
    stages.check_batch_sizes(p.config, data[i].train_idx.shape[1])  # before anything trains
    key = _group_key(p.config, data[i].train_idx.shape[1])
    groups.setdefault(key, []).extend((i, s, f) for s in seeds for f in range(k))
  workdir_lib.write_header(config, workdir, "train")
  log = MetricsLog(os.path.join(workdir, "metrics.jsonl"))
  records = []
  for g, members in enumerate(groups.values()):
    scores = _train_group(g, members, points, data, workdir, log)
    for r, ((i, s, f), sc) in enumerate(zip(members, scores)):
      start = 0
      for t in TEST_SETS:
        test = data[i].tests[t][f]
        records.append(_record(points[i], s, f, t, f"g{g}/r{r}", test,
                               sc[start:start + len(test)], True, data[i].ds))
        start += len(test)
  for i, p in enumerate(points):
    if p.config.classifier.model == "distance":
      for f in range(k):
        for t in TEST_SETS:
          test = data[i].tests[t][f]
          records.append(_record(p, None, f, t, f"distance/{i}/f{f}", test,
                                 data[i].ds.distance_scores(test), False, data[i].ds))
  per_replica = pd.DataFrame(records).astype({"seed": "Int64"})
  table = summarize(per_replica, points)
  with atomic.atomic_path(os.path.join(workdir, "sweep_replicas.csv")) as tmp:
    per_replica.to_csv(tmp, index=False)
  with atomic.atomic_path(os.path.join(workdir, "sweep.csv")) as tmp:
    table.to_csv(tmp, index=False)
  figures = plots.sweep_figures(workdir, table, [ax.partition("=")[0].strip()
                                                 for ax in config.sweep.grid])
  # Training time over every invocation (a resumed or restored sweep keeps its history).
  epochs = {(r["stage"], r["epoch"]): r["epoch_seconds"] for r in log.rows()}
  results = {"points": len(points), "seeds": seeds, "folds": k, "groups": len(groups),
             "replicas_trained": int(sum(len(m) for m in groups.values())),
             "wall_seconds": time.time() - t0, "training_seconds": float(sum(epochs.values())),
             "datasets": {p.name: d.ds.report for p, d in zip(points, data)}}
  atomic.write_json(os.path.join(workdir, "sweep_results.json"), results)
  report.write(workdir, config, table, per_replica, figures, results)
  logging.info("sweep done in %.0fs: %d points, %d replicas in %d group(s)\n%s",
               results["wall_seconds"], len(points), results["replicas_trained"], len(groups),
               report.markdown_table(table, compact=True))
  return results


def _record(point: Point, seed, fold: int, test_set: str, replica: str, test: np.ndarray,
            scores: np.ndarray, probabilities: bool, ds: dataset_lib.Dataset) -> dict:
  labels = test[:, 2]
  return {"point": point.name, "variant": point.variant,
          **{f"setting:{k}": v for k, v in point.settings.items()},
          "seed": seed, "fold": fold, "test_set": test_set, "replica": replica,
          "n_test": len(test), "n_test_positive": int(labels.sum()),
          **_metrics(labels, scores, probabilities),
          "distance_auc": evaluation.roc_auc(labels, ds.distance_scores(test))}


def summarize(per_replica: pd.DataFrame, points: list[Point]) -> pd.DataFrame:
  """One row per point: mean and sample std over its replicas (folds × seeds) of every metric on
  each test set, plus the replica ids each row was computed from."""
  rows = []
  for p in points:
    sub = per_replica[per_replica["point"] == p.name]
    row = {"point": p.name, "variant": p.variant,
           **{f"setting:{k}": v for k, v in p.settings.items()},
           "model": p.config.classifier.model, "n_replicas": 0}
    for t in TEST_SETS:
      s = sub[sub["test_set"] == t]
      row["n_replicas"] = len(s)
      for m in METRICS + ("distance_auc",):
        summary = cv_results.summarize(s[m].to_numpy(float))
        row[f"{t}_{m}_mean"], row[f"{t}_{m}_std"] = summary["mean"], summary["std"]
    row["replicas"] = " ".join(sub[sub["test_set"] == TEST_SETS[0]]["replica"])
    rows.append(row)
  return pd.DataFrame(rows)
