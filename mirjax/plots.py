"""PNG figures, written atomically with a non-interactive matplotlib backend."""

import os

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


def roc_curves(path: str, curves: list[tuple[np.ndarray, np.ndarray, float]]) -> None:
  """One ROC curve per fold; `curves` holds (fpr, tpr, auc) per fold."""
  fig, ax = plt.subplots(figsize=(5, 5))
  for k, (fpr, tpr, auc) in enumerate(curves):
    ax.plot(fpr, tpr, lw=1.3, label=f"fold {k} (AUC {auc:.4f})")
  ax.plot([0, 1], [0, 1], color="0.7", ls=":", lw=1)
  ax.set_xlabel("false positive rate")
  ax.set_ylabel("true positive rate")
  ax.set_title(f"ROC, mean AUC {np.mean([c[2] for c in curves]):.4f}")
  ax.legend(loc="lower right", fontsize=8)
  _save(fig, path)


def loss_curves(path: str, rows: list[dict]) -> None:
  """Train and validation loss per epoch for each stage (mean over replicas, band = min..max)."""
  stages = sorted({r["stage"] for r in rows}, key=["ae", "classifier", "graph"].index)
  fig, axes = plt.subplots(1, len(stages), figsize=(5 * len(stages), 3.6), squeeze=False)
  for ax, stage in zip(axes[0], stages):
    for key, colour in (("train_loss", "C0"), ("val_loss", "C1"), ("val_auc", "C2")):
      pts = [(r["epoch"], r["replica"], r[key]) for r in rows if r["stage"] == stage
             and r.get(key) is not None]
      if not pts:
        continue
      epochs = np.array(sorted({p[0] for p in pts}))
      grid = np.full((epochs.size, max(p[1] for p in pts) + 1), np.nan)
      index = {e: i for i, e in enumerate(epochs)}
      for e, r, v in pts:
        grid[index[e], r] = v
      ax.plot(epochs, np.nanmean(grid, 1), color=colour, label=key.replace("_", " "))
      ax.fill_between(epochs, np.nanmin(grid, 1), np.nanmax(grid, 1), color=colour, alpha=0.2)
    ax.set_title({"ae": "autoencoder (MSE)", "classifier": "classifier (cross-entropy)",
                  "graph": "graph model (logistic loss; inner validation AUC)"}.get(stage, stage))
    ax.set_xlabel("epoch")
    ax.set_yscale("log")
    ax.legend(fontsize=8)
  _save(fig, path)


def score_distribution(path: str, table) -> None:
  """Histogram of ensemble scores for each pair status."""
  fig, ax = plt.subplots(figsize=(7, 4))
  bins = np.linspace(0, 1, 51)
  for status, colour in (("unknown", "0.5"), ("positive", "C3"), ("train_negative", "C0"),
                         ("nonfunctional_record", "C2")):
    values = table.loc[table["status"] == status, "score"].to_numpy()
    if values.size:
      ax.hist(values, bins=bins, density=True, histtype="step", lw=1.6, color=colour,
              label=f"{status} (n={values.size:,})")
  ax.set_xlabel("ensemble P(association)")
  ax.set_ylabel("density")
  ax.set_title("Scores of all grid pairs by status")
  ax.legend(fontsize=8)
  _save(fig, path)


def score_heatmap(path: str, scores: np.ndarray, positive: np.ndarray) -> None:
  """Ensemble scores [n_mirna, n_gene], rows and columns sorted by mean score; positives marked."""
  n_m, n_g = scores.shape
  rows, cols = np.argsort(-scores.mean(1)), np.argsort(-scores.mean(0))
  fig, ax = plt.subplots(figsize=(9, max(4.0, 9 * n_m / max(n_g, 1) * 0.8)))
  im = ax.imshow(scores[rows][:, cols], aspect="auto", cmap="viridis", vmin=0, vmax=1,
                 interpolation="nearest")
  r, c = np.nonzero(positive[rows][:, cols])
  ax.scatter(c, r, s=min(20.0, max(0.5, 4000 / (n_m * n_g))), c="red", marker="s", lw=0,
             label="known positive")
  ax.set_xlabel(f"genes ({n_g}, sorted by mean score)")
  ax.set_ylabel(f"miRNAs ({n_m}, sorted by mean score)")
  ax.set_title("Ensemble P(association) over the grid")
  ax.legend(loc="upper right", fontsize=8, markerscale=8)
  fig.colorbar(im, ax=ax, fraction=0.04)
  _save(fig, path)


