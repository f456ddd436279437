"""Model families: the one table that picks a family, and what every family offers.

`classifier.model` names the family. `of(config)` imports its package and builds it from the
config: the only place a family's settings are read from the whole config (each module inside a
family is built from its own section). Every family has the same interface, so nothing outside this
table asks which family it is:

  fam = family.of(config)
  fam.name, fam.seeded              # its classifier.model; whether other seeds train other models
  fam.setup()                       # after JAX starts: what the family needs of this machine
  fam.check(members)                # every shape check, before anything is written
  trained = fam.train(members, store)     # one compiled program per stage; resumes from checkpoints
  trained = fam.restore(members, store)   # a finished run's replicas, read-only
  trained.grid_log_odds()   -> float [R, n_mirna, n_gene]
  trained.pair_log_odds(pairs) -> float [R, n]
  trained = fam.final_model(member, store)  # one model on all labelled pairs (pairwise only)

A `Member` is one replica to train: a fold of a dataset, its training seed and learning rates.
"""

import dataclasses
import importlib

import ml_collections

from mirjax.data import dataset as dataset_lib
from mirjax.data import testsets

FAMILIES = {
    "lstm": "mirjax.pairwise",  # the paper's AE + stacked LSTM on a pair's features
    "mlp": "mirjax.pairwise",  # baselines trained the same way on the same inputs
    "logistic": "mirjax.pairwise",
    "graph": "mirjax.graph",  # learns from the known-interaction graph
    "distance": "mirjax.distance",  # trains nothing: -dissimilarity of the pair's embeddings
}


@dataclasses.dataclass(frozen=True)
class Member:
  """One replica: fold `fold` of dataset `ds` (None: all of it), trained from `seed` at these
  learning rates."""
  ds: dataset_lib.Dataset
  fold: testsets.Fold | None
  seed: int
  ae_learning_rate: float
  learning_rate: float  # the classifier's (the graph model's)


def members(config: ml_collections.ConfigDict, ds: dataset_lib.Dataset,
            folds: list[testsets.Fold]) -> list[Member]:
  """The replicas of one run: one per fold, all with the config's seed and rates."""
  return [dataclasses.replace(whole_member(config, ds), fold=f) for f in folds]


def whole_member(config: ml_collections.ConfigDict, ds: dataset_lib.Dataset) -> Member:
  """One replica of all of `ds` (no fold), with the config's seed and rates."""
  return Member(ds, None, config.seed, config.ae.learning_rate, config.classifier.learning_rate)


def _package(model: str):
  return importlib.import_module(FAMILIES[model])


def of(config: ml_collections.ConfigDict):
  """The family of `config.classifier.model`, built from the config."""
  return _package(config.classifier.model).Family.from_config(config)


def has_final_model(model: str) -> bool:
  """Whether the family of `model` fits one model on all labelled pairs (predict.final_model)."""
  return hasattr(_package(model).Family, "final_model")
