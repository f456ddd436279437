"""Baselines on tiny planted graphs, EASE against a per-column re-derivation, honest selection."""

import numpy as np
import pytest

from mirjax.errors import ConfigError
from mirjax.evaluation import baselines
from mirjax.evaluation.metrics import roc_auc

N_MIRNA, N_GENE, N_BLOCKS = 30, 24, 3
SMALL_GRIDS = {"truncated_svd": (1, 3, 8), "ease": (1, 10, 100)}


def planted_blocks(seed):
  """(graph, hidden, block_m, block_g): 3 blocks, within-block p=0.8, across p=0.02; `hidden` is
  a few within-block edges removed from the training graph."""
  rng = np.random.default_rng(seed)
  block_m, block_g = np.arange(N_MIRNA) % N_BLOCKS, np.arange(N_GENE) % N_BLOCKS
  within = block_m[:, None] == block_g[None, :]
  graph = rng.random((N_MIRNA, N_GENE)) < np.where(within, 0.8, 0.02)
  hidden = np.zeros_like(graph)
  hidden.flat[rng.choice(np.flatnonzero(graph & within), 15, replace=False)] = True
  return graph, hidden, block_m, block_g


def hidden_vs_across_auc(scores, graph, hidden, block_m, block_g):
  across = (block_m[:, None] != block_g[None, :]) & ~graph
  return roc_auc(np.r_[np.ones(hidden.sum()), np.zeros(across.sum())],
                 np.r_[scores[hidden], scores[across]])


@pytest.mark.parametrize("name, scorer", [
    ("neighbourhood_cf", baselines.neighbourhood_cf),
    ("truncated_svd", lambda x: baselines.truncated_svd(x, 3)),
    ("ease", lambda x: baselines.ease(x, 10.0)),
])
def test_block_baselines_rank_hidden_edges_first(name, scorer):
  graph, hidden, block_m, block_g = planted_blocks(0)
  scores = scorer(graph & ~hidden)
  assert scores.shape == graph.shape and scores.dtype == np.float64
  assert hidden_vs_across_auc(scores, graph, hidden, block_m, block_g) > 0.9, name


def test_degree_product_finds_popularity():
  rng = np.random.default_rng(1)
  activity_m, activity_g = rng.pareto(1.5, N_MIRNA) + 0.05, rng.pareto(1.5, N_GENE) + 0.05
  graph = rng.random((N_MIRNA, N_GENE)) < np.clip(np.outer(activity_m, activity_g), 0, 0.9)
  hidden = np.zeros_like(graph)
  hidden.flat[rng.choice(np.flatnonzero(graph), 15, replace=False)] = True
  scores = baselines.degree_product(graph & ~hidden)
  assert scores[2, 3] == (graph & ~hidden)[2].sum() * (graph & ~hidden)[:, 3].sum()
  assert roc_auc(np.r_[np.ones(15), np.zeros((~graph).sum())],
                 np.r_[scores[hidden], scores[~graph]]) > 0.8


def brute_force_ease_columns(x, lam):
  """X B, B fitted one column at a time: ridge regression of column j on the other columns (the
  constraint B_jj = 0 removes column j from its own regression)."""
  b = np.zeros((x.shape[1], x.shape[1]))
  for j in range(x.shape[1]):
    others = np.delete(np.arange(x.shape[1]), j)
    a = x[:, others]
    b[others, j] = np.linalg.solve(a.T @ a + lam * np.eye(others.size), a.T @ x[:, j])
  return x @ b


@pytest.mark.parametrize("lam", [0.5, 20.0])
def test_ease_matches_per_column_ridge(lam):
  graph, hidden, _, _ = planted_blocks(2)
  x = (graph & ~hidden).astype(np.float64)
  expected = brute_force_ease_columns(x, lam) + brute_force_ease_columns(x.T, lam).T
  np.testing.assert_allclose(baselines.ease(graph & ~hidden, lam), expected, atol=1e-9)


def test_ease_side_graph_is_ease_on_the_whole_table():
  """The side graph's Gram terms against EASE fitted on the whole table (the grid block plus rows
  and columns outside it), scored on the grid; a node without training edges loses its side
  counts, so whatever they say, its scores are those of plain EASE."""
  rng = np.random.default_rng(3)
  whole = rng.random((N_MIRNA + 12, N_GENE + 9)) < 0.25
  train = whole[:N_MIRNA, :N_GENE].copy()
  train[4] = False  # miRNA 4 has no training edge (a new miRNA)
  whole[:N_MIRNA, :N_GENE] = train
  whole[4] = False  # ... and, new, no known interaction anywhere
  x = whole.astype(np.float64)
  grid_m, grid_g = x[:N_MIRNA, N_GENE:], x[N_MIRNA:, :N_GENE]
  lam = 5.0
  expected = (brute_force_ease_columns(x[:, :N_GENE], lam)[:N_MIRNA]
              + brute_force_ease_columns(x[:N_MIRNA].T, lam)[:N_GENE].T)
  got = baselines.ease_side_graph(train, lam, grid_m @ grid_m.T, grid_g.T @ grid_g)
  np.testing.assert_allclose(got, expected, atol=1e-9)
  side_m = grid_m @ grid_m.T
  side_m[4] = side_m[:, 4] = 50.0  # side counts of the new miRNA: never used
  side_m[4, 4] = 50.0
  np.testing.assert_allclose(baselines.ease_side_graph(train, lam, side_m, grid_g.T @ grid_g),
                             expected, atol=1e-9)


