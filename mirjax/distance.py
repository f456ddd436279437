"""The distance 'family': trains nothing and scores a pair by minus its embedding dissimilarity.

What any model trained on the paper's distance-built negatives gets for free; as a point of a
sweep (configs/ablations.py) it sits beside the trained models. The interface is mirjax/family.py's.
"""

import dataclasses

import ml_collections
import numpy as np



@dataclasses.dataclass(frozen=True)
class Trained:
  scores: np.ndarray  # [R, n_mirna, n_gene]: -dissimilarity by each member's data.metric

  @property
  def n_replicas(self) -> int:
    return len(self.scores)

  def grid_log_odds(self) -> np.ndarray:
    return self.scores

  def pair_log_odds(self, pairs: np.ndarray) -> np.ndarray:
    return self.grid_log_odds()[:, pairs[:, 0], pairs[:, 1]]


class Family:
  """Nothing to set up, check, train or restore."""

  seeded = False  # whether replicas of other training seeds differ
  name = "distance"

  @classmethod
  def from_config(cls, config: ml_collections.ConfigDict) -> "Family":
    del config
    return cls()

  def setup(self) -> None:
    pass

  def check(self, members) -> None:
    pass

  def train(self, members, store) -> Trained:
    del store
    return Trained(np.stack([-m.ds.dissimilarity for m in members]))

  restore = train
