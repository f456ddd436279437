"""Non-learned baselines every model is compared with, and their honest hyperparameter selection.

A model's AUC means little alone: on a sparse, popularity-skewed interaction grid, degree and
neighbourhood statistics already rank many held-out pairs well. Each baseline takes only the
training interaction matrix X (bool [n_mirna, n_gene], training positives) and returns float64
scores for every pair, higher = more likely. Hyperparameters are chosen on an inner split of the
training positives, never on the test fold, so the baselines are tuned exactly as fairly as the
models they are compared with.
"""

import numpy as np

from mirjax.data import folds
from mirjax.errors import ConfigError
from mirjax.evaluation.metrics import roc_auc

# The standard set `fit_all` returns, in report order.
BASELINES = ("degree_product", "neighbourhood_cf", "truncated_svd", "ease")

DEFAULT_GRIDS = {
    "truncated_svd": (8, 16, 32, 48, 64, 96),
    "ease": (1, 5, 10, 20, 50, 100, 200, 500),
    "ease_side_graph": (1, 5, 10, 20, 50, 100, 200, 500),
    "embedding_knn": (5, 10, 20, 50),
    "content_degree": (10, 100, 1000, 10000),
}


def _matrix(train) -> np.ndarray:
  x = np.asarray(train)
  if x.ndim != 2 or x.dtype != bool:
    raise ConfigError(f"train must be a 2-D bool matrix; got {x.dtype} {x.shape}.")
  return x.astype(np.float64)


def degree_product(train) -> np.ndarray:
  """deg(miRNA) * deg(gene): pure popularity."""
  x = _matrix(train)
  return np.outer(x.sum(axis=1), x.sum(axis=0))


def _cosine(vectors: np.ndarray) -> np.ndarray:
  """Row-wise cosine similarity; an all-zero row is similar to nothing."""
  norms = np.linalg.norm(vectors, axis=1, keepdims=True)
  unit = vectors / np.where(norms > 0, norms, 1.0)
  return unit @ unit.T


def _scaled_by_max(scores: np.ndarray) -> np.ndarray:
  top = scores.max()
  return scores / top if top > 0 else scores


def neighbourhood_cf(train) -> np.ndarray:
  """Co-target CF, both sides: S_m X + X S_g, cosine similarities with zero diagonal.

  Each side is divided by its global maximum before summing: the two sums run over different
  numbers of neighbours (miRNAs vs genes), so raw sums would let one side dominate; a global (not
  per-row) scale keeps scores comparable across queries, which pooled AUC needs.
  """
  x = _matrix(train)
  s_m, s_g = _cosine(x), _cosine(x.T)
  np.fill_diagonal(s_m, 0.0)
  np.fill_diagonal(s_g, 0.0)
  return _scaled_by_max(s_m @ x) + _scaled_by_max(x @ s_g)


def truncated_svd(train, rank: int) -> np.ndarray:
  """Rank-r reconstruction U_r S_r V_r^T of X."""
  x = _matrix(train)
  if not 1 <= rank <= min(x.shape):
    raise ConfigError(f"SVD rank must be in 1..{min(x.shape)}; got {rank}.")
  # U_r S_r V_r^T = X V_r V_r^T: the top-r eigenvectors of the smaller Gram matrix are the
  # singular vectors, and eigh of a 318 x 318 matrix is ~10x faster than a full SVD, which
  # matters because `select` refits every rank of its grid.
  wide = x.shape[1] > x.shape[0]
  x = x.T if wide else x
  v = np.linalg.eigh(x.T @ x)[1][:, -rank:]
  reconstruction = (x @ v) @ v.T
  return reconstruction.T if wide else reconstruction


def ease_weights(p: np.ndarray) -> np.ndarray:
  """The EASE item-item weights B (Steck 2019) from P = (X^T X + lam I)^-1: B minimises
  ||X - X B||^2 + lam ||B||^2 subject to diag(B) = 0, in closed form B_ij = -P_ij / P_jj (i != j),
  B_jj = 0."""
  b = -p / np.diag(p)[None, :]
  np.fill_diagonal(b, 0.0)
  return b


def _ease_columns(x: np.ndarray, lam: float, side_gram=0.0) -> np.ndarray:
  """X B with B the EASE weights over the columns of X. `side_gram` adds to X^T X the Gram of rows
  that are not scored (the side graph's)."""
  return x @ ease_weights(np.linalg.inv(x.T @ x + side_gram + lam * np.eye(x.shape[1])))


def ease(train, lam: float) -> np.ndarray:
  """EASE on both sides, summed: gene-gene weights (X B_g) plus miRNA-miRNA weights (B_m^T X).

  Both terms reconstruct X itself, so they share a scale and are summed unweighted.
  """
  return ease_side_graph(train, lam, 0.0, 0.0)


