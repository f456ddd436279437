"""The prospective run's tables: every scorer on every split and subset, the model's paired
differences from every baseline, and `leaderboard.md`, headed by the prospective protocols.

Which of the model's scores answers which subset is fixed in advance (`SCORE_OF`): the odds of any
validation for all and CLIP-only positives, the odds of a strong one for strong-only positives.
A comparison is a win when the model's difference from a baseline exceeds its paired SE.
"""

import os

import numpy as np
import pandas as pd

from mirjax import atomic
from mirjax.data import protocols
from mirjax.evaluation import cv_results
from mirjax.evaluation import prospective as measures
from mirjax.prospective import shift

SCORE_OF = {"all": "model", "strong": "model_strong", "clip": "model"}
MODEL_ROWS = ("model", "model_strong")
# Per protocol, whether its splits are reported one by one (temporal cuts) or pooled (folds).
ONE_BY_ONE = ("temporal",)
ORDER = ("temporal", "papers", "cold_mirna", "cold_gene", "random")


def metrics_table(per_split: list[dict]) -> pd.DataFrame:
  rows = []
  for s in per_split:
    for subset, scorers in s["subsets"].items():
      for name, values in scorers.items():
        if name.startswith("_"):
          continue
        rows.append({"protocol": s["protocol"], "split": s["label"], "subset": subset,
                     "scorer": name, **{m: values[m] for m in measures.METRICS},
                     **scorers["_counts"]})
  return pd.DataFrame(rows)


def _group(protocol: str, label: str) -> str:
  return f"{protocol} {label}" if protocol in ONE_BY_ONE else protocol


def _weights(positives) -> np.ndarray:
  """A group's splits weighted by their test positives: a papers fold with 3 CLIP positives (on
  two genes) must not count as much as one with 100,000."""
  w = np.asarray(positives, np.float64)
  return w / w.sum() if w.sum() > 0 else np.full(len(w), 1.0 / max(len(w), 1))


def summary(metrics: pd.DataFrame) -> dict:
  """{group: {subset: {scorer: {metric: {mean, std, min, max}}}}}: over a group's splits, the
  mean weighted by each split's positives (std, min and max unweighted)."""
  out = {}
  metrics = metrics.assign(group=[_group(p, s) for p, s in zip(metrics.protocol, metrics.split)])
  for (group, subset, scorer), rows in metrics.groupby(["group", "subset", "scorer"], sort=False):
    w = _weights(rows["positives"])
    out.setdefault(group, {}).setdefault(subset, {})[scorer] = {
        m: {**cv_results.summarize(rows[m].to_numpy(float)),
            "mean": float(w @ rows[m].to_numpy(float))} for m in measures.METRICS}
  return out


def paired(per_split: list[dict]) -> dict:
  """{group: {subset: {baseline: {metric: {diff, se, wins}}}}}: the model's score for the subset
  minus each baseline, averaged over the group's splits with the weights of `summary`; SE = the
  root of the splits' weighted bootstrap variances (splits independent)."""
  groups: dict = {}
  for s in per_split:
    for subset, scorers in s["subsets"].items():
      model = scorers[SCORE_OF[subset]]
      n = scorers["_counts"]["positives"]
      for baseline, se in model["diff_se"].items():
        if baseline in MODEL_ROWS:
          continue
        for m in measures.METRICS:
          groups.setdefault(_group(s["protocol"], s["label"]), {}).setdefault(
              subset, {}).setdefault(baseline, {}).setdefault(m, []).append(
                  (model[m] - scorers[baseline][m], se[m], n))
  out = {}
  for group, subsets in groups.items():
    for subset, baselines in subsets.items():
      for baseline, per_metric in baselines.items():
        for m, rows in per_metric.items():
          d = np.array(rows)
          w = _weights(d[:, 2])
          diff, se = float(w @ d[:, 0]), float(np.sqrt(((w * d[:, 1]) ** 2).sum()))
          out.setdefault(group, {}).setdefault(subset, {}).setdefault(baseline, {})[m] = {
              "diff": diff, "se": se, "wins": bool(diff > se)}
  return out


