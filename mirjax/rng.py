"""Every random stream of mirjax, derived from (seed, stream name, numbers) in one place.

A stream depends only on its seed, its name and its numbers (e.g. a fold), never on call order or on
which other replicas share a program: so a fold trained inside a sweep draws the same numbers as
that fold of a standalone run, and a resumed run draws what an uninterrupted one did.

The rule: NumPy draws from `default_rng([seed, *numbers, *STREAMS[name]])`; JAX from
`PRNGKey(seed)` folded with `STREAMS[name]`, then with the numbers. Changing an id changes every
result drawn from that stream, so the table below is part of every result mirjax has reported.
"""

import numpy as np

# Stream ids. Data streams are drawn from config.data.seed, training streams from config.seed; ids
# only need to differ between streams drawn from the same seed with the same numbers.
STREAMS = {
    # data: which unknown pairs become training negatives, and the fold assignment. NumPy pads a
    # spawned SeedSequence's entropy to 4 words, so these are exactly `SeedSequence(seed).spawn(2)`,
    # the streams every dataset so far was drawn from.
    "negatives": (0, 0, 0, 0),
    "folds": (0, 0, 0, 1),
    "random_test": (7,),  # data, per fold: the unknown pairs of the random-negative test sets
    "baselines": (8,),  # data, per fold: the inner split that tunes the baselines
    "ae": (1,),  # training, per fold: autoencoder init, shuffling, validation split
    "classifier": (2,),  # training, per fold: classifier init, shuffling, validation split
    "final_ae": (3,),  # training: the optional model fit on all labelled pairs
    "final_classifier": (4,),
    "graph": (5,),  # training, per fold: graph model init, edge masks, inner validation split
    # prospective protocols (mirjax/data/protocols.py), from protocols.seed, per protocol and split
    "prospective_folds": (9,),  # which fold each paper (pair) falls in
    "prospective_negatives": (10,),  # a split's test negatives
    "prospective_windows": (11,),  # the negatives of the model's inner training windows
    "prospective": (12,),  # training, per replica: the model's init and shuffling
    "bootstrap": (13,),  # the paired cluster bootstrap of the reports' standard errors
}


def generator(seed: int, name: str, *numbers: int) -> np.random.Generator:
  """The NumPy stream, e.g. `generator(data_seed, 'random_test', fold)`."""
  return np.random.default_rng([int(seed), *map(int, numbers), *STREAMS[name]])


def key(seed, name: str, *numbers):
  """The JAX key; traceable in seed and numbers, so `jax.vmap` over seeds and folds works."""
  import jax  # here: the NumPy streams (and a config file importing them) need no JAX
  k = jax.random.PRNGKey(seed)
  for i in STREAMS[name] + tuple(numbers):
    k = jax.random.fold_in(k, i)
  return k
