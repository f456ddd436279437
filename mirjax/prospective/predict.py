"""`--mode=predict` of a universe: the model fit on every record scores every pair of the universe.

Writes to `W/predictions/`:
- `all_pairs.parquet`: one row per pair (39.1 M for the whole table), sorted by gene, then rank:
  mirna, gene, score (the model's log-odds of any future validation), score_strong (of a strong
  one), rank (1 = highest score of all pairs), rank_in_gene, rank_in_mirna, status (positive /
  nonfunctional_record / unknown), evidence (a positive's class), the four seed-site counts,
  targetscan, pita, and `reasons`: the two features that raised its score most (gradient x
  standardized input of the seeds' mean score: a first-order attribution);
  `all_pairs_by_mirna.parquet`: the same rows sorted by miRNA, so that a query of either reads a few
  row groups;
- `records.parquet`: every record of the table (for a known pair's experiments and PMIDs);
- `nodes.json`: the universe's miRNA and gene names and the genes' Entrez IDs (a query resolves
  names from it);
- `top_by_gene.csv`, `top_by_mirna.csv`: each node's top `predict.top` unknown candidates.
"""

import concurrent.futures
import os
import time

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from absl import logging

from mirjax import atomic, rng
from mirjax.data import mirtarbase, protocols, sequences
from mirjax.data import universe as universe_lib
from mirjax.prospective import features, files, stage
from mirjax.prospective.files import DIR, NODES, PAIRS, PAIRS_BY_MIRNA, RECORDS
from mirjax.train import loop

ROW_GROUP = 1 << 16  # rows per parquet row group: a node's rows span one or two
STATUS = ("unknown", "positive", "nonfunctional_record")


def _explained(net, strong_weight, params, mean, std, x):
  """Both log-odds of each row (stage.ensemble of the seeds' networks), and the two features whose
  gradient x standardized input (a first-order attribution) raised the `all` log-odds most, in one
  pass."""
  z = stage.standardize(x, mean, std)

  def scores(row):
    out = stage.ensemble(net, strong_weight, params, row)
    return out["all"], out
  grad, out = jax.vmap(jax.grad(scores, has_aux=True))(z)
  return out, jax.lax.top_k(grad * z, 2)[1].astype(jnp.int16)


_explained_jit = jax.jit(_explained, static_argnums=(0, 1))


