"""Input shift: how far a split's test positives lie from the rows its model learned from.

The model learns from inner windows (mirjax/prospective/stage.py): time cuts, or for a cold (papers)
split folds of its training nodes (papers). A protocol whose test pairs look unlike the windows' positives asks the
network for answers it was never taught: new miRNAs had no degree in time-cut windows (20 SD from
them, before cold splits got node-fold windows), a randomly held-out pair keeps its
paper's other pairs (seed-family partners on its gene were 36 % of random-pair positives and 1 % of
window positives, and sent random-pair AUC 0.866 -> 0.797: docs/reports/prospective.md). Each
split reports, per input, the standardized mean difference between its test positives and its
windows' positives, in the windows' standard deviation, so that a reader sees where the model
extrapolates, and an input can be checked on every protocol before a full run.
"""

import dataclasses

import numpy as np

# The windows' spread below which an input counts as constant among their positives: a shift is then
# measured against this spread, so one that the windows never vary reads as large, not infinite.
MIN_STD = 0.01
TOP = 5  # inputs listed per split and per leaderboard group


@dataclasses.dataclass(frozen=True)
class Reference:
  """Per input, the mean and standard deviation of one split's window positives."""
  mean: np.ndarray  # float64 [F]
  std: np.ndarray

  @classmethod
  def of(cls, x: np.ndarray, y: np.ndarray) -> "Reference":
    """From a split's training rows x [n, F] and classes y (0 = no validation)."""
    positive = x[y > 0].astype(np.float64)
    return cls(positive.mean(0), positive.std(0))

  def shift(self, x: np.ndarray) -> np.ndarray:
    """float64 [F]: (mean of rows x - the windows' mean) / the windows' SD (at least MIN_STD)."""
    # gathered rows are column-major; a column's sum rounds by memory order, so sum row-major as `of`
    return (x.astype(np.float64, order="C").mean(0) - self.mean) / np.maximum(self.std, MIN_STD)


def largest(shift: dict, k: int = TOP) -> dict:
  """{input: shift} of the k inputs of largest |shift|, largest first."""
  return dict(sorted(shift.items(), key=lambda kv: -abs(kv[1]))[:k])
