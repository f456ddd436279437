"""Pair features computed from an interaction graph, in JAX, for the graph model to learn on.

The same statistics as the strongest baselines (mirjax/evaluation/baselines.py): EASE on both sides,
co-target CF, degrees, plus embedding-similarity CF that still says something about a node with no
training edges. They are recomputed from each training step's *masked* input graph (and at test time
from the full training graph), so the model learns how a held-out edge looks from the rest of the
graph, not to echo the edges it is given. Everything is dense [n_mirna, n_gene]: a 383 x 318 grid.
"""

import dataclasses

import jax
import jax.numpy as jnp
import ml_collections


def _ease_weights(gram: jnp.ndarray, lam: float) -> jnp.ndarray:
  """EASE's B for one side: B_ij = -P_ij / P_jj (B_jj = 0), P = (gram + lam I)^-1."""
  eye = jnp.eye(gram.shape[0], dtype=gram.dtype)
  p = jnp.linalg.inv(gram + lam * eye)
  return (-p / jnp.diag(p)[None, :]) * (1.0 - eye)


def ease_sides(x: jnp.ndarray, lam: float, side=(0.0, 0.0)) -> tuple[jnp.ndarray, jnp.ndarray]:
  """EASE (Steck 2019) scores of both sides: (x @ B_gene, B_mirna^T @ x); `side` (side_grams) adds
  the rows and columns outside the grid to the two Gram matrices."""
  side_m, side_g = side
  return x @ _ease_weights(x.T @ x + side_g, lam), _ease_weights(x @ x.T + side_m, lam).T @ x


def side_grams(x: jnp.ndarray, content) -> tuple:
  """(miRNA, gene) Gram terms of miRTarBase outside the grid (content.mirna_side, .gene_side; zeros
  without them), kept only between nodes that have edges in the input graph x: a node hidden whole
  (a new node, or one masked in training) has no known interaction outside the grid either."""
  if content.mirna_side is None:
    return 0.0, 0.0
  has_m, has_g = (x.sum(1) > 0).astype(x.dtype), (x.sum(0) > 0).astype(x.dtype)
  return (content.mirna_side * jnp.outer(has_m, has_m),
          content.gene_side * jnp.outer(has_g, has_g))


def _cosine(v: jnp.ndarray) -> jnp.ndarray:
  n = _unit(v)
  s = n @ n.T
  return s * (1.0 - jnp.eye(s.shape[0], dtype=s.dtype))


def _knn_votes(similarity: jnp.ndarray, x: jnp.ndarray, k: int) -> jnp.ndarray:
  """Each row's k most similar rows that have edges vote with their edges, weighted by their
  (non-negative) similarity: embedding-kNN CF, which a node without edges still gets."""
  has_edges = x.sum(1) > 0
  top, idx = jax.lax.top_k(jnp.where(has_edges[None, :], similarity, -jnp.inf), k)
  return jnp.einsum("nk,nkm->nm", jnp.maximum(top, 0.0), x[idx])


def standardized(f: jnp.ndarray, weight: jnp.ndarray, axis, eps: float) -> jnp.ndarray:
  """f standardized along `axis` by the mean and std of the entries with weight 1 (nodes, or pairs
  of nodes, with edges): a node without edges, as a test fold's new node is, never shapes the
  statistics."""
  n = jnp.maximum(weight.sum(axis, keepdims=True), 1.0)
  mean = (f * weight).sum(axis, keepdims=True) / n
  std = jnp.sqrt((((f - mean) * weight) ** 2).sum(axis, keepdims=True) / n)
  return (f - mean) / (std + eps)


