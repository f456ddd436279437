"""W/REPORT.md: a sweep's tables, plots and the paper's claims checked against its numbers.

Claims are checked only when the sweep has the points they need, found by the names
configs/ablations.py uses: `full` against `random_negatives` (distance negatives help), `no_ae`
(AE features help), and `mlp`, `logistic`, `distance_only` (the LSTM helps). A comparison is
"supported" when the mean difference is positive and larger than twice its standard error (Welch,
over folds × seeds), "contradicted" when it is negative by that margin, else "not distinguishable".
The "Generalization" section (cold-start splits) says "higher" / "lower" by the same rule.
"""

import datetime
import os

import numpy as np
import pandas as pd

from mirjax import atomic, plots, provenance
from mirjax.evaluation import cv_results, honest
from mirjax.evaluation.cv_results import PAPER, SG_LSTM_FRAME
_TEST_NAMES = {"own": "own-strategy test", "random": "random-negative test"}


def _pm(row, col: str) -> str:
  mean, std = row[f"{col}_mean"], row[f"{col}_std"]
  if pd.isna(mean):
    return "–"
  return f"{mean:.4f}" + ("" if pd.isna(std) else f" ± {std:.4f}")


# Leaderboard columns: (metric, header), in order.
COLUMNS = (("random_auc", "AUC, random test"), ("random_aupr", "AUPR, random test"),
           ("mirna_recall@20", "recall@20 per miRNA"), ("gene_recall@20", "recall@20 per gene"),
           ("mirna_mrr", "MRR per miRNA"), ("low_degree_auc", "AUC, low-degree positives"),
           ("own_auc", "AUC, own test"))
# Headline metrics of the paired comparison with the baselines.
HEADLINE = ("random_auc", "random_aupr", "mirna_recall@20")


def markdown_table(table: pd.DataFrame) -> str:
  lines = ["| point | model | replicas | " + " | ".join(c[1] for c in COLUMNS) + " |",
           "|---|---|---|" + "---|" * len(COLUMNS)]
  for _, row in table.iterrows():
    lines.append(f"| {row['point']} | {row['model']} | {row['n_replicas']} | "
                 + " | ".join(_pm(row, c) for c, _ in COLUMNS) + " |")
  return "\n".join(lines)


PUBLISHED = [f"- {PAPER['name']}: AUC {PAPER['mean_auc']} mean, {PAPER['best_auc']} best fold, on "
             "their own (distance-built) test.",
             f"- {SG_LSTM_FRAME['name']}: AUC {SG_LSTM_FRAME['auc']}."]


def summary_row(sub: pd.DataFrame) -> dict:
  """A point's row from its replicas' rows: its model, how many, and the mean and sample std over
  them of every metric of the protocol."""
  row = {"model": sub["model"].iloc[0], "n_replicas": len(sub)}
  for m in (c for c in sub.columns if c in honest.METRICS):
    summary = cv_results.summarize(sub[m].dropna().to_numpy(float))
    row[f"{m}_mean"], row[f"{m}_std"] = summary["mean"], summary["std"]
  return row


