"""A prospective run: every split of every protocol, the model beside every record baseline.

Trains the model's replicas (one per split and seed, one program), then for each split fits the
baselines on its training records, scores its test pairs and the ranked genes' candidates, and
measures every scorer on all, strong-only and CLIP-only positives with paired bootstrap SEs
(mirjax/evaluation/prospective.py), and how far its test positives' inputs lie from its windows'
(mirjax/prospective/shift.py). Writes `splits.json` (every split's counts), `results.json`
(written last), `metrics.csv` (one row per split, subset and scorer) and `leaderboard.md`.
"""

import concurrent.futures
import os
import time

import numpy as np
from absl import logging

from mirjax import atomic, provenance, rng
from mirjax.data import keysets, mirtarbase, protocols
from mirjax.data.universe import Universe
from mirjax.evaluation import cv_results, record_baselines
from mirjax.evaluation import prospective as measures
from mirjax.prospective import features, report, shift, stage
from mirjax.train import loop

MODEL_SCORES = {"model": "all", "model_strong": "strong"}


class ModelScorer:
  """The model's scores of pairs of one split: its seeds' replicas as one ensemble; the two scores
  share one feature gather and forward pass per block of pairs."""

  def __init__(self, trained: stage.Trained, replicas: list[int], feats: features.Features):
    self.trained, self.replicas, self.feats = trained, replicas, feats
    self._last = (None, None, None)

  def __call__(self, score: str):
    def f(m, g):
      if self._last[0] is not m or self._last[1] is not g:
        self._last = (m, g, self.trained.scores(self.replicas, self.feats.gather(m, g)))
      return self._last[2][score]
    return f


def examples(u, splits, stats, protocols_section, section) -> tuple[list, list, np.ndarray,
                                                                     np.ndarray]:
  """(training rows of every split, their positives' input statistics, each replica's split and
  seed; replicas are split-major). A split's rows are drawn once (stream of protocols.seed) and
  shared by its seeds' replicas; `stats`: each split's NodeStats."""
  out, references = [], []
  for split, split_stats in zip(splits, stats):
    draw = rng.generator(protocols_section.seed, "prospective_windows",
                         protocols.PROTOCOLS.index(split.protocol), split.index)
    out.append(stage.window_examples(u, split, split_stats, section, draw))
    references.append(shift.Reference.of(out[-1].x, out[-1].y))
    logging.info("model rows of %s %s: %d (%s)", split.protocol, split.label, len(out[-1].y),
                 "; ".join(f"{x['window']}: {x['strong']} strong, "
                           f"{x['high_throughput']} other, {x['negatives']} negatives"
                           for x in out[-1].windows))
  n = len(section.seeds)
  return (out, references, np.repeat(np.arange(len(splits)), n),
          np.tile(np.asarray(section.seeds), len(splits)))


def write_splits(u: Universe, p, workdir: str, splits=None) -> dict:
  """W/splits.json: the universe and every split's counts (the `dataset` mode of a universe);
  `p` is the `protocols` section."""
  splits = splits if splits is not None else protocols.splits(u, p)
  out = {**u.summary(), "what": protocols.WHAT, "splits": [_counts(s) for s in splits]}
  atomic.write_json(os.path.join(workdir, "splits.json"), out)
  return out


def run(u: Universe, p, section, train_section, workdir: str, t0: float, header) -> dict:
  """The `train` mode of a universe: sections `protocols` (p), `prospective` and `train`;
  `header()` writes config.json once the splits are built."""
  splits = protocols.splits(u, p)
  sequence_stats = features.SequenceStats(u)
  stats = [sequence_stats.of_records(split.train) for split in splits]
  del sequence_stats
  header()
  write_splits(u, p, workdir, splits)
  t_data = time.perf_counter() - t0
  rows, references, rows_of, seeds = examples(u, splits, stats, p, section)
  trained = stage.train(rows, rows_of, seeds, section, train_section,
                        loop.Store.of_workdir(workdir, train_section))
  del rows
  of_split = [np.flatnonzero(rows_of == i) for i in range(len(splits))]  # each split's replicas
  t_train = time.perf_counter() - t0 - t_data
  recorded = keysets.unique(u.records.pair)

  def evaluate(split, split_stats, replicas, reference):
    t = time.perf_counter()
    feats = features.Features(u, split.train, split.now, split_stats, section.recent)
    input_shift = dict(zip(features.Features.names(), np.round(reference.shift(
        feats.gather(*np.divmod(split.positives, u.shape[1]))), 3).tolist()))
    model = ModelScorer(trained, replicas, feats)
    scorers = {name: model(score) for name, score in MODEL_SCORES.items()}
    scorers.update(record_baselines.scorers(feats))
    scored = measures.score_split(split, scorers, u.shape, recorded, p.ranking_genes, p.seed)
    subsets = {subset: measures.metrics_with_bootstrap(s, tuple(MODEL_SCORES), p.bootstrap, p.seed)
               for subset, s in scored.items()}
    logging.info("evaluated %s %s in %.0fs: model AUC all %.4f, strong %.4f (strong-degree "
                 "product %.4f)", split.protocol, split.label, time.perf_counter() - t,
                 subsets["all"]["model"]["auc"],
                 subsets.get("strong", {}).get("model_strong", {}).get("auc", float("nan")),
                 subsets.get("strong", {}).get("strong_degree_product", {}).get("auc",
                                                                                 float("nan")))
    return {**_counts(split), "subsets": subsets, "input_shift": input_shift}
  # Splits are independent, and most of a split's work is single-threaded NumPy (sorts, gathers,
  # cumulative sums) that releases the GIL: `p.workers` threads evaluate that many splits at once.
  with concurrent.futures.ThreadPoolExecutor(p.workers) as pool:
    per_split = list(pool.map(evaluate, splits, stats, of_split, references))
  metrics = report.metrics_table(per_split)
  with atomic.atomic_path(os.path.join(workdir, "metrics.csv")) as tmp:
    metrics.to_csv(tmp, index=False)
  results = {"universe": u.summary(), "what": protocols.WHAT, "splits": per_split,
             "summary": report.summary(metrics), "paired": report.paired(per_split),
             "input_shift": report.input_shift(per_split),
             "seconds": {"data": t_data, "train": t_train,
                         "evaluate": time.perf_counter() - t0 - t_data - t_train},
             "wall_seconds": time.perf_counter() - t0, "device_memory": provenance.device_memory()}
  report.write_leaderboard(workdir, results, metrics)
  cv_results.write_results(workdir, results)
  logging.info("done in %.0fs (data %.0fs, model %.0fs, evaluation %.0fs); leaderboard.md",
               results["wall_seconds"], t_data, t_train, results["seconds"]["evaluate"])
  return results


def _counts(split: protocols.Split) -> dict:
  return {"protocol": split.protocol, "label": split.label, "index": split.index,
          "training_records": int(split.train.sum()), "now": split.now,
          "positives": int(len(split.positives)),
          "positives_by_evidence": dict(zip(mirtarbase.EVIDENCE, np.bincount(
              split.evidence, minlength=len(mirtarbase.EVIDENCE)).tolist())),
          "negatives": int(len(split.negatives)), "test_mirnas": int(split.test_mirnas.sum()),
          "test_genes": int(split.test_genes.sum())}