def input_shift(per_split: list[dict]) -> dict:
  """{group: {input: shift}}: each split's input shift (mirjax/prospective/shift.py) averaged over
  the group's splits with the weights of `summary`."""
  groups: dict = {}
  for s in per_split:
    groups.setdefault(_group(s["protocol"], s["label"]), []).append(s)
  out = {}
  for group, splits in groups.items():
    w = _weights([s["positives"] for s in splits])
    out[group] = {name: round(float(sum(wi * s["input_shift"][name]
                                        for wi, s in zip(w, splits))), 3)
                  for name in splits[0]["input_shift"]}
  return out


def _fmt(v) -> str:
  return "–" if v is None or not np.isfinite(v) else f"{v:.4f}"


def write_leaderboard(workdir: str, results: dict, metrics: pd.DataFrame) -> str:
  u = results["universe"]
  lines = [f"# Prospective leaderboard: the {u['universe']} universe "
           f"({u['n_mirna']:,} miRNAs x {u['n_gene']:,} genes)", "",
           "Every scorer on the same splits; AUC and AUPR of the test positives against never-"
           f"recorded pairs of the split's nodes, {measures.HIT} = the share of a test gene's new "
           f"partners among its {measures.K} top-ranked candidates. The model's score for all and CLIP-only positives is "
           "the odds of any validation (`model`), for strong-only ones the odds of a strong one "
           "(`model_strong`); 'beats every baseline' = its difference from each exceeds the paired "
           "gene-cluster bootstrap SE. Folds are pooled (mean over folds weighted by their test "
           "positives); temporal cuts are shown one by one.", ""]
  summary_, paired_ = results["summary"], results["paired"]
  groups = sorted(summary_, key=lambda g: (ORDER.index(g.split()[0]), g))
  for group in groups:
    protocol = group.split()[0]
    furthest = shift.largest(results["input_shift"][group])
    lines += [f"## {group}: {protocols.WHAT[protocol]}", "",
              "Inputs furthest from the training windows (test positives' mean minus the windows' "
              "positives', in their SD): "
              + ", ".join(f"{name} {v:+.2f}" for name, v in furthest.items()) + ".", ""]
    for subset in measures.SUBSETS:
      if subset not in summary_[group]:
        continue
      table = summary_[group][subset]
      rows = metrics[(metrics.protocol == protocol) & (metrics.subset == subset)]
      if protocol in ONE_BY_ONE:  # the group is one split: 'temporal T=25.0M'
        rows = rows[rows.split == group.split(" ", 1)[1]]
      n = int(rows.drop_duplicates("split")["positives"].sum())
      lines += [f"**{subset}** ({n:,} positives"
                f"{' over its folds' if protocol not in ONE_BY_ONE else ''})", "",
                f"| scorer | AUC | AUPR | {measures.HIT} |", "|---|---|---|---|"]
      for scorer in sorted(table, key=lambda s: -table[s]["auc"]["mean"]):
        bold = "**" if scorer == SCORE_OF[subset] else ""
        lines.append(f"| {bold}{scorer}{bold} | " + " | ".join(
            _fmt(table[scorer][m]["mean"]) for m in measures.METRICS) + " |")
      diffs = paired_[group][subset]
      cells = []
      for m in measures.METRICS:
        best = max(diffs, key=lambda b: table[b][m]["mean"])
        every = all(diffs[b][m]["wins"] for b in diffs)
        cells.append(f"{m}: {diffs[best][m]['diff']:+.4f} ± {diffs[best][m]['se']:.4f} vs {best} "
                     f"({'beats every baseline' if every else 'does not beat every baseline'})")
      lines += ["", f"`{SCORE_OF[subset]}` minus the best baseline: " + "; ".join(cells) + ".", ""]
  path = os.path.join(workdir, "leaderboard.md")
  atomic.write_text(path, "\n".join(lines) + "\n")
  return path
