"""One entry point for a whole run: `run(config, workdir, mode)`, called by launch.py.

Stages write into the workdir:
  config.json          resolved config, package versions, devices, seeds
  dataset.json         every count of the dataset stage (threshold, candidates, band, folds, files)
  dataset_distances.png  positive vs unknown vs chosen-negative dissimilarities
"""

import os
import time

import ml_collections
from absl import logging

from mirjax import atomic, plots, provenance
from mirjax import config as config_lib
from mirjax.data import dataset as dataset_lib

MODES = ("dataset",)


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


def run(config: ml_collections.ConfigDict, workdir: str, mode: str = "dataset") -> dict:
  """Runs `mode` ('dataset': build and report the dataset) and returns its report."""
  if mode not in MODES:
    raise config_lib.ConfigError(f"--mode={mode!r} is unknown; choose one of {MODES}.")
  config_lib.validate(config)
  os.makedirs(workdir, exist_ok=True)
  write_run_header(config, workdir, mode)
  t0 = time.time()
  ds = dataset_lib.build_dataset(config.data)
  write_dataset_report(ds, workdir)
  r = ds.report
  logging.info("dataset: %d miRNAs x %d genes, %d positives, %d negatives (%s, threshold %s, "
               "%d candidates beyond, %d dropped by band), %d folds of %d, built in %.1fs",
               r["n_mirna"], r["n_gene"], r["n_positive"], r["n_negative"], r["strategy"],
               "n/a" if r["threshold"] is None else f"{r['threshold']:.4f}",
               r["n_candidates_beyond_threshold"], r["n_dropped_by_band"], r["folds"],
               r["fold_size"], time.time() - t0)
  return r
