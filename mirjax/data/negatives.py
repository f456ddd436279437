"""Negative sampling: the paper's distance-based label adjustment, and uniform random sampling.

Only "unknown" pairs (no miRTarBase record of any kind) are ever eligible. Distances are between the
miRNA and the gene embedding of a pair. For `cosine` the dissimilarity is 1 - cosine similarity, so
for both metrics "beyond the threshold" means "dissimilarity > threshold" (for cosine: less similar).
"""

import dataclasses

import numpy as np

from mirjax.errors import ConfigError

METRICS = ("euclidean", "cosine")
STRATEGIES = ("distance", "random")


def pair_dissimilarity(mirna_vectors: np.ndarray, gene_vectors: np.ndarray, metric: str) -> np.ndarray:
  """[n_mirna, n_gene] dissimilarity of every grid pair, in float64 for exact thresholds."""
  m = mirna_vectors.astype(np.float64)
  g = gene_vectors.astype(np.float64)
  if metric == "euclidean":
    sq = (m * m).sum(1)[:, None] + (g * g).sum(1)[None, :] - 2.0 * m @ g.T
    return np.sqrt(np.maximum(sq, 0.0))
  if metric == "cosine":
    mn = m / np.linalg.norm(m, axis=1, keepdims=True)
    gn = g / np.linalg.norm(g, axis=1, keepdims=True)
    return 1.0 - mn @ gn.T
  raise ConfigError(f"data.metric={metric!r} is unknown; choose one of {METRICS}.")


@dataclasses.dataclass(frozen=True)
class NegativeSample:
  mask: np.ndarray  # bool [n_mirna, n_gene]: chosen negatives
  threshold: float | None  # dissimilarity threshold used (None for `random`)
  threshold_source: str  # 'mean of positives', 'config' or 'none'
  n_unknown: int
  n_candidates_beyond: int  # unknown pairs beyond the threshold (before the band)
  n_dropped_by_band: int
  n_candidates: int  # eligible pool actually sampled from


def sample_negatives(dissimilarity: np.ndarray, positive: np.ndarray, any_record: np.ndarray, *,
                     strategy: str, n_negatives: int, rng: np.random.Generator,
                     threshold: float | None = None, band: float = 0.0) -> NegativeSample:
  """Draws `n_negatives` negatives without replacement from the eligible unknown pairs.

  Args:
    dissimilarity: [n_mirna, n_gene] from `pair_dissimilarity`.
    positive: bool mask of the positive pairs (their mean dissimilarity is the default threshold).
    any_record: bool mask of pairs with any miRTarBase record; never eligible as negatives.
    strategy: 'distance' (beyond the threshold) or 'random' (any unknown pair).
    threshold: dissimilarity threshold; None means the mean over the positives.
    band: with 'distance', also drop candidates with |dissimilarity - threshold| < band.
  """
  unknown = ~any_record
  thr = float(dissimilarity[positive].mean()) if threshold is None else float(threshold)
  beyond = unknown & (dissimilarity > thr)
  if strategy == "distance":
    in_band = beyond & (np.abs(dissimilarity - thr) < band)
    pool = beyond & ~in_band
    source = "mean of positives" if threshold is None else "config"
  elif strategy == "random":
    in_band = np.zeros_like(beyond)
    pool = unknown
    thr, source = None, "none"
  else:
    raise ConfigError(f"data.negatives.strategy={strategy!r} is unknown; choose one of {STRATEGIES}.")
  flat = np.flatnonzero(pool)
  if n_negatives > flat.size:
    raise ConfigError(
        f"{n_negatives} negatives were requested but only {flat.size} unknown pairs are eligible "
        f"(strategy={strategy}, threshold={thr}, band={band}). Lower data.negatives.ratio, the "
        "threshold or the band.")
  chosen = np.zeros(pool.size, bool)
  chosen[rng.choice(flat, size=n_negatives, replace=False)] = True
  return NegativeSample(
      mask=chosen.reshape(pool.shape), threshold=thr, threshold_source=source,
      n_unknown=int(unknown.sum()), n_candidates_beyond=int(beyond.sum()),
      n_dropped_by_band=int(in_band.sum()), n_candidates=int(flat.size))
