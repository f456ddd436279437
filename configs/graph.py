"""The graph model: finds candidate miRNA–gene interactions from the known-interaction graph.

Launch (about 2 min on the 2-core AMD EPYC dev machine):
  MIRJAX_DATA_DIR=../shared/data/raw python launch.py --config=configs/graph.py --workdir=runs/graph
then `--mode=predict` and `--mode=query --mirna=hsa-miR-335-5p` with the same flags.

Each fold's model learns from that fold's training positives only (mirjax/graph/stage.py):
EASE, CF and degree features of a masked copy of the training graph, an MLP on them, and node
embeddings. The EASE features (and their cross term, and each node's degree outside the grid) also read
miRTarBase's interactions with one end outside the 383 x 318 grid (data.side_graph;
mirjax/data/tables.SideGraph), which hold no grid pair, nor a copy of one under another name.
It is judged on held-out validated pairs against random never-labelled pairs and on full rankings,
beside EASE (with and without the side graph), SVD, CF, degree and distance baselines on the same
folds (results.json, `honest`). Cold start: add --config.data.split=mirna (or gene, both). A new node is scored from what
it still has (mirjax/data/content.py): its SG and sequence embeddings (content kNN, its degree as
they predict it), a miRNA's miRBase family, its partner's degree; by a second head trained on nodes
hidden whole from the input graph, and selected on inner splits that hold whole nodes out.
"""

from mirjax.config import default_config


def get_config():
  config = default_config()
  config.classifier.model = "graph"
  config.ae.enabled = False  # the graph model reads the graph and the embeddings, not pair features
  config.classifier.epochs = 20  # x graph.steps_per_epoch 20 = 400 full-grid steps
  config.classifier.learning_rate = 1e-2
  config.train.checkpoint_every = 5
  # What a new node still has (used by cold-start folds; a pairs run trains the cold head idle):
  config.data.sequence_embeddings = True
  config.data.side_graph = True  # miRTarBase outside the grid: EASE's Gram matrices, outside degrees
  config.graph.content = True
  config.graph.degree_prior = 1000.0
  config.graph.families = True
  config.graph.cold_head = True
  config.graph.node_dropout = 0.5
  return config