def write_run_leaderboard(workdir: str, split: str, seed: int, per_fold: dict, model: str) -> str:
  """W/leaderboard.md and W/leaderboard.png of one run (its model, data.split and seed): the model
  beside every baseline on the same folds (results.json's honest.per_fold), with the paired
  per-fold differences. Returns the path."""
  per_replica = pd.DataFrame([
      {"point": model if name == "model" else name,
       "model": model if name == "model" else "baseline", "fold": f, **metrics}
      for name, rows in per_fold.items() for f, metrics in enumerate(rows)])
  table = pd.DataFrame([{"point": p, **summary_row(sub)}
                        for p, sub in per_replica.groupby("point", sort=False)])
  table["data"] = split
  title, png = plots.leaderboard(os.path.join(workdir, "leaderboard.png"), table)
  table = table.sort_values("random_auc_mean", ascending=False)
  lines = [f"# {model} beside the baselines: data.split={split}, "
           f"{len(per_fold['model'])} folds, seed {seed}", "",
           "Mean ± sample std over folds; the protocol is mirjax/evaluation/honest.py's (README, "
           "'Honest evaluation'); every number is recomputable from `oof_predictions.csv` and "
           "`grid_scores.npz`.", "", markdown_table(table), "", f"![{title}]({png})", "",
           "## Against the baselines, fold by fold", "",
           "Difference = the model's metric minus the baseline's on the same fold, mean ± standard "
           "error over folds.", ""] + baseline_section(table, per_replica)
  lines += ["", "## Against the published numbers", ""] + PUBLISHED
  path = os.path.join(workdir, "leaderboard.md")
  with atomic.atomic_path(path) as tmp, open(tmp, "w") as f:
    f.write("\n".join(lines) + "\n")
  return path


def paired_difference(per_replica: pd.DataFrame, point: str, baseline: str, metric: str):
  """(mean, standard error) over the point's replicas (folds × seeds) of its metric minus the
  baseline's on the same fold: the paired per-fold differences."""
  b = per_replica[per_replica.point == baseline].set_index("fold")[metric]
  a = per_replica[per_replica.point == point]
  d = (a[metric].to_numpy(float) - b.loc[a["fold"]].to_numpy(float))
  d = d[np.isfinite(d)]
  if d.size < 2:
    return None
  return float(d.mean()), float(d.std(ddof=1) / np.sqrt(d.size))


def baseline_section(table: pd.DataFrame, per_replica: pd.DataFrame) -> list[str]:
  """Every trained point against every baseline of its data setting, on the headline metrics:
  'beats' when the paired difference exceeds its standard error."""
  lines = ["| point | metric | strongest baseline | difference ± SE (paired) | beats every "
           "baseline by > SE |", "|---|---|---|---|---|"]
  for _, row in table[~table["model"].isin(["baseline"])].iterrows():
    bases = table[(table["model"] == "baseline") & (table["data"] == row["data"])]
    for metric in HEADLINE:
      diffs = {b: paired_difference(per_replica, row["point"], b, metric) for b in bases["point"]}
      diffs = {b: d for b, d in diffs.items() if d is not None}
      if not diffs:
        continue
      strongest = bases.loc[bases[f"{metric}_mean"].idxmax(), "point"]
      d, se = diffs[strongest]
      every = all(v[0] > v[1] for v in diffs.values())
      lines.append(f"| {row['point']} | {metric} | {strongest} | {d:+.4f} ± {se:.4f} | "
                   f"{'**yes**' if every else 'no'} |")
  return lines if len(lines) > 2 else []


CLAIM_WORDS = ("supported", "contradicted", "not distinguishable")
DIFFERENCE_WORDS = ("higher", "lower", "not distinguishable")


def compare(per_replica: pd.DataFrame, a: str, b: str, metric: str,
            words: tuple[str, str, str] = CLAIM_WORDS):
  """(mean difference a - b, its standard error, verdict) over the replicas of points a and b."""
  va = per_replica[per_replica.point == a][metric].to_numpy(float)
  vb = per_replica[per_replica.point == b][metric].to_numpy(float)
  if len(va) < 2 or len(vb) < 2:
    return None
  diff = float(va.mean() - vb.mean())
  se = float(np.sqrt(va.var(ddof=1) / len(va) + vb.var(ddof=1) / len(vb)))
  verdict = words[0] if diff > 2 * se else words[1] if diff < -2 * se else words[2]
  return diff, se, verdict


_CLAIMS = [
    ("Distance-based negatives help (the paper's label adjustment)", "full", "random_negatives",
     "Judge it on the random-negative test: on its own test each model meets the negatives it was "
     "trained against, and distance-built negatives are easier by construction."),
    ("The autoencoder features help", "full", "no_ae", ""),
    ("The LSTM helps, over a small MLP on the same inputs", "full", "mlp", ""),
    ("The LSTM helps, over logistic regression on the same inputs", "full", "logistic", ""),
    ("The model beats the miRNA–gene distance alone", "full", "distance_only",
     "On the own test the distance is what built the negatives; on the random-negative test it is a "
     "fair baseline."),
]


