"""PNG figures, written atomically with a non-interactive matplotlib backend."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)
import numpy as np  # noqa: E402

from mirjax import atomic  # noqa: E402


def _save(fig, path: str) -> None:
  with atomic.atomic_path(path) as tmp:
    fig.savefig(tmp, dpi=120, bbox_inches="tight", format="png")
  plt.close(fig)


def dissimilarity_histogram(path: str, *, positive: np.ndarray, unknown: np.ndarray,
                            negative: np.ndarray, threshold: float | None, metric: str,
                            strategy: str) -> None:
  """Positive vs unknown vs chosen-negative dissimilarities: the paper's Fig. 5, reproducible."""
  fig, ax = plt.subplots(figsize=(7, 4))
  bins = np.linspace(min(positive.min(), unknown.min()), max(positive.max(), unknown.max()), 80)
  for values, label, colour in ((unknown, "unknown pairs", "0.6"), (positive, "positives", "C3"),
                                (negative, f"chosen negatives ({strategy})", "C0")):
    ax.hist(values, bins=bins, density=True, histtype="step", lw=1.6, color=colour,
            label=f"{label} (n={values.size:,})")
  if threshold is not None:
    ax.axvline(threshold, color="k", ls="--", lw=1, label=f"threshold {threshold:.3f}")
  ax.set_xlabel("Euclidean distance" if metric == "euclidean" else "cosine distance (1 - similarity)")
  ax.set_ylabel("density")
  ax.set_title("miRNA–gene embedding dissimilarity")
  ax.legend(fontsize=8)
  _save(fig, path)