def features(x: jnp.ndarray, content, *, ease_lambdas: tuple, cf: bool, cross_lambda: float,
             rp3_beta: float, content_knn: bool, content_k: int, degree_prior: float,
             families: bool, zscore: bool) -> jnp.ndarray:
  """[n_mirna, n_gene, F] features of every pair from the input graph x (float 0/1) and the nodes'
  content (mirjax/data/content.NodeContent).

  EASE of both sides per lambda (with the side graph's Gram terms, side_grams); log degrees (and
  degrees outside the grid, with a side graph); co-target cosine CF of both sides; the two-sided
  EASE product B_m^T x B_g (cross_lambda > 0); RP3beta three-step walks, gene popularity damped by
  deg^beta (rp3_beta > 0). What a node without edges still has: content-similarity CF over all
  nodes and over each node's content_k nearest nodes with edges (content_knn); each node's log
  degree as a ridge regression (lambda degree_prior > 0) on its content predicts it; and the mean
  row of a miRNA's family members with edges (families). With zscore, every non-degree feature is
  also standardized within its miRNA's row and within its gene's column, which turns "high for this
  pair" into "high for this miRNA / this gene", what a per-node ranking needs.
  """
  deg_m, deg_g = x.sum(1, keepdims=True), x.sum(0, keepdims=True)
  mirna_vectors, gene_vectors = content.mirna, content.gene
  side_m, side_g = side = side_grams(x, content)
  out = []
  for lam in ease_lambdas:
    out += list(ease_sides(x, lam, side))
  if cf:  # co-target cosine CF, each side averaged over the pair's neighbours
    out += [x @ _cosine(x.T) / (deg_m + 1), _cosine(x) @ x / (deg_g + 1)]
  if cross_lambda:
    out.append(_ease_weights(x @ x.T + side_m, cross_lambda).T @ x
               @ _ease_weights(x.T @ x + side_g, cross_lambda))
  if rp3_beta:
    walk_mg, walk_gm = x / jnp.maximum(deg_m, 1), (x / jnp.maximum(deg_g, 1)).T
    out.append(10 * walk_mg @ (walk_gm @ walk_mg) / jnp.maximum(deg_g, 1) ** rp3_beta)
  if content_knn:
    sim_m, sim_g = _cosine(mirna_vectors), _cosine(gene_vectors)
    out += [x @ sim_g / (deg_m + 1), sim_m @ x / (deg_g + 1),
            _unit(mirna_vectors) @ _unit(gene_vectors).T,
            _knn_votes(sim_m, x, content_k), _knn_votes(sim_g, x.T, content_k).T]
  levels = [jnp.log1p(deg_m), jnp.log1p(deg_g)]  # per-node levels, never z-scored
  if content.mirna_side is not None:  # degrees outside the grid (0 for a node without edges)
    levels += [jnp.log1p(jnp.diag(side_m))[:, None], jnp.log1p(jnp.diag(side_g))[None, :]]
  if families:
    members = content.mirna_family * (deg_m.T > 0)
    n_members = members.sum(1, keepdims=True)
    out.append(members @ x / jnp.maximum(n_members, 1.0))
    levels.append((n_members > 0).astype(x.dtype) * 5)
  if degree_prior:  # a node's log degree, or for a node without edges its content's prediction
    pred_m = _predicted_log_degree(mirna_vectors, deg_m[:, 0], degree_prior)[:, None]
    pred_g = _predicted_log_degree(gene_vectors, deg_g[0], degree_prior)[None, :]
    levels += [jnp.where(deg_m > 0, levels[0], pred_m), jnp.where(deg_g > 0, levels[1], pred_g)]
  if zscore:
    has = {1: (deg_g > 0).astype(x.dtype), 0: (deg_m > 0).astype(x.dtype)}
    out += [standardized(f, has[axis], axis, 1e-3) for f in out for axis in (1, 0)]
  return jnp.stack(out + [jnp.broadcast_to(v, x.shape) / 5 for v in levels], -1)


def _predicted_log_degree(vectors: jnp.ndarray, degree: jnp.ndarray, lam: float) -> jnp.ndarray:
  """log(1 + degree) of every node, as a ridge regression on its (standardized) content vector
  predicts it; fit on the nodes with edges only, so it holds for a node without edges too."""
  has = (degree > 0).astype(vectors.dtype)[:, None]
  n = jnp.maximum(has.sum(), 1.0)
  e = standardized(vectors, has, 0, 1e-6)
  y = jnp.log1p(degree)
  y_mean = (y * has[:, 0]).sum() / n
  fit = e * has
  w = jnp.linalg.solve(fit.T @ fit + lam * jnp.eye(e.shape[1], dtype=e.dtype),
                       fit.T @ ((y - y_mean) * has[:, 0]))
  return e @ w + y_mean


def _unit(v: jnp.ndarray) -> jnp.ndarray:
  return v / jnp.maximum(jnp.linalg.norm(v, axis=1, keepdims=True), 1e-12)


def normalized_adjacency(x: jnp.ndarray) -> jnp.ndarray:
  """D_m^-1/2 x D_g^-1/2, LightGCN's propagation matrix of the bipartite graph."""
  return x / jnp.sqrt(jnp.maximum(x.sum(1, keepdims=True), 1.0)) / jnp.sqrt(
      jnp.maximum(x.sum(0, keepdims=True), 1.0))


@dataclasses.dataclass(frozen=True)
class FeatureSpec:
  """Which features `features` computes, from section `graph` (its fields are documented there)."""
  ease_lambdas: tuple
  cf: bool
  cross_lambda: float
  rp3_beta: float
  content_knn: bool
  content_k: int
  degree_prior: float
  families: bool
  zscore: bool

  @classmethod
  def of(cls, graph: ml_collections.ConfigDict) -> "FeatureSpec":
    return cls(tuple(graph.ease_lambdas), graph.cf, graph.cross_lambda, graph.rp3_beta,
               graph.content, graph.content_k, graph.degree_prior, graph.families, graph.zscore)

  def __call__(self, x: jnp.ndarray, content) -> jnp.ndarray:
    return features(x, content, **dataclasses.asdict(self))