# Not claims of the paper, but what a user of its predictions needs to know.
_GENERALIZATION = [
    ("Cold start: test miRNAs never seen in training", "cold_mirna", "full",
     "Lower = worse than the full method on its random-pair folds."),
    ("Cold start: test genes never seen in training", "cold_gene", "full", ""),
    ("Cold start, miRNAs: the model against the distance alone", "cold_mirna",
     "distance_only_cold_mirna", ""),
    ("Cold start, genes: the model against the distance alone", "cold_gene",
     "distance_only_cold_gene", ""),
]


def claims_section(per_replica: pd.DataFrame, claims=None, words=CLAIM_WORDS) -> list[str]:
  """Each claim whose two variants exist, compared at every grid setting they share."""
  names = per_replica.drop_duplicates("point").set_index("point")["variant"].fillna("")
  lines = []
  for title, a, b, note in claims or _CLAIMS:
    pairs = [(p, p.replace(a, b, 1)) for p, v in names.items()
             if v == a and p.replace(a, b, 1) in names.index]
    if not pairs:
      continue
    lines.append(f"- **{title}**:")
    for pa, pb in pairs:
      for t in ("own", "random"):
        c = compare(per_replica, pa, pb, f"{t}_auc", words=words)
        if c:
          lines.append(f"  - `{pa}` vs `{pb}`, {_TEST_NAMES[t]}: AUC difference {c[0]:+.4f} ± "
                       f"{c[1]:.4f} (SE) → **{c[2]}**")
    if note:
      lines.append(f"  - {note}")
  return lines


def threshold_section(table: pd.DataFrame) -> list[str]:
  col = "setting:data.negatives.threshold"
  if col not in table or table[col].isna().all():
    return []
  t = table.dropna(subset=[col])
  best_own = t.loc[t["own_auc_mean"].idxmax()]
  best_rand = t.loc[t["random_auc_mean"].idxmax()]
  lines = [f"- Best threshold on the own-strategy test: **{best_own[col]}** "
           f"(AUC {_pm(best_own, 'own_auc')}); on the random-negative test: **{best_rand[col]}** "
           f"(AUC {_pm(best_rand, 'random_auc')}).",
           f"- Own-test AUC ranges {t['own_auc_mean'].min():.4f}–{t['own_auc_mean'].max():.4f} "
           f"across thresholds (the distance baseline's on the same test sets are in the table); "
           "the random-negative test "
           f"AUC ranges {t['random_auc_mean'].min():.4f}–{t['random_auc_mean'].max():.4f}."]
  if 3.15 in set(t[col]):
    row = t[t[col] == 3.15].iloc[0]
    lines.append(f"- At the paper's chosen 3.15: own-test AUC {_pm(row, 'own_auc')}, "
                 f"random-negative test AUC {_pm(row, 'random_auc')}.")
  return lines


def _leaderboards(table: pd.DataFrame) -> list[str]:
  """One table per data setting (protocol): its points, then its baselines, best first."""
  lines = []
  for tag, sub in table.groupby("data", sort=False):
    title = f"data: {tag}" if tag else "data: the base config's"
    trained = sub[sub["model"] != "baseline"].sort_values("random_auc_mean", ascending=False)
    bases = sub[sub["model"] == "baseline"].sort_values("random_auc_mean", ascending=False)
    lines += [f"### {title}", "", markdown_table(pd.concat([trained, bases])), ""]
  return lines


def budget(config) -> str:
  """The sweep's training budget, as its report states it."""
  c = config
  return (f"AE {c.ae.epochs} epochs, classifier ({c.classifier.model}) {c.classifier.epochs} "
          f"epochs, LSTM {c.lstm.layers}×{c.lstm.hidden}, batch {c.classifier.batch_size}, Adam "
          f"{c.classifier.learning_rate:g}")