def ease_side_graph(train, lam: float, mirna_side, gene_side) -> np.ndarray:
  """EASE on both sides with miRTarBase outside the grid (mirjax/data/tables.SideGraph): each side's
  Gram matrix gains the side graph's counts, between nodes with training edges only (a node without
  them, a cold fold's new node, has no known interaction anywhere). The same as EASE whose items
  are the grid's genes (miRNAs) and whose users are every miRNA (gene) of the table, with the
  grid block replaced by `train`, scored on the grid."""
  if lam <= 0:
    raise ConfigError(f"EASE lambda must be > 0; got {lam}.")
  x = _matrix(train)
  has_m, has_g = x.any(axis=1).astype(float), x.any(axis=0).astype(float)
  side_m = np.asarray(mirna_side, np.float64) * np.outer(has_m, has_m)
  side_g = np.asarray(gene_side, np.float64) * np.outer(has_g, has_g)
  return _ease_columns(x, lam, side_g) + _ease_columns(x.T, lam, side_m).T


def partner_popularity(train, side: str) -> np.ndarray:
  """Cold-start popularity: a new miRNA ('mirna') scores each gene by the gene's training degree;
  a new gene ('gene') by the miRNA's degree; both new ('both'): the product."""
  x = _matrix(train)
  if side == "mirna":
    return np.broadcast_to(x.sum(axis=0), x.shape).copy()
  if side == "gene":
    return np.broadcast_to(x.sum(axis=1, keepdims=True), x.shape).copy()
  if side == "both":
    return degree_product(train)
  raise ConfigError(f"side must be 'mirna', 'gene' or 'both'; got {side!r}.")


def _knn_weights(vectors: np.ndarray, eligible: np.ndarray, k: int) -> np.ndarray:
  """W[u, v] = max(cos(u, v), 0) for the k eligible v != u most similar to u, else 0."""
  vectors = np.asarray(vectors, np.float64)
  if vectors.ndim != 2 or vectors.shape[0] != eligible.size:
    raise ConfigError(f"need one embedding row per node ({eligible.size}); got {vectors.shape}.")
  sim = _cosine(vectors)
  np.fill_diagonal(sim, -np.inf)
  sim[:, ~eligible] = -np.inf
  k = min(k, sim.shape[1])
  top = np.argpartition(-sim, k - 1, axis=1)[:, :k]
  weights = np.zeros_like(sim)
  np.put_along_axis(weights, top, np.maximum(np.take_along_axis(sim, top, axis=1), 0.0), axis=1)
  return weights


def embedding_knn(train, mirna_vectors, gene_vectors, k: int, side: str) -> np.ndarray:
  """Cold-start CF by embedding similarity: a query's score of a partner is the similarity-weighted
  count of its k nearest training neighbours (with >= 1 training positive) that hit the partner.

  side='mirna': W_m X; side='gene': X W_g^T; side='both': W_m X W_g^T. 'both' composes rather
  than sums the two: for a pair whose miRNA and gene are both new, X has no edge in that row or
  column, so each one-sided score (and their sum) is identically zero there.
  The vectors of the side not used may be None.
  """
  if k < 1 or side not in ("mirna", "gene", "both"):
    raise ConfigError(f"need k >= 1 and side in ('mirna', 'gene', 'both'); got {k}, {side!r}.")
  x = _matrix(train)
  scores = x
  if side in ("mirna", "both"):
    scores = _knn_weights(mirna_vectors, x.any(axis=1), k) @ scores
  if side in ("gene", "both"):
    scores = scores @ _knn_weights(gene_vectors, x.any(axis=0), k).T
  return scores


def predicted_log_degree(train, vectors, lam: float) -> np.ndarray:
  """log(1 + degree) of every node (row of train) by a ridge regression on its standardized
  content vector, fit on the rows with edges: what a new node's content says of its degree."""
  x, v = _matrix(train), np.asarray(vectors, np.float64)
  has = x.any(axis=1)
  e = (v - v[has].mean(0)) / (v[has].std(0) + 1e-6)
  y = np.log1p(x.sum(axis=1))
  w = np.linalg.solve(e[has].T @ e[has] + lam * np.eye(e.shape[1]), e[has].T @ (y[has] - y[has].mean()))
  return e @ w + y[has].mean()