def replica_scaling(path: str, n_replicas: list[int], samples_per_s: list[float],
                    reference: float | None) -> None:
  """Training samples/s against the number of replicas, with a reference line."""
  fig, ax = plt.subplots(figsize=(5, 3.5))
  ax.plot(n_replicas, samples_per_s, "o-", label="mirjax (default placement)")
  if reference:
    ax.axhline(reference, color="C3", ls="--", label="PyTorch nn.LSTM, one model")
  ax.set_xscale("log")
  ax.set_xlabel("replicas (batch 128 each)")
  ax.set_ylabel("training samples/s")
  ax.legend(fontsize=8)
  _save(fig, path)


def sweep_figures(workdir: str, table, grid_fields: list[str]) -> list[tuple[str, str]]:
  """AUC (mean ± std over folds × seeds) on both test sets: against each numeric grid axis, one
  line per other setting; or, with no numeric axis, one bar pair per point. Returns
  [(title, file name)] of what was written into `workdir`."""
  out = []
  labels = {"own": "own-strategy test", "random": "random-negative test"}
  for field in grid_fields:
    col = f"setting:{field}"
    if col not in table or not np.issubdtype(np.asarray(table[col]).dtype, np.number):
      continue
    others = [c for c in table.columns if c.startswith("setting:") and c != col]
    fig, ax = plt.subplots(figsize=(6, 4))
    for key, sub in (table.groupby(others, dropna=False) if others else [("", table)]):
      sub = sub.sort_values(col)
      tag = "" if not others else f" ({', '.join(map(str, np.atleast_1d(key)))})"
      for t, style in (("own", "o-"), ("random", "s--")):
        ax.errorbar(sub[col], sub[f"{t}_auc_mean"], yerr=sub[f"{t}_auc_std"], fmt=style,
                    capsize=3, label=labels[t] + tag)
    ax.axhline(0.5, color="grey", lw=0.8)
    ax.set_xlabel(field)
    ax.set_ylabel("ROC AUC (mean ± std)")
    ax.legend(fontsize=7)
    name = f"sweep_{field.rsplit('.', 1)[-1]}.png"
    _save(fig, f"{workdir}/{name}")
    out.append((f"AUC against {field}", name))
  if not out:
    fig, ax = plt.subplots(figsize=(max(6, 0.9 * len(table)), 4))
    x = np.arange(len(table))
    for j, t in enumerate(("own", "random")):
      ax.bar(x + (j - 0.5) * 0.38, table[f"{t}_auc_mean"], 0.38, yerr=table[f"{t}_auc_std"],
             capsize=3, label=labels[t])
    ax.set_xticks(x, table["point"], rotation=30, ha="right", fontsize=8)
    ax.set_ylim(0.4, 1.0)
    ax.axhline(0.5, color="grey", lw=0.8)
    ax.set_ylabel("ROC AUC (mean ± std)")
    ax.legend(fontsize=8)
    _save(fig, f"{workdir}/sweep_points.png")
    out.append(("AUC of every point", "sweep_points.png"))
  return out


def leaderboard(path: str, table) -> tuple[str, str]:
  """Per data setting, every point and baseline: random-test AUC and per-miRNA recall@20
  (mean ± std), trained models coloured, baselines grey. Returns (title, file name)."""
  tags = list(dict.fromkeys(table["data"]))
  metrics = (("random_auc", "AUC, random-negative test"), ("mirna_recall@20", "recall@20 per miRNA"))
  height = max(3.0, 0.28 * table.groupby("data").size().max() + 1.2)
  fig, axes = plt.subplots(len(tags), 2, figsize=(11, height * len(tags)), squeeze=False)
  for r, tag in enumerate(tags):
    sub = table[table["data"] == tag].sort_values("random_auc_mean")
    y = np.arange(len(sub))
    colours = ["0.65" if m == "baseline" else "C0" if m == "graph" else "C1" for m in sub["model"]]
    for c, (metric, label) in enumerate(metrics):
      ax = axes[r, c]
      ax.barh(y, sub[f"{metric}_mean"], xerr=sub[f"{metric}_std"].fillna(0), color=colours,
              capsize=2)
      ax.set_yticks(y, sub["point"], fontsize=7)
      ax.set_xlabel(label)
      if metric.endswith("auc"):
        ax.axvline(0.5, color="grey", lw=0.8, ls=":")
        ax.set_xlim(0.3, 1.0)
      ax.set_title(f"{tag or 'base data'}: {label}", fontsize=9)
  fig.tight_layout()
  _save(fig, path)
  return ("Leaderboard: random-test AUC and per-miRNA recall@20 (blue: graph model, orange: other "
          "trained models, grey: baselines)", os.path.basename(path))
