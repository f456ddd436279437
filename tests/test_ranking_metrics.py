"""Full-ranking metrics against a brute force that enumerates every tie-break order."""

import itertools

import numpy as np
import pytest

from mirjax.errors import MirjaxError
from mirjax.evaluation.ranking_metrics import ranking_metrics

KS = (1, 2, 3)  # lists on these grids are short: k >= list length would make recall trivially 1


def brute_force_side(scores, train_pos, test_pos, candidates, ks):
  """Average over every order of the list that sorts the scores descending (ties permuted)."""
  hits, reciprocal, n_pos, n_queries = {k: 0.0 for k in ks}, 0.0, 0, 0
  for row in range(scores.shape[0]):
    items = [j for j in range(scores.shape[1]) if candidates[row, j] and not train_pos[row, j]]
    positives = [j for j in items if test_pos[row, j]]
    if not positives:
      continue
    n_queries += 1
    n_pos += len(positives)
    orders = [o for o in itertools.permutations(items)
              if all(scores[row, a] >= scores[row, b] for a, b in zip(o, o[1:]))]
    for order in orders:
      for k in ks:
        hits[k] += sum(test_pos[row, j] for j in order[:k]) / len(orders)
      for p in positives:
        filtered = [j for j in order if j == p or not test_pos[row, j]]
        reciprocal += 1 / (filtered.index(p) + 1) / len(orders)
  result = {f"recall@{k}": hits[k] / n_pos for k in ks}
  result.update(mrr=reciprocal / n_pos, n_queries=n_queries, n_positives=n_pos)
  return result


def brute_force(scores, train_pos, test_pos, candidates, ks):
  return {
      "mirna": brute_force_side(scores, train_pos, test_pos, candidates, ks),
      "gene": brute_force_side(scores.T, train_pos.T, test_pos.T, candidates.T, ks),
  }


def random_case(seed, shape=(6, 5)):
  rng = np.random.default_rng(seed)
  scores = np.round(rng.random(shape), 1)  # coarse rounding: many ties
  state = rng.choice(3, size=shape, p=[0.55, 0.25, 0.2])  # 0 other, 1 train, 2 test
  candidates = (rng.random(shape) < 0.85) | (state == 2)
  return scores, state == 1, state == 2, candidates


def assert_close(actual, expected):
  for side in ("mirna", "gene"):
    assert actual[side] == pytest.approx(expected[side], abs=1e-12), side


@pytest.mark.parametrize("seed", range(8))
def test_matches_brute_force_with_ties(seed):
  scores, train_pos, test_pos, candidates = random_case(seed)
  assert_close(ranking_metrics(scores, train_pos, test_pos, candidates, KS),
               brute_force(scores, train_pos, test_pos, candidates, KS))


def test_default_candidates_are_every_pair():
  scores, train_pos, test_pos, _ = random_case(11)
  everything = np.ones(scores.shape, bool)
  assert_close(ranking_metrics(scores, train_pos, test_pos, ks=KS),
               brute_force(scores, train_pos, test_pos, everything, KS))


def test_training_positives_are_excluded_from_the_lists():
  scores, train_pos, test_pos, candidates = random_case(3)
  high, low = scores.copy(), scores.copy()
  high[train_pos], low[train_pos] = 10.0, -10.0
  assert_close(ranking_metrics(high, train_pos, test_pos, candidates, KS),
               ranking_metrics(low, train_pos, test_pos, candidates, KS))


def test_queries_without_held_out_positives_are_skipped():
  test_pos = np.zeros((4, 5), bool)
  test_pos[0, 1] = test_pos[2, 3] = test_pos[2, 4] = True
  scores = np.random.default_rng(0).random((4, 5))
  result = ranking_metrics(scores, np.zeros_like(test_pos), test_pos, ks=KS)
  assert result["mirna"]["n_queries"] == 2 and result["mirna"]["n_positives"] == 3
  assert result["gene"]["n_queries"] == 3 and result["gene"]["n_positives"] == 3
  changed = scores.copy()
  changed[[1, 3]] = 5.0  # rows without held-out positives are no query on the miRNA side
  assert ranking_metrics(changed, np.zeros_like(test_pos), test_pos, ks=KS)["mirna"] == (
      result["mirna"])


def test_perfect_scorer():
  scores, train_pos, test_pos, candidates = random_case(5, shape=(30, 25))
  most_per_query = max(test_pos.sum(axis=0).max(), test_pos.sum(axis=1).max())
  result = ranking_metrics(test_pos + 0.0, train_pos, test_pos, candidates, (most_per_query,))
  for side in ("mirna", "gene"):
    assert result[side][f"recall@{most_per_query}"] == 1.0
    assert result[side]["mrr"] == 1.0


def test_constant_scorer_gets_the_expected_values():
  _, train_pos, test_pos, candidates = random_case(7, shape=(30, 25))
  result = ranking_metrics(np.zeros(train_pos.shape), train_pos, test_pos, candidates, (1, 5))
  in_list = candidates & ~train_pos
  for side, axis in (("mirna", 1), ("gene", 0)):
    n, p = in_list.sum(axis=axis), test_pos.sum(axis=axis)
    n, p = n[p > 0], p[p > 0]
    for k in (1, 5):
      # Every positive of a query of n entries is in the top k with probability min(k / n, 1).
      expected = np.sum(p * np.minimum(k / n, 1)) / p.sum()
      assert result[side][f"recall@{k}"] == pytest.approx(expected)
    m = n - p + 1  # the filtered list: the positive and the query's non-positives
    harmonic = np.array([np.sum(1 / np.arange(1, x + 1)) for x in m])
    assert result[side]["mrr"] == pytest.approx(np.sum(p * harmonic / m) / p.sum())


def test_infinite_scores_tie_like_any_other():
  scores, train_pos, test_pos, candidates = random_case(2)
  scores[scores < 0.3] = -np.inf
  assert_close(ranking_metrics(scores, train_pos, test_pos, candidates, KS),
               brute_force(scores, train_pos, test_pos, candidates, KS))


@pytest.mark.parametrize("problem", ["overlap", "not_candidate", "nan", "empty"])
def test_rejects_inconsistent_inputs(problem):
  scores, train_pos, test_pos, candidates = random_case(1)
  if problem == "overlap":
    train_pos = train_pos | test_pos
  elif problem == "not_candidate":
    candidates = candidates & ~test_pos
  elif problem == "nan":
    scores[0, 0] = np.nan
  else:
    test_pos = np.zeros_like(test_pos)
  with pytest.raises(MirjaxError):
    ranking_metrics(scores, train_pos, test_pos, candidates, KS)
