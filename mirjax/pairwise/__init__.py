"""The pairwise family: a model of one pair's features, the paper's pipeline and its baselines.

Stage 1, an autoencoder of the pair features `[miRNA | gene]` (section `ae`); stage 2, a classifier
of `[pair | latent]` (section `classifier`; architecture `lstm` or `mlp`, or logistic regression),
trained on the dataset's labelled pairs: validated positives and the negatives of the
`data.negatives` rule. The interface is mirjax/family.py's.
"""

import dataclasses

import ml_collections
import numpy as np

from mirjax.data import dataset as dataset_lib
from mirjax.errors import ConfigError
from mirjax.kernels import lstm_onednn
from mirjax.pairwise import scoring, stages
from mirjax.pairwise.replicas import FINAL_PREFIX, Replicas
from mirjax.pairwise.settings import Settings


@dataclasses.dataclass(frozen=True)
class Trained:
  """Trained replicas and the dataset whose vectors they score."""
  replicas: scoring.TrainedReplicas
  ds: dataset_lib.Dataset
  settings: Settings

  @property
  def n_replicas(self) -> int:
    return self.replicas.n_replicas

  def pair_log_odds(self, pairs: np.ndarray) -> np.ndarray:
    return scoring.pair_log_odds(self.replicas, self.ds.mirna_vectors, self.ds.gene_vectors, pairs,
                                 self.settings.chunk, self.settings.train)

  def grid_log_odds(self) -> np.ndarray:
    n_m, n_g = self.ds.status.shape
    pairs = np.stack(np.meshgrid(np.arange(n_m), np.arange(n_g), indexing="ij"), -1).reshape(-1, 2)
    return self.pair_log_odds(pairs).reshape(-1, n_m, n_g)


def _pool(members) -> tuple[np.ndarray, np.ndarray, Replicas]:
  """(pool pairs [n, 2], pool labels [n], replicas): one pool of labelled pairs shared by the
  members (the union of their datasets' pairs, in grid order), and each member's training rows of
  it in its dataset's order, so a standalone run's batches are exactly its own."""
  ds0 = members[0].ds
  n_gene = ds0.status.shape[1]
  ids_of = lambda pairs: pairs[:, 0].astype(np.int64) * n_gene + pairs[:, 1]  # noqa: E731
  datasets = {id(m.ds): m.ds for m in members}.values()
  pool_ids = np.unique(np.concatenate([ids_of(ds.pairs) for ds in datasets]))
  pool_pairs = np.stack(np.divmod(pool_ids, n_gene), axis=1)
  labels = (ds0.status[pool_pairs[:, 0], pool_pairs[:, 1]] == dataset_lib.POSITIVE).astype(np.int32)
  train_idx = np.stack([np.searchsorted(pool_ids, ids_of(m.ds.pairs[m.ds.train_idx[m.fold.index]]))
                        for m in members]).astype(np.int32)
  reps = Replicas(train_idx, np.array([m.fold.index for m in members]),
                  np.array([m.seed for m in members]),
                  np.array([m.ae_learning_rate for m in members]),
                  np.array([m.learning_rate for m in members]))
  return pool_pairs, labels, reps


class Family:
  """mirjax/family.py's interface for the pairwise models."""

  seeded = True  # whether replicas of other training seeds differ

  def __init__(self, settings: Settings):
    self.settings = settings

  @classmethod
  def from_config(cls, config: ml_collections.ConfigDict) -> "Family":
    return cls(Settings.from_config(config))

  @property
  def name(self) -> str:
    return self.settings.classifier.model

  def setup(self) -> None:
    """lstm.backend=onednn needs the CPU, oneDNN and its built kernel: checked here, in one line,
    before any stage runs."""
    if getattr(self.settings.net, "backend", "xla") == "onednn":
      lstm_onednn.check()

  def check(self, members) -> None:
    """Refuses, before anything trains, a stage whose minibatch is larger than its fit rows."""
    n_train = min(m.ds.train_idx.shape[1] for m in members)
    for name, section in (("ae", self.settings.ae), ("classifier", self.settings.classifier)):
      n_fit = n_train - int(round(section.val_fraction * n_train))
      if section.batch_size > n_fit:
        raise ConfigError(f"config.{name}.batch_size={section.batch_size} is larger than the "
                          f"{n_fit} pairs each replica fits on ({n_train} training pairs less "
                          f"{name}.val_fraction); lower it.")

  def train(self, members, store) -> Trained:
    pairs, labels, reps = _pool(members)
    ds = members[0].ds
    trained = stages.train_replicas(self.settings, ds.features_of(pairs), labels, reps, store)
    return Trained(trained, ds, self.settings)

  def restore(self, members, store) -> Trained:
    pairs, _, reps = _pool(members)
    ds = members[0].ds
    return Trained(scoring.restore(self.settings, ds.features_of(pairs), reps, store), ds,
                   self.settings)

  def final_model(self, member, store) -> Trained:
    """One AE + classifier on all labelled pairs of `member.ds` (its fold is None), trained once,
    then restored."""
    ds = member.ds
    reps = Replicas(np.arange(ds.labels.size, dtype=np.int32)[None], np.zeros(1, int),
                    np.array([member.seed]), np.array([member.ae_learning_rate]),
                    np.array([member.learning_rate]))
    trained = stages.train_replicas(self.settings, ds.pair_features(), ds.labels, reps, store,
                                    stage_prefix=FINAL_PREFIX)
    return Trained(trained, ds, self.settings)
