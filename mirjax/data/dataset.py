"""Builds the labelled pair dataset: grid, positives, negatives, folds, and a report of every count.

The result holds indices, not feature copies: a pair's features are
`[mirna_vectors[i] | gene_vectors[j]]`, gathered on device when needed.
"""

import dataclasses

import ml_collections
import numpy as np

from mirjax import rng
from mirjax.data import folds as folds_lib
from mirjax.data import negatives, sources, synthetic, tables

# Values of `Dataset.status`, one per grid pair.
UNKNOWN, POSITIVE, NEGATIVE, RECORD_NOT_FUNCTIONAL = 0, 1, 2, 3
STATUS_NAMES = {UNKNOWN: "unknown", POSITIVE: "positive", NEGATIVE: "train_negative",
                RECORD_NOT_FUNCTIONAL: "nonfunctional_record"}


@dataclasses.dataclass(frozen=True)
class Dataset:
  mirna_names: tuple[str, ...]
  gene_names: tuple[str, ...]
  mirna_vectors: np.ndarray  # float32 [n_mirna, dim]
  gene_vectors: np.ndarray  # float32 [n_gene, dim]
  pairs: np.ndarray  # int32 [n_pairs, 2]: (miRNA index, gene index), in grid order
  labels: np.ndarray  # int32 [n_pairs]: 1 positive, 0 negative
  folds: np.ndarray  # int32 [k, n]: test indices into `pairs` for each fold
  train_idx: np.ndarray  # int32 [k, m]: training indices into `pairs` for each fold
  dissimilarity: np.ndarray  # float64 [n_mirna, n_gene], per data.metric
  status: np.ndarray  # int8 [n_mirna, n_gene], one of the status values above
  report: dict
  # The sequence embeddings (data.sequence_embeddings), row-aligned with the vectors; else None.
  mirna_sequence: np.ndarray | None = None
  gene_sequence: np.ndarray | None = None
  # miRTarBase outside the grid (data.side_graph), as the grid nodes' co-occurrence counts; else None.
  side: tables.SideGraph | None = None

  def pair_features(self, idx: np.ndarray | None = None) -> np.ndarray:
    """float32 [n, 2*dim] features `[miRNA | gene]` of the labelled pairs (all, or `idx`)."""
    return self.features_of(self.pairs if idx is None else self.pairs[idx])

  def features_of(self, pairs: np.ndarray) -> np.ndarray:
    """float32 [n, 2*dim] features `[miRNA | gene]` of any (miRNA index, gene index) rows."""
    return np.concatenate([self.mirna_vectors[pairs[:, 0]], self.gene_vectors[pairs[:, 1]]], axis=1)

  def distance_scores(self, pairs: np.ndarray) -> np.ndarray:
    """The distance-only baseline's score of (miRNA, gene) rows: -dissimilarity, no learning."""
    return -self.dissimilarity[pairs[:, 0], pairs[:, 1]]


SEQUENCE_KEYS = ("mirna_sequence_embeddings", "gene_sequence_embeddings")


def load_tables(data: ml_collections.ConfigDict):
  """Returns (miRNA table, gene table, grid evidence, file provenance, sequence vectors) for
  `data.source`; sequence vectors are (miRNA, gene) arrays aligned with the tables, or None."""
  if data.source == "synthetic":
    s = data.synthetic
    t = synthetic.make_tables(
        n_mirna=s.n_mirna, n_gene=s.n_gene, dim=data.dim, n_clusters=s.n_clusters,
        p_within=s.p_within, p_across=s.p_across, seed=s.seed)
    evidence = tables.grid_evidence(t.mti, t.mirnas.names, t.genes.names)
    sequence = t.sequence if data.sequence_embeddings else None
    return t.mirnas, t.genes, evidence, {"synthetic": dict(s)}, sequence

  keys = ("mirna_embeddings", "gene_embeddings", "mirtarbase")
  keys += SEQUENCE_KEYS if data.sequence_embeddings else ()
  paths = {key: sources.locate(sources.SOURCES[key], data.dir, allow_fetch=data.fetch,
                               verify=data.verify_checksums) for key in keys}
  mirnas = tables.read_embeddings(paths["mirna_embeddings"], data.dim)
  genes = tables.read_embeddings(paths["gene_embeddings"], data.dim)
  evidence = tables.read_grid_evidence(paths["mirtarbase"], mirnas.names, genes.names)
  sequence = None
  if data.sequence_embeddings:
    sequence = tuple(
        tables.aligned(tables.read_embeddings(paths[key], data.dim, column_prefix="x_"),
                       names, role)
        for key, names, role in zip(SEQUENCE_KEYS, (mirnas.names, genes.names), ("miRNA", "gene")))
  provenance = {key: {"path": paths[key], "registered_sha256": sources.SOURCES[key].sha256,
                      "checksum_verified": bool(data.verify_checksums),
                      "origin": sources.SOURCES[key].origin} for key in paths}
  return mirnas, genes, evidence, provenance, sequence


