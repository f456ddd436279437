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

from mirjax import atomic, provenance
from mirjax.evaluation.cv_results import PAPER, SG_LSTM_FRAME
_TEST_NAMES = {"own": "own-strategy test", "random": "random-negative test"}


def _pm(row, col: str) -> str:
  mean, std = row[f"{col}_mean"], row[f"{col}_std"]
  if pd.isna(mean):
    return "–"
  return f"{mean:.4f}" + ("" if pd.isna(std) else f" ± {std:.4f}")


def markdown_table(table: pd.DataFrame, compact: bool = False) -> str:
  cols = [("own_auc", "AUC, own test"), ("own_aupr", "AUPR, own test"),
          ("random_auc", "AUC, random-negative test"), ("random_aupr", "AUPR, random-negative test"),
          ("own_distance_auc", "distance-only AUC, own test"),
          ("random_distance_auc", "distance-only AUC, random test")]
  if not compact:
    cols += [("own_f1", "F1, own test"), ("own_accuracy", "accuracy, own test")]
  lines = ["| point | replicas | " + " | ".join(c[1] for c in cols) + " |",
           "|---|---|" + "---|" * len(cols)]
  for _, row in table.iterrows():
    lines.append(f"| {row['point']} | {row['n_replicas']} | "
                 + " | ".join(_pm(row, c) for c, _ in cols) + " |")
  return "\n".join(lines)


CLAIM_WORDS = ("supported", "contradicted", "not distinguishable")
DIFFERENCE_WORDS = ("higher", "lower", "not distinguishable")


def compare(per_replica: pd.DataFrame, a: str, b: str, test_set: str, metric: str = "auc",
            words: tuple[str, str, str] = CLAIM_WORDS):
  """(mean difference a - b, its standard error, verdict) over the replicas of points a and b."""
  va = per_replica[(per_replica.point == a) & (per_replica.test_set == test_set)][metric].to_numpy()
  vb = per_replica[(per_replica.point == b) & (per_replica.test_set == test_set)][metric].to_numpy()
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
        c = compare(per_replica, pa, pb, t, words=words)
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
           f"across thresholds; the distance alone ranges {t['own_distance_auc_mean'].min():.4f}–"
           f"{t['own_distance_auc_mean'].max():.4f} on the same test sets; the random-negative test "
           f"AUC ranges {t['random_auc_mean'].min():.4f}–{t['random_auc_mean'].max():.4f}."]
  if 3.15 in set(t[col]):
    row = t[t[col] == 3.15].iloc[0]
    lines.append(f"- At the paper's chosen 3.15: own-test AUC {_pm(row, 'own_auc')}, "
                 f"random-negative test AUC {_pm(row, 'random_auc')}.")
  return lines


def write(workdir: str, config, table: pd.DataFrame, per_replica: pd.DataFrame,
          figures: list[tuple[str, str]], results: dict) -> str:
  c = config
  best = table.loc[table["own_auc_mean"].idxmax()] if table["own_auc_mean"].notna().any() else None
  lines = [
      f"# mirjax report: {os.path.basename(os.path.abspath(workdir))}", "",
      f"Generated {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M UTC} by mirjax from "
      "`sweep.csv` (one row per point) and `sweep_replicas.csv` (one row per replica and test set); "
      "the resolved config is `config.json`.", "",
      "## Setup", "",
      f"- {results['points']} points × seeds {results['seeds']} × {results['folds']} folds; "
      f"{results['replicas_trained']} trained replicas in {results['groups']} compiled group(s); "
      f"training {results['training_seconds'] / 60:.1f} min (all invocations), this invocation "
      f"{results['wall_seconds'] / 60:.1f} min.",
      f"- Training budget (unless a point overrides it): AE {c.ae.epochs} epochs, classifier "
      f"({c.classifier.model}) {c.classifier.epochs} epochs, LSTM {c.lstm.layers}×{c.lstm.hidden}, "
      f"batch {c.classifier.batch_size}, Adam {c.classifier.learning_rate:g}.",
      "- Test sets: **own** = the fold's held-out pairs (negatives of the point's own strategy); "
      "**random** = the fold's held-out positives with as many unknown pairs drawn at random as "
      "negatives (never trained on). Mean ± sample std over folds × seeds.",
      "- Distance-only = score each test pair by minus its miRNA–gene embedding dissimilarity; no "
      "learning.",
      "- Versions: " + ", ".join(f"{k} {v}" for k, v in provenance.versions().items()), "",
      "## Results", "", markdown_table(table), ""]
  for title, name in figures:
    lines += [f"![{title}]({name})", ""]
  lines += ["## Against the published numbers", "",
            f"- {PAPER['name']}: AUC {PAPER['mean_auc']} mean, {PAPER['best_auc']} best fold.",
            f"- {SG_LSTM_FRAME['name']}: AUC {SG_LSTM_FRAME['auc']}."]
  if best is not None:
    best_fold = per_replica[(per_replica.point == best["point"])
                            & (per_replica.test_set == "own")]["auc"].max()
    lines.append(f"- mirjax, best point here (`{best['point']}`): AUC {_pm(best, 'own_auc')} on its "
                 f"own test (best fold {best_fold:.4f}), {_pm(best, 'random_auc')} on the "
                 "random-negative test.")
  claims = claims_section(per_replica) + threshold_section(table)
  if claims:
    lines += ["", "## The paper's claims on this data", ""] + claims
  general = claims_section(per_replica, _GENERALIZATION, DIFFERENCE_WORDS)
  if general:
    lines += ["", "## Generalization", ""] + general
  text = "\n".join(lines) + "\n"
  atomic.write_text(os.path.join(workdir, "REPORT.md"), text)
  return text