def run(u: universe_lib.Universe, section, train_section, top: int, rows_seed: int, workdir: str,
        t0: float) -> pd.DataFrame:
  """The `predict` mode of a universe: sections `prospective` and `train`; `top` candidates per
  node in the top lists (predict.top); the training rows drawn from stream `rows_seed`
  (protocols.seed), shared by every seed's replica as in the splits."""
  everything = protocols.everything(u)
  stats = features.SequenceStats(u).of_records(everything.train)
  rows = [stage.window_examples(u, everything, stats, section,
                                rng.generator(rows_seed, "prospective_windows", 0, 99))]
  store = loop.Store.of_workdir(workdir, train_section).grouped(loop.FINAL_PREFIX)
  trained = stage.train(rows, np.zeros(len(section.seeds), int), np.asarray(section.seeds),
                        section, train_section, store)
  del rows
  t_fit = time.perf_counter() - t0
  params, mean, std = trained.members(np.arange(len(section.seeds)))
  feats = features.Features(u, everything.train, everything.now, stats, section.recent)
  names = np.array(features.Features.names())
  mirnas, genes = np.flatnonzero(u.mirna_in), np.flatnonzero(u.gene_in)
  n_g = u.shape[1]
  pairs = (mirnas[:, None].astype(np.int64) * n_g + genes[None, :]).ravel()  # miRNA-major
  score = np.empty(len(pairs), np.float32)
  strong = np.empty(len(pairs), np.float32)
  reasons = np.empty((len(pairs), 2), np.int16)
  chunk = max(1, (1 << 20) // len(genes)) * len(genes)
  for start in range(0, len(pairs), chunk):
    m, g = np.divmod(pairs[start:start + chunk], n_g)
    for at, n, block in stage.row_blocks(feats.gather(m, g)):
      got, best = _explained_jit(trained.net, trained.strong_weight, params, mean, std, block)
      rows = slice(start + at, start + at + n)
      score[rows], strong[rows] = np.asarray(got["all"])[:n], np.asarray(got["strong"])[:n]
      reasons[rows] = np.asarray(best)[:n]
  table, by_mirna = _table(u, stats, pairs, (len(mirnas), len(genes)), score, strong, reasons,
                           names)
  del pairs, score, strong, reasons
  out = os.path.join(workdir, DIR)
  unknown = (table["status"] == "unknown").to_numpy()
  # pyarrow encodes and compresses without the GIL: the by-gene copy is written while the by-miRNA
  # copy is gathered and written (two 39 M-row files: 20 s at once against 35 s one after the other,
  # 2-core AMD EPYC).
  with concurrent.futures.ThreadPoolExecutor(1) as pool:
    by_gene = pool.submit(_write_outputs, table, unknown, "gene", os.path.join(out, PAIRS),
                          os.path.join(out, files.top_list("gene")), top)
    _write_outputs(table.iloc[by_mirna], unknown[by_mirna], "mirna",
                   os.path.join(out, PAIRS_BY_MIRNA), os.path.join(out, files.top_list("mirna")), top)
    by_gene.result()
  del by_mirna
  _write_parquet(_records(u), os.path.join(out, RECORDS))
  atomic.write_json(os.path.join(out, NODES), {
      "mirnas": [u.records.mirnas[i] for i in mirnas], "genes": [u.records.genes[i] for i in genes],
      "entrez": u.records.entrez[genes].tolist()})
  logging.info("scored %s pairs of the %s universe with the model of all %s records in %.0fs "
               "(fit %.0fs) -> %s", f"{len(table):,}", u.name, f"{len(u.records.pmid):,}",
               time.perf_counter() - t0, t_fit, out)
  return table


def _write_outputs(table: pd.DataFrame, unknown: np.ndarray, by: str, parquet: str, top_csv: str,
                   top: int) -> None:
  """`table` (sorted by `by`, then rank) as parquet, and each `by` node's `top` unknown pairs as
  CSV, picked by position in the sorted rows rather than by sorting again."""
  _write_parquet(table, parquet)
  at = np.flatnonzero(unknown)
  node = table[by].cat.codes.to_numpy()[at]
  keep = at[position_in_run(node) <= top]
  with atomic.atomic_path(top_csv) as tmp:
    table.iloc[keep].to_csv(tmp, index=False, float_format="%.6g")


def descending(score: np.ndarray) -> np.ndarray:
  """int64 [n]: the indices of float32 `score` by descending score, ties in index order (what
  np.argsort(-score, kind="stable") gives) from one sort of unique uint64 keys: the score's bits made
  order-preserving above the index. 5.7 s instead of 13 s on 39 M scores (2-core AMD EPYC)."""
  if len(score) >= 1 << 32 or not np.isfinite(score).all():
    raise ValueError(f"descending() takes fewer than 2^32 finite scores, not {len(score)} with "
                     f"{int((~np.isfinite(score)).sum())} non-finite.")
  low = np.uint64(0xFFFFFFFF)  # a uint32's bits in a uint64
  bits = (score + np.float32(0)).view(np.uint32).astype(np.uint64)  # -0.0 + 0.0 is +0.0: one tie
  ascending = np.where(bits >> 31, ~bits & low, bits | 0x80000000)  # IEEE order as integers
  key = ((low - ascending) << 32) | np.arange(len(score), dtype=np.uint64)
  key.sort()
  return (key & low).astype(np.int64)


def by_row_score(grid: np.ndarray) -> np.ndarray:
  """int64 [rows, cols]: each row's columns by descending score, ties in column order, of a score grid
  of either memory order: a node's pairs in rank order (4.4 s for the 39 M scores of the whole table,
  where a stable sort of every row by node took 6.5 s, 2-core AMD EPYC)."""
  return np.argsort(-grid, axis=1, kind="stable")


def position_in_run(sorted_node: np.ndarray) -> np.ndarray:
  """int32 1, 2, ... within each run of equal values of a sorted array: a row's rank within its
  node, in linear time."""
  n = len(sorted_node)
  starts = np.flatnonzero(np.r_[True, sorted_node[1:] != sorted_node[:-1]]) if n else np.zeros(0, int)
  return (np.arange(n) - np.repeat(starts, np.diff(np.r_[starts, n])) + 1).astype(np.int32)


def _table(u, stats: features.NodeStats, pairs, shape, score, strong, reasons,
           names) -> tuple[pd.DataFrame, np.ndarray]:
  """Every pair's row, sorted by gene then rank, and the order that sorts the rows by miRNA then
  rank (for the by-miRNA copy). `pairs` and the per-pair arrays are miRNA-major over `shape` (the
  universe's miRNAs x genes), so each node's pairs are a row or column of one score grid."""
  r = u.records
  recorded = mirtarbase.pairs_of(r)
  n, (rows, cols) = len(pairs), shape  # the universe's miRNAs and genes, not the table's
  # A pair's status and evidence by a lookup in dense [n_mirna * n_gene] int8 tables (39 MB each).
  status_of = np.zeros(r.shape[0] * r.shape[1], np.int8)
  status_of[recorded.key] = np.where(recorded.functional, 1, 2)
  evidence_of = np.full(len(status_of), -1, np.int8)
  evidence_of[recorded.key[recorded.functional]] = recorded.evidence[recorded.functional]
  status, evidence = status_of[pairs], evidence_of[pairs]
  del status_of, evidence_of
  rank = np.empty(n, np.int32)
  rank[descending(score)] = np.arange(1, n + 1)
  grid = score.reshape(rows, cols)
  order = (by_row_score(grid.T) * cols + np.arange(cols)[:, None]).ravel()  # by gene, then rank
  by_mirna = (by_row_score(grid) + np.arange(rows)[:, None] * cols).ravel()  # by miRNA, then rank
  in_mirna = np.empty(n, np.int32)
  in_mirna[by_mirna] = _ranks_within(cols, rows)
  moved = np.empty(n, np.int64)
  moved[order] = np.arange(n)
  by_mirna = moved[by_mirna]  # the by-miRNA order in the rows' new (by-gene) positions
  del moved
  pairs, score, strong, rank, in_mirna = (a[order] for a in (pairs, score, strong, rank, in_mirna))
  status, evidence, reasons = status[order], evidence[order], reasons[order]
  del order
  m, g = np.divmod(pairs, u.shape[1])
  sites = u.content.sites[m, g]
  return pd.DataFrame({
      "mirna": pd.Categorical.from_codes(m, r.mirnas), "gene": pd.Categorical.from_codes(g, r.genes),
      "score": score, "score_strong": strong, "rank": rank,
      "rank_in_gene": _ranks_within(rows, cols),
      "status": pd.Categorical.from_codes(status, STATUS),
      "evidence": pd.Categorical.from_codes(evidence, mirtarbase.EVIDENCE),
      **{f"sites_{t}": sites[:, i] for i, t in enumerate(sequences.SITE_TYPES)},
      "targetscan": stats.predicted["targetscan"][m, g], "pita": stats.predicted["pita"][m, g],
      "reasons": pd.Categorical.from_codes(_reason_codes(reasons, len(names)),
                                           _reason_names(names)),
      "rank_in_mirna": in_mirna}), by_mirna


def _ranks_within(size: int, nodes: int) -> np.ndarray:
  """int32 1..size, once per node: each row's rank within its node, for rows sorted by node and rank
  where every node has `size` rows."""
  return np.tile(np.arange(1, size + 1, dtype=np.int32), nodes)


def _reason_codes(reasons: np.ndarray, n: int) -> np.ndarray:
  return reasons[:, 0].astype(np.int32) * n + reasons[:, 1]


def _reason_names(names: np.ndarray) -> list[str]:
  return [f"{a}, {b}" for a in names for b in names]


def _records(u) -> pd.DataFrame:
  r = u.records
  return pd.DataFrame({"mirna": pd.Categorical.from_codes(r.mirna, r.mirnas),
                       "gene": pd.Categorical.from_codes(r.gene, r.genes), "pmid": r.pmid,
                       "functional": r.functional, "experiments": r.experiments,
                       "evidence": pd.Categorical.from_codes(r.evidence, mirtarbase.EVIDENCE)})


def _write_parquet(table: pd.DataFrame, path: str) -> None:
  """miRNA and gene names as plain strings: parquet still dictionary-encodes them, and a filtered
  read of a string column skips the row groups whose min/max exclude the name (of a dictionary
  column it decodes them all: 0.2 s instead of 0.006 s for 4 M rows). Only text columns are
  dictionary-encoded: tried on the numbers too (pyarrow's default), a dictionary of 39 M distinct
  scores or ranks is built and dropped in every row group (8 M rows of all_pairs: 2.9 s and 178 MB
  with it, 1.8 s and 133 MB without, 2-core AMD EPYC)."""
  arrow = pa.Table.from_pandas(table, preserve_index=False)
  arrow = arrow.cast(pa.schema([pa.field(f.name, pa.string()) if f.name in ("mirna", "gene")
                                else f for f in arrow.schema]))
  text = [f.name for f in arrow.schema if pa.types.is_string(f.type) or pa.types.is_dictionary(f.type)]
  with atomic.atomic_path(path) as tmp:
    pq.write_table(arrow, tmp, row_group_size=ROW_GROUP, compression="zstd", use_dictionary=text)