def test_ease_side_graph_finds_what_a_sparse_grid_hides():
  """Planted blocks over the grid and the nodes outside it, with the grid's own edges sparse: the
  side graph's co-occurrences rank the hidden grid edges above EASE on the grid alone."""
  rng = np.random.default_rng(4)
  n_m, n_g = 2 * N_MIRNA, 2 * N_GENE
  block_m, block_g = np.arange(n_m) % N_BLOCKS, np.arange(n_g) % N_BLOCKS
  p = np.where(block_m[:, None] == block_g[None, :], 0.6, 0.03)
  p[:N_MIRNA, :N_GENE] /= 2  # the grid itself is sparser
  whole = rng.random((n_m, n_g)) < p
  graph = whole[:N_MIRNA, :N_GENE]
  hidden = np.zeros_like(graph)
  hidden.flat[rng.choice(np.flatnonzero(graph & (block_m[:N_MIRNA, None] == block_g[None, :N_GENE])),
                         15, replace=False)] = True
  x = whole.astype(np.float64)
  side_m = x[:N_MIRNA, N_GENE:] @ x[:N_MIRNA, N_GENE:].T
  side_g = x[N_MIRNA:, :N_GENE].T @ x[N_MIRNA:, :N_GENE]
  train = graph & ~hidden
  args = (graph, hidden, block_m[:N_MIRNA], block_g[:N_GENE])
  with_side = hidden_vs_across_auc(baselines.ease_side_graph(train, 10.0, side_m, side_g), *args)
  assert with_side > 0.8 and with_side > hidden_vs_across_auc(baselines.ease(train, 10.0), *args) + 0.1


def test_full_rank_svd_reconstructs_the_matrix():
  graph, _, _, _ = planted_blocks(3)
  np.testing.assert_allclose(baselines.truncated_svd(graph, N_GENE), graph, atol=1e-9)
  with pytest.raises(ConfigError):
    baselines.truncated_svd(graph, N_GENE + 1)


def test_partner_popularity():
  x = np.array([[1, 0, 1], [1, 0, 0]], bool)
  np.testing.assert_array_equal(baselines.partner_popularity(x, "mirna"), [[2, 0, 1]] * 2)
  np.testing.assert_array_equal(baselines.partner_popularity(x, "gene"), [[2] * 3, [1] * 3])
  np.testing.assert_array_equal(baselines.partner_popularity(x, "both"), [[4, 0, 2], [2, 0, 1]])


def block_vectors(blocks, seed):
  rng = np.random.default_rng(seed)
  return np.eye(N_BLOCKS)[blocks] + 0.3 * rng.normal(size=(blocks.size, N_BLOCKS))


def test_embedding_knn_scores_a_cold_mirnas_block_first():
  graph, _, block_m, block_g = planted_blocks(4)
  cold_m, cold_g = np.array([0, 1, 2]), np.array([3, 4, 5])  # one of each block, both sides
  train = graph.copy()
  train[cold_m] = False
  train[:, cold_g] = False
  vec_m, vec_g = block_vectors(block_m, 5), block_vectors(block_g, 6)
  same = block_m[:, None] == block_g[None, :]
  is_cold_m, is_cold_g = np.isin(np.arange(N_MIRNA), cold_m), np.isin(np.arange(N_GENE), cold_g)
  for side, cold in (("mirna", np.outer(is_cold_m, ~is_cold_g)),
                     ("gene", np.outer(~is_cold_m, is_cold_g))):
    scores = baselines.embedding_knn(train, vec_m, vec_g, 5, side)
    assert roc_auc(same[cold], scores[cold]) > 0.9, side
  both = baselines.embedding_knn(train, vec_m, vec_g, 5, "both")[np.ix_(cold_m, cold_g)]
  np.testing.assert_array_equal(both.argmax(axis=1), [0, 1, 2])  # the same-block cold gene


def test_embedding_knn_uses_the_nearest_trained_neighbours():
  train = np.array([[1, 0, 0], [0, 1, 1], [0, 0, 0], [0, 0, 0]], bool)
  vectors = np.array([[1.0, 0.0], [0.0, 1.0], [0.1, 1.0], [0.0, 1.0]])
  scores = baselines.embedding_knn(train, vectors, None, 1, "mirna")
  # Row 2 is nearest to row 3, which has no training positive, so row 1 is taken.
  np.testing.assert_allclose(scores[2], np.cos(np.arctan(0.1)) * train[1])
  np.testing.assert_allclose(scores[1], [0, 0, 0])  # itself excluded; 0 and 2, 3 are no help
  with pytest.raises(ConfigError):
    baselines.embedding_knn(train, vectors[:3], None, 1, "mirna")