def content_degree(train, mirna_vectors, gene_vectors, lam: float, side: str) -> np.ndarray:
  """Cold-start popularity with the new node's degree predicted from its content: the partner's
  training degree times the new node's predicted degree (both new: the two predictions)."""
  if side not in ("mirna", "gene", "both"):
    raise ConfigError(f"side must be 'mirna', 'gene' or 'both'; got {side!r}.")
  x = _matrix(train)
  deg_m, deg_g = x.sum(axis=1), x.sum(axis=0)
  if side in ("mirna", "both"):
    deg_m = np.expm1(predicted_log_degree(train, mirna_vectors, lam))
  if side in ("gene", "both"):
    deg_g = np.expm1(predicted_log_degree(np.asarray(train).T, gene_vectors, lam))
  return np.outer(deg_m, deg_g)


def name_family(train, same_family) -> np.ndarray:
  """Cold-start CF by miRBase family (mirjax/data/content.py): a miRNA scores each gene by the mean
  row of its family members with training edges; ties (no such member) go by gene popularity."""
  x = _matrix(train)
  members = np.asarray(same_family, np.float64) * x.any(axis=1)[None, :]
  rows = members @ x / np.maximum(members.sum(axis=1, keepdims=True), 1.0)
  return rows + 1e-3 * _scaled_by_max(np.broadcast_to(x.sum(axis=0), x.shape))


# The tunable baselines: the function and the name of the one hyperparameter `select` chooses.
TUNABLE = {"truncated_svd": (truncated_svd, "rank"), "ease": (ease, "lam"),
           "ease_side_graph": (ease_side_graph, "lam"), "embedding_knn": (embedding_knn, "k"),
           "content_degree": (content_degree, "lam")}


def inner_split(train, allowed_negatives, rng: np.random.Generator, fraction: float = 0.1,
                cold=(False, False)):
  """(inner training matrix, held-out positives, inner negatives), pairs as (rows, cols).

  Holds out `fraction` of the training positives and samples as many negatives from
  `allowed_negatives` (pairs that are neither training positives nor test pairs), so nothing of
  the test fold is ever scored. With a cold side (cold: miRNA, gene), whole nodes of that side are
  held out instead (mirjax/data/folds.held_out_nodes), as the cold-start test fold holds them.
  """
  train, allowed = np.asarray(train, bool), np.asarray(allowed_negatives, bool)
  if (train & allowed).any():
    raise ConfigError("allowed_negatives overlaps the training positives.")
  n = max(1, round(fraction * train.sum()))
  region, inner = np.ones_like(train), train.copy()
  if any(cold):
    region, excluded = folds.held_out_nodes(train, cold, n, rng)
    inner &= ~excluded
  positives, negatives = np.flatnonzero(train & region), np.flatnonzero(allowed & region)
  if n > negatives.size or n >= train.sum():
    raise ConfigError(f"cannot hold out {n} of {positives.size} training positives against "
                      f"{negatives.size} allowed negatives.")
  held = rng.choice(positives, n, replace=False)
  inner.flat[held] = False
  sampled = rng.choice(negatives, n, replace=False)
  return inner, np.unravel_index(held, train.shape), np.unravel_index(sampled, train.shape)


def select(train, allowed_negatives, name: str, grid, rng: np.random.Generator,
           cold=(False, False), **fixed) -> tuple[int | float, dict]:
  """(best hyperparameter value, {value: inner AUC}) for baseline `name` over `grid`, on an
  inner split (`inner_split`, cold as there).

  `fixed` carries the baseline's other arguments (e.g. the vectors and side of embedding_knn).
  Ties go to the first grid value.
  """
  if name not in TUNABLE:
    raise ConfigError(f"no hyperparameter to select for {name!r}; tunable: {tuple(TUNABLE)}.")
  function, parameter = TUNABLE[name]
  inner, held, sampled = inner_split(train, allowed_negatives, rng, cold=cold)
  labels = np.r_[np.ones(held[0].size), np.zeros(sampled[0].size)]
  table = {}
  for value in grid:
    scores = function(inner, **{parameter: value}, **fixed)
    table[value] = roc_auc(labels, np.r_[scores[held], scores[sampled]])
  return max(table, key=table.get), table


def fit_all(train, allowed_negatives, rng: np.random.Generator,
            grids: dict | None = None) -> tuple[dict, dict]:
  """({name: scores} for every name in BASELINES, {name: (selected value, inner AUC table)}).

  SVD rank and EASE lambda are selected on an inner split of the training positives, then the
  baseline is refit on all of `train`. `grids` overrides DEFAULT_GRIDS per name.
  """
  grids = {**DEFAULT_GRIDS, **(grids or {})}
  selected = {name: select(train, allowed_negatives, name, grids[name], rng)
              for name in ("truncated_svd", "ease")}
  scores = {
      "degree_product": degree_product(train),
      "neighbourhood_cf": neighbourhood_cf(train),
      "truncated_svd": truncated_svd(train, selected["truncated_svd"][0]),
      "ease": ease(train, selected["ease"][0]),
  }
  return scores, selected
