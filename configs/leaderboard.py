"""The leaderboard: every model family × every protocol, beside the baselines on the same folds.

Launch (about 40 min on the 2-core AMD EPYC dev machine: 38 min of training on 2026-11-27, with other
jobs beside it):
  MIRJAX_DATA_DIR=../shared/data/raw python launch.py --config=configs/leaderboard.py \\
      --workdir=runs/leaderboard

Models: the paper's AE + 3-layer LSTM, an MLP and logistic regression on the same inputs (all at
configs/quick.py's budget, distance negatives as the paper), and the graph model exactly as
configs/graph.py sets it (its settings are read from there, not copied). Protocols (data.split):
pairs; new miRNA; new gene; both new. 5 folds × 3 seeds each. Every model is scored on the honest
protocol (mirjax/evaluation/honest.py) beside distance, degree product, neighbourhood CF, truncated
SVD, EASE and EASE with miRTarBase outside the grid (graph.py's data.side_graph), and, for cold start, partner popularity, embedding-kNN CF, content-predicted degree
and (new miRNA) miRBase-family CF, tuned on inner splits; REPORT.md pairs each model with every
baseline fold by fold. The sequence embeddings are read for every point, so that all points of a
protocol share one data setting and one set of baselines (the pair-feature models do not use them).
"""

import importlib.util
import os

from mirjax import config as config_lib
from mirjax.config import default_config, quick_budget

_SPLITS = {"pairs": "pairs", "new_mirna": "mirna", "new_gene": "gene", "both_new": "both"}


def _graph_settings() -> tuple[dict, str]:
  """configs/graph.py's differences from the defaults: (data fields, the model's overrides)."""
  spec = importlib.util.spec_from_file_location(
      "graph_config", os.path.join(os.path.dirname(os.path.abspath(__file__)), "graph.py"))
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  graph = config_lib.flatten(module.get_config().to_dict())
  base = config_lib.flatten(default_config().to_dict())
  changed = {k: v for k, v in graph.items() if base[k] != v}
  data = {k: v for k, v in changed.items() if k.startswith("data.")}
  model = "; ".join(f"{k}={v}" for k, v in changed.items()
                    if k.split(".")[0] in ("classifier", "ae", "graph"))
  return data, model


def get_config():
  data, graph = _graph_settings()
  config = config_lib.override(quick_budget(default_config()), data, "configs/graph.py")
  variants = []
  for name, split in _SPLITS.items():
    variants += [f"paper_lstm {name}: data.split={split}",
                 f"mlp {name}: classifier.model=mlp; data.split={split}",
                 f"logistic {name}: classifier.model=logistic; data.split={split}",
                 f"graph {name}: {graph}; data.split={split}"]
  config.sweep.variants = tuple(variants)
  config.sweep.seeds = (0, 1, 2)
  return config