def write(workdir: str, budget_line: str, table: pd.DataFrame, per_replica: pd.DataFrame,
          figures: list[tuple[str, str]], results: dict) -> str:
  trained = table[table["model"] != "baseline"]
  best = (trained.loc[trained["own_auc_mean"].idxmax()]
          if trained["own_auc_mean"].notna().any() else None)
  lines = [
      f"# mirjax report: {os.path.basename(os.path.abspath(workdir))}", "",
      f"Generated {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M UTC} by mirjax from "
      "`sweep.csv` (one row per point) and `sweep_replicas.csv` (one row per replica); the resolved "
      "config is `config.json`.", "",
      "## Setup", "",
      f"- {results['points']} points × seeds {results['seeds']} × {results['folds']} folds; "
      f"{results['replicas']} replicas in {results['groups']} group(s) (one compiled program per "
      "stage of each; distance points train nothing); "
      f"training {results['training_seconds'] / 60:.1f} min (all invocations), this invocation "
      f"{results['wall_seconds'] / 60:.1f} min.",
      f"- Training budget (unless a point overrides it): {budget_line}.",
      "- Every model scores the whole grid with the model of each fold, and is measured on that "
      "fold (mirjax/evaluation/honest.py): **own test** = the fold's held-out labelled pairs "
      "(negatives of the data's own strategy, as the paper tests); **random test** = the fold's "
      "held-out positives against as many never-labelled pairs drawn at random; **recall@20 / "
      "MRR** = each miRNA's (gene's) full ranking of every partner that is not a training "
      "positive; **low-degree AUC** = the random test with only the positives whose miRNA or gene "
      "is in the bottom third of training degree. No test pair is in any training role.",
      "- Baselines, on the same folds, tuned on inner splits of the training positives: distance "
      "(minus the embedding dissimilarity), degree product, neighbourhood CF, truncated SVD, EASE "
      "(with data.side_graph also `ease_side_graph`: EASE whose Gram matrices add miRTarBase's "
      "interactions with one end outside the grid); "
      "for cold start also partner popularity, content-kNN CF, partner popularity × the new "
      "node's content-predicted degree (`content_degree`) and, for a new miRNA, its miRBase "
      "family's mean row (`name_family`), tuned on inner splits that hold whole nodes out. Mean ± "
      "sample std over folds × seeds (baselines: folds).",
      "- Versions: " + ", ".join(f"{k} {v}" for k, v in provenance.versions().items()), "",
      "## Leaderboard", ""] + _leaderboards(table)
  for title, name in figures:
    lines += [f"![{title}]({name})", ""]
  paired = baseline_section(table, per_replica)
  if paired:
    lines += ["## Against the baselines, fold by fold", "",
              "Difference = the point's metric minus the baseline's on the same fold, mean ± "
              "standard error over folds × seeds; the strongest baseline is the one with the best "
              "mean.", ""] + paired + [""]
  lines += ["## Against the published numbers", ""] + PUBLISHED
  if best is not None:
    best_fold = per_replica[per_replica.point == best["point"]]["own_auc"].max()
    lines.append(f"- mirjax, best own-test point here (`{best['point']}`): AUC "
                 f"{_pm(best, 'own_auc')} on its own test (best fold {best_fold:.4f}), "
                 f"{_pm(best, 'random_auc')} on the random-negative test.")
  claims = claims_section(per_replica) + threshold_section(table)
  if claims:
    lines += ["", "## The paper's claims on this data", ""] + claims
  general = claims_section(per_replica, _GENERALIZATION, DIFFERENCE_WORDS)
  if general:
    lines += ["", "## Generalization", ""] + general
  text = "\n".join(lines) + "\n"
  atomic.write_text(os.path.join(workdir, "REPORT.md"), text)
  return text
