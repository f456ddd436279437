"""The graph model: a scorer of every grid pair from the pair features of an input graph.

`GraphModel` joins the Flax scorer and the features it reads, both built from section `graph`.
"""

import dataclasses

import flax.linen as nn
import jax.numpy as jnp
import ml_collections

from mirjax.graph import features


class GraphScorer(nn.Module):
  """Scores every pair of the grid at once: [n_mirna, n_gene] log-odds.

  score = w·f + MLP(f) + <e_mirna, e_gene>, where f are the pair's graph features
  (mirjax/graph/features.py, computed from the input graph) and e a node's learned ID embedding plus a
  linear projection of its SG embedding, averaged over `layers` LightGCN propagations through the
  input graph. The linear part starts as EASE (weight 1 on the first EASE pair of features), so
  training begins from the strongest baseline and learns what to add to it; the projection is what
  still represents a node that has no edges (cold start).
  With cold_head, a pair one of whose nodes has no edges in the input graph is scored by a second
  linear + MLP head on the same features instead: what predicts an edge of a new node (its
  content, its partner's degree) is not what predicts a held-out edge between known nodes, and
  one set of weights for both fits neither. With graph.degree_prior it starts as the sum of the two
  (standardized) imputed log degrees, a known node's or a new node's as its content predicts it:
  close to the content_degree baseline's ranking, which it then learns to add to.
  """
  n_mirna: int
  n_gene: int
  hidden: int  # width of the MLP on the features (0: none)
  dim: int  # embedding width (0: no embeddings)
  layers: int
  ids: bool = True
  project: bool = True
  cold_head: bool = False
  degree_prior: bool = False  # the features end with the imputed log degrees (graph.degree_prior)

  def _head(self, feats, kernel_init, prefix: str):
    s = nn.Dense(1, kernel_init=kernel_init, name=f"{prefix}linear")(feats)[..., 0]
    if self.hidden:
      h = nn.relu(nn.Dense(self.hidden, name=f"{prefix}mlp_hidden")(feats))
      s = s + nn.Dense(1, kernel_init=nn.initializers.zeros, name=f"{prefix}mlp_out")(h)[..., 0]
    return s

  @nn.compact
  def __call__(self, feats, adjacency, content):
    def starts_as_ease(key, shape, dtype=jnp.float32):
      del key
      return jnp.zeros(shape, dtype).at[:2].set(1.0)
    s = self._head(feats, starts_as_ease, "")
    if self.dim:
      small = nn.initializers.normal(0.01)
      em = jnp.zeros((self.n_mirna, self.dim))
      eg = jnp.zeros((self.n_gene, self.dim))
      if self.ids:
        em = em + self.param("mirna_ids", small, (self.n_mirna, self.dim))
        eg = eg + self.param("gene_ids", small, (self.n_gene, self.dim))
      if self.project:
        em = em + nn.Dense(self.dim, use_bias=False, kernel_init=small,
                           name="project_mirna")(content.mirna)
        eg = eg + nn.Dense(self.dim, use_bias=False, kernel_init=small,
                           name="project_gene")(content.gene)
      zm, zg, sum_m, sum_g = em, eg, em, eg
      for _ in range(self.layers):
        zm, zg = adjacency @ zg, adjacency.T @ zm
        sum_m, sum_g = sum_m + zm, sum_g + zg
      s = s + (sum_m @ sum_g.T) / (self.layers + 1) ** 2
    if self.cold_head:
      known = (adjacency.sum(1) > 0)[:, None] & (adjacency.sum(0) > 0)[None, :]
      # features standardized (they are far apart in scale, and the cold head starts from zero
      # rather than from EASE) by statistics of the pairs between nodes with edges only: a new
      # node's pairs, a test fold's among them, never shape them
      z = features.standardized(feats, known[..., None].astype(feats.dtype), (0, 1), 1e-6)
      def starts_as_degrees(key, shape, dtype=jnp.float32):
        del key  # the last two features are the imputed log degrees (features.features)
        return jnp.zeros(shape, dtype).at[-2:].set(1.0 if self.degree_prior else 0.0)
      s = jnp.where(known, s, self._head(z, starts_as_degrees, "cold_"))
    return s


@dataclasses.dataclass(frozen=True)
class GraphModel:
  """The scorer and its features, from section `graph`, for an n_mirna x n_gene grid."""
  net: GraphScorer
  features: features.FeatureSpec

  @classmethod
  def of(cls, graph: ml_collections.ConfigDict, n_mirna: int, n_gene: int) -> "GraphModel":
    return cls(GraphScorer(n_mirna, n_gene, graph.hidden, graph.dim, graph.layers, graph.ids,
                           graph.project, graph.cold_head, graph.degree_prior > 0),
               features.FeatureSpec.of(graph))

  def init(self, key, content):
    x = jnp.zeros((self.net.n_mirna, self.net.n_gene))
    return self.net.init(key, self.features(x, content), x, content)["params"]

  def log_odds(self, params, x, content):
    """[n_mirna, n_gene] log-odds of every pair given the input graph x (float 0/1) and the nodes'
    content (mirjax/data/content.NodeContent)."""
    return self.net.apply({"params": params}, self.features(x, content),
                          features.normalized_adjacency(x), content)
