"""Random streams: one derivation, independent of call order, and equal to the streams earlier
datasets and runs were drawn from (so reported numbers stay reproducible)."""

import jax
import jax.numpy as jnp
import numpy as np

from mirjax import rng


def test_data_streams_are_the_spawned_streams_of_the_data_seed():
  for seed in (0, 3, 2**31 - 1):
    spawned = np.random.SeedSequence(seed).spawn(2)
    for name, child in zip(("negatives", "folds"), spawned):
      np.testing.assert_array_equal(rng.generator(seed, name).random(5),
                                    np.random.default_rng(child).random(5))


def test_streams_differ_by_name_and_number_and_repeat_exactly():
  draws = {(name, n): rng.generator(0, name, n).random(4)
           for name in ("ae", "classifier", "random_test") for n in (0, 1)}
  flat = [tuple(v) for v in draws.values()]
  assert len(set(flat)) == len(flat)
  np.testing.assert_array_equal(rng.generator(0, "ae", 1).random(4), draws[("ae", 1)])


def test_jax_keys_fold_name_then_numbers_and_vmap():
  expected = jax.random.fold_in(jax.random.fold_in(jax.random.PRNGKey(5), 2), 3)
  np.testing.assert_array_equal(rng.key(5, "classifier", 3), expected)
  batched = jax.vmap(lambda s, f: rng.key(s, "classifier", f))(jnp.array([5, 5]), jnp.array([3, 4]))
  np.testing.assert_array_equal(batched[0], expected)
  assert not np.array_equal(batched[0], batched[1])
