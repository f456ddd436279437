"""The leaderboard: every model family × every protocol, beside the baselines on the same folds.

Launch (37 min on the 2-core AMD EPYC dev machine, sharing it with other jobs):
  MIRJAX_DATA_DIR=../shared/data/raw python launch.py --config=configs/leaderboard.py \\
      --workdir=runs/leaderboard

Models: the paper's AE + 3-layer LSTM, an MLP and logistic regression on the same inputs (all at
configs/quick.py's budget, distance negatives as the paper), and the graph model of configs/graph.py
(for cold start with SG-embedding-similarity features and node dropout, what a new node still has).
Protocols (data.split): pairs; new miRNA; new gene; both new. 5 folds × 3 seeds each. Every model
is scored on the honest protocol (mirjax/evaluation/honest.py) beside distance, degree product,
neighbourhood CF, truncated SVD and EASE (and, for cold start, partner popularity and embedding-kNN
CF), tuned on inner splits; REPORT.md pairs each model with every baseline fold by fold.
"""

from mirjax.config import default_config, quick_budget

_GRAPH = "classifier.model=graph; ae.enabled=False; classifier.epochs=20; classifier.learning_rate=0.01"
_COLD_GRAPH = _GRAPH + "; graph.content=True; graph.node_dropout=0.2"
_SPLITS = {"pairs": "pairs", "new_mirna": "mirna", "new_gene": "gene", "both_new": "both"}


def get_config():
  config = quick_budget(default_config())
  variants = []
  for name, split in _SPLITS.items():
    graph = _GRAPH if split == "pairs" else _COLD_GRAPH
    variants += [f"paper_lstm {name}: data.split={split}",
                 f"mlp {name}: classifier.model=mlp; data.split={split}",
                 f"logistic {name}: classifier.model=logistic; data.split={split}",
                 f"graph {name}: {graph}; data.split={split}"]
  config.sweep.variants = tuple(variants)
  config.sweep.seeds = (0, 1, 2)
  return config