def make_folds(split: str, labels: np.ndarray, pairs: np.ndarray, k: int,
               draw: np.random.Generator) -> tuple[np.ndarray, np.ndarray, int]:
  """(test indices [k, n], training indices [k, m], n_left_out) of `split`."""
  if split == "both":
    return folds_lib.block_folds(pairs[:, 0], pairs[:, 1], k, draw)
  if split == "pairs":
    test, left_out = folds_lib.stratified_folds(labels, k, draw)
  elif split in ("mirna", "gene"):
    test, left_out = folds_lib.group_folds(pairs[:, 0 if split == "mirna" else 1], k, draw)
  else:
    raise ValueError(f"data.split={split!r}: choose one of {folds_lib.SPLITS}.")
  return test, folds_lib.train_indices(test), left_out


def build_dataset(data: ml_collections.ConfigDict) -> Dataset:
  mirnas, genes, evidence, provenance, sequence = load_tables(data)
  positive = evidence.functional
  n_pos = int(positive.sum())
  d = negatives.pair_dissimilarity(mirnas.vectors, genes.vectors, data.metric)
  neg_rng, fold_rng = rng.generator(data.seed, "negatives"), rng.generator(data.seed, "folds")
  neg = negatives.sample_negatives(
      d, positive, evidence.any_record, strategy=data.negatives.strategy,
      n_negatives=int(round(data.negatives.ratio * n_pos)), rng=neg_rng,
      threshold=data.negatives.threshold, band=data.negatives.band)

  status = np.full(positive.shape, UNKNOWN, np.int8)
  status[evidence.any_record] = RECORD_NOT_FUNCTIONAL
  status[positive] = POSITIVE
  status[neg.mask] = NEGATIVE
  labelled = np.flatnonzero(positive.ravel() | neg.mask.ravel())
  pairs = np.stack(np.unravel_index(labelled, positive.shape), axis=1).astype(np.int32)
  labels = positive.ravel()[labelled].astype(np.int32)
  fold_idx, train_idx, left_out = make_folds(data.split, labels, pairs, data.folds, fold_rng)

  def summary(x: np.ndarray) -> dict:
    q = np.quantile(x, [0.1, 0.5, 0.9]) if x.size else [float("nan")] * 3
    return {"n": int(x.size), "mean": float(x.mean()) if x.size else float("nan"),
            "std": float(x.std()) if x.size else float("nan"),
            "q10": float(q[0]), "median": float(q[1]), "q90": float(q[2])}

  report = {
      "source": data.source,
      "files": provenance,
      "n_mirna": len(mirnas.names),
      "n_gene": len(genes.names),
      "n_grid_pairs": int(positive.size),
      "n_mirtarbase_records_in_grid": evidence.n_records,
      "n_pairs_with_any_record": int(evidence.any_record.sum()),
      "n_positive": n_pos,
      "n_nonfunctional_only": int((evidence.any_record & ~positive).sum()),
      "n_side_graph_pairs": evidence.side.n_pairs if data.side_graph else None,
      # outside miRNAs, genes left out of the side graph as copies of grid nodes (tables.py)
      "n_side_graph_copies": list(evidence.side.n_copies) if data.side_graph else None,
      "n_unknown": neg.n_unknown,
      "metric": data.metric,
      "strategy": data.negatives.strategy,
      "threshold": neg.threshold,
      "threshold_source": neg.threshold_source,
      "mean_positive_dissimilarity": float(d[positive].mean()),
      # For cosine, the same threshold read as a similarity (negatives are *below* it).
      "threshold_as_similarity": (1.0 - neg.threshold if data.metric == "cosine"
                                  and neg.threshold is not None else None),
      "band": data.negatives.band,
      "n_candidates_beyond_threshold": neg.n_candidates_beyond,
      "n_dropped_by_band": neg.n_dropped_by_band,
      "n_candidates": neg.n_candidates,
      "n_negative": int(neg.mask.sum()),
      "negatives_ratio": data.negatives.ratio,
      "n_labelled": int(labels.size),
      "folds": data.folds,
      "split": data.split,
      "fold_size": int(fold_idx.shape[1]),
      "train_size": int(train_idx.shape[1]),
      "n_left_out_for_equal_folds": left_out,
      "data_seed": data.seed,
      "dissimilarity": {"positive": summary(d[positive]), "unknown": summary(d[~evidence.any_record]),
                        "negative": summary(d[neg.mask])},
  }
  return Dataset(mirnas.names, genes.names, mirnas.vectors, genes.vectors, pairs, labels, fold_idx,
                 train_idx, d, status, report, *(sequence or (None, None)),
                 side=evidence.side if data.side_graph else None)