def test_content_degree_predicts_a_new_nodes_degree_from_its_content():
  """Planted: each miRNA's degree grows with its first content coordinate; new miRNAs 0-5."""
  rng = np.random.default_rng(7)
  vec_m, vec_g = rng.normal(size=(N_MIRNA, 4)), rng.normal(size=(N_GENE, 4))
  p = 1 / (1 + np.exp(-2 * vec_m[:, :1] + 1))
  graph = rng.random((N_MIRNA, N_GENE)) < np.broadcast_to(p, (N_MIRNA, N_GENE))
  train = graph.copy()
  train[:6] = False
  predicted = baselines.predicted_log_degree(train, vec_m, 1.0)
  assert np.corrcoef(predicted[:6], np.log1p(graph[:6].sum(1)))[0, 1] > 0.8
  scores = baselines.content_degree(train, vec_m, vec_g, 1.0, "mirna")
  assert roc_auc(graph[:6].ravel(), scores[:6].ravel()) > 0.7
  # the popularity it multiplies is the partner's training degree
  np.testing.assert_allclose(scores[10] / scores[10].max(), train.sum(0) / train.sum(0).max())


def test_name_family_scores_a_new_mirna_by_its_family_rows():
  train = np.array([[0, 0, 0, 0], [1, 1, 0, 0], [0, 1, 1, 0], [0, 0, 0, 1], [0, 0, 0, 0]], bool)
  family = np.zeros((5, 5))
  family[0, [1, 2]] = family[1, 0] = family[2, 0] = 1  # 0, 1, 2 one family; 3, 4 none
  scores = baselines.name_family(train, family)
  np.testing.assert_allclose(scores[0], [0.5, 1.0, 0.5, 0.0] + 1e-3 * np.array([1, 2, 1, 1]) / 2)
  assert scores[4].argmax() == 1 and np.ptp(scores[4]) < 1e-3  # no family: popularity, a tie-break


def allowed_negatives(graph, hidden):
  """Everything that is neither a training positive nor a (hidden) test pair."""
  return ~graph & ~hidden & (np.arange(graph.size).reshape(graph.shape) % 7 != 0)


def test_inner_split_stays_inside_the_training_fold():
  graph, hidden, _, _ = planted_blocks(7)
  train, allowed = graph & ~hidden, allowed_negatives(graph, hidden)
  inner, held, sampled = baselines.inner_split(train, allowed, np.random.default_rng(0))
  assert train[held].all() and not inner[held].any()
  assert allowed[sampled].all()
  assert held[0].size == sampled[0].size == round(0.1 * train.sum())
  held_mask = np.zeros_like(train)
  held_mask[held] = True
  np.testing.assert_array_equal(inner | held_mask, train)


def test_select_is_deterministic_and_scores_only_the_inner_split(monkeypatch):
  graph, hidden, _, _ = planted_blocks(8)
  train, allowed = graph & ~hidden, allowed_negatives(graph, hidden)
  splits, original = [], baselines.inner_split

  def recording_split(*args, **kwargs):
    splits.append(original(*args, **kwargs))
    return splits[-1]

  monkeypatch.setattr(baselines, "inner_split", recording_split)
  first = baselines.select(train, allowed, "ease", (1, 10, 100), np.random.default_rng(3))
  second = baselines.select(train, allowed, "ease", (1, 10, 100), np.random.default_rng(3))
  assert first == second and first[0] in (1, 10, 100)
  inner, held, sampled = splits[0]
  assert train[held].all() and allowed[sampled].all()
  scores = baselines.ease(inner, first[0])
  labels = np.r_[np.ones(held[0].size), np.zeros(sampled[0].size)]
  assert first[1][first[0]] == roc_auc(labels, np.r_[scores[held], scores[sampled]])
  with pytest.raises(ConfigError):
    baselines.select(train, allowed, "degree_product", (1,), np.random.default_rng(0))


def test_fit_all_returns_every_baseline_ranking_hidden_edges_first():
  graph, hidden, block_m, block_g = planted_blocks(9)
  train = graph & ~hidden
  scores, selected = baselines.fit_all(train, allowed_negatives(graph, hidden),
                                       np.random.default_rng(0), SMALL_GRIDS)
  assert tuple(scores) == baselines.BASELINES
  assert {name: set(table) for name, (_, table) in selected.items()} == {
      name: set(grid) for name, grid in SMALL_GRIDS.items()}
  for name in ("neighbourhood_cf", "truncated_svd", "ease"):
    assert hidden_vs_across_auc(scores[name], graph, hidden, block_m, block_g) > 0.9, name
