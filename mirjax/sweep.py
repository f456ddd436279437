"""Sweeps and ablations: many runs as the replicas of a few compiled programs, in one tidy table.

A config with a non-empty `sweep` section (configs/sweep_threshold.py, configs/ablations.py) lists
named `variants` (override sets) and/or a `grid` (a cartesian product of field values), and the
`seeds`. Every (point, seed, fold) is one replica. Replicas whose array shapes agree (model sizes,
epochs, batch sizes, index lengths) form one group and train as one program: what differs between
them is data (index arrays into a pool of pair features shared by the group), learning rates
(per-replica data) and keys (from seed and fold). A replica is the same model that fold of a
standalone run with the point's settings would train.

Graph-model points (classifier.model=graph) group the same way; their per-replica data are the
fold's training graph and negative pool. Every trained replica scores the whole grid with its fold's
model and is measured by the honest protocol (mirjax/evaluation/honest.py: its fold's own test,
the random-negative test, full-ranking recall@k and MRR, the low-degree AUC); the baselines (EASE,
SVD, CF, degree, distance; popularity and embedding kNN for cold start) are scored on the same folds
of every data setting the points use, as points of their own. Outputs in the workdir:
`sweep_replicas.csv` (one row per replica), `sweep.csv` (one row per point: mean ± std over folds ×
seeds of every metric, and the replica ids it was computed from), plots, and REPORT.md.
"""

import ast
import dataclasses
import itertools
import json
import os
import time

import ml_collections
import pandas as pd
from absl import logging

from mirjax import atomic, family, plots, report
from mirjax import config as config_lib
from mirjax import workdir as workdir_lib
from mirjax.data import dataset as dataset_lib
from mirjax.data import testsets
from mirjax.errors import ConfigError
from mirjax.evaluation import honest
from mirjax.train.loop import Store

# Fields that may differ between the replicas of one program (they change data or per-replica
# values, not shapes). Everything else in a point's config must agree within a group.
_PER_REPLICA_FIELDS = ("seed", "data.", "ae.learning_rate", "classifier.learning_rate", "sweep.",
                       "train.checkpoint", "train.keep", "predict.")
# Data fields that change the nodes' content (mirjax/data/content.py), which a graph group shares:
# points that differ in them train in separate groups.
_CONTENT_FIELDS = ("data.sequence_embeddings", "data.side_graph")
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
  kept = {k: v for k, v in flat.items()
          if not k.startswith(_PER_REPLICA_FIELDS) or k in _CONTENT_FIELDS}
  return json.dumps({"config": kept, "n_train": n_train}, sort_keys=True, default=str)


@dataclasses.dataclass
class _PointData:
  key: str  # the data settings: points with the same key share dataset, folds and baselines
  tag: str  # how its data differs from the sweep's base config, e.g. 'split=mirna' ('' if not)
  ds: dataset_lib.Dataset
  folds: list  # testsets.Fold per fold


def _point_data(config, points: list[Point]) -> list[_PointData]:
  """Each point's dataset and honest folds; points with the same data settings share them."""
  base = config_lib.flatten(config.data.to_dict())
  cache, out = {}, []
  for p in points:
    key = json.dumps(p.config.data.to_dict(), sort_keys=True, default=str)
    if key not in cache:
      ds = dataset_lib.build_dataset(p.config.data)
      flat = config_lib.flatten(p.config.data.to_dict())
      tag = ", ".join(f"{k.rsplit('.', 1)[-1]}={v}" for k, v in flat.items() if base[k] != v)
      cache[key] = _PointData(key, tag, ds,
                              testsets.folds(ds, p.config.data.split, p.config.data.seed))
      logging.info("data for %s: %d labelled pairs, %d folds x %d test pairs", p.name,
                   ds.labels.size, *ds.folds.shape)
    out.append(cache[key])
  return out


def _group_members(members: list[tuple[int, int, int]], points, data) -> list[family.Member]:
  """The group's (point, seed, fold) entries as the replicas its family trains."""
  return [family.Member(data[i].ds, data[i].folds[f], s, points[i].config.ae.learning_rate,
                        points[i].config.classifier.learning_rate) for i, s, f in members]


def _record(point: Point, model: str, seed, fold: int, replica: str, metrics: dict) -> dict:
  return {"point": point.name, "variant": point.variant, "model": model,
          **{f"setting:{k}": v for k, v in point.settings.items()},
          "seed": seed, "fold": fold, "replica": replica, **metrics}


def run(config: ml_collections.ConfigDict, workdir: str) -> dict:
  """Trains and evaluates every point of the sweep, beside the baselines of every data setting
  its points use; writes the tables, plots and REPORT.md."""
  t0 = time.perf_counter()
  points = expand(config)
  seeds = seeds_of(config)
  data = _point_data(config, points)
  k = config.data.folds
  groups: dict[str, list] = {}
  for i, p in enumerate(points):
    key = _group_key(p.config, data[i].ds.train_idx.shape[1])
    point_seeds = seeds if family.of(p.config).seeded else [None]  # distance: one per fold
    groups.setdefault(key, []).extend((i, s, f) for s in point_seeds for f in range(k))
  families = [family.of(points[members[0][0]].config) for members in groups.values()]
  for fam, members in zip(families, groups.values()):
    fam.check(_group_members(members, points, data))  # before anything trains
  workdir_lib.write_header(config, workdir, "train")
  store = Store.of_workdir(workdir, config.train)
  records = []
  for g, (fam, members) in enumerate(zip(families, groups.values())):
    logging.info("group %d: %d replicas (%s)", g, len(members),
                 ", ".join(sorted({points[i].name for i, _, _ in members})))
    grids = fam.train(_group_members(members, points, data),
                      store.grouped(f"group{g}_")).grid_log_odds()
    for r, ((i, s, f), grid) in enumerate(zip(members, grids)):
      records.append(_record(points[i], points[i].config.classifier.model, s, f, f"g{g}/r{r}",
                             honest.evaluate(grid, data[i].folds[f])))
  baseline_points, chosen = [], {}
  for d in {d.key: d for d in data}.values():
    grids, chosen[d.tag or "base"] = honest.baseline_grids(d.ds, d.folds, d.ds.report["data_seed"])
    for name, grid in grids.items():
      point = Point(f"{name}" + (f" [{d.tag}]" if d.tag else ""), name, {}, None)
      baseline_points.append((point, d.tag))
      records += [_record(point, "baseline", None, f.index, f"{name}/{d.tag}/f{f.index}",
                          honest.evaluate(grid[f.index], f)) for f in d.folds]
  per_replica = pd.DataFrame(records).astype({"seed": "Int64"})
  table = summarize(per_replica, points + [p for p, _ in baseline_points])
  table["data"] = [d.tag for d in data] + [tag for _, tag in baseline_points]
  with atomic.atomic_path(os.path.join(workdir, "sweep_replicas.csv")) as tmp:
    per_replica.to_csv(tmp, index=False)
  with atomic.atomic_path(os.path.join(workdir, "sweep.csv")) as tmp:
    table.to_csv(tmp, index=False)
  figures = plots.sweep_figures(workdir, table[table["model"] != "baseline"],
                                [ax.partition("=")[0].strip() for ax in config.sweep.grid])
  figures.append(plots.leaderboard(os.path.join(workdir, "leaderboard.png"), table))
  # Training time over every invocation (a resumed or restored sweep keeps its history).
  epochs = {(r["stage"], r["epoch"]): r["epoch_seconds"] for r in store.log.rows()}
  results = {"points": len(points), "seeds": seeds, "folds": k, "groups": len(groups),
             "replicas": int(sum(len(m) for m in groups.values())),
             "wall_seconds": time.perf_counter() - t0,
             "training_seconds": float(sum(epochs.values())),
             "baseline_hyperparameters": chosen,
             "datasets": {p.name: d.ds.report for p, d in zip(points, data)}}
  atomic.write_json(os.path.join(workdir, "sweep_results.json"), results)
  report.write(workdir, report.budget(config), table, per_replica, figures, results)
  logging.info("sweep done in %.0fs: %d points, %d replicas in %d group(s)\n%s",
               results["wall_seconds"], len(points), results["replicas"], len(groups),
               report.markdown_table(table))
  return results


def summarize(per_replica: pd.DataFrame, points: list[Point]) -> pd.DataFrame:
  """One row per point: mean and sample std over its replicas (folds × seeds) of every metric,
  plus the replica ids each row was computed from."""
  rows = []
  for p in points:
    sub = per_replica[per_replica["point"] == p.name]
    rows.append({"point": p.name, "variant": p.variant,
                 **{f"setting:{k}": v for k, v in p.settings.items()}, **report.summary_row(sub),
                 "replicas": " ".join(sub["replica"])})
  return pd.DataFrame(rows)
