"""The graph family: learns from the known-interaction graph which held-out pairs interact.

Each replica learns from its fold's training graph only (mirjax/graph/stage.py): graph features
of masked copies of it (mirjax/graph/features.py), a scorer on them (mirjax/graph/model.py), and the
best epoch on an inner validation split. The interface is mirjax/family.py's.
"""

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from mirjax.data import content
from mirjax.data import dataset as dataset_lib
from mirjax.graph import stage
from mirjax.graph.model import GraphModel
from mirjax.train.checkpoints import restore_finished


@dataclasses.dataclass(frozen=True)
class Trained:
  """The graph model's replicas: parameters [R, ...] and each replica's training graph, which is
  its input graph at prediction time."""
  model: GraphModel
  params: Any
  train: np.ndarray  # bool [R, n_mirna, n_gene]
  ds: dataset_lib.Dataset

  @property
  def n_replicas(self) -> int:
    return len(self.train)

  def scoring_program(self):
    """(program, its arguments): every replica's grid log-odds as one jitted call. The content is
    an argument, not a closed-over constant: XLA tried to fold the constants' products at compile
    time (a second per EASE matrix on the real grid, with error lines on a successful run)."""
    nodes = jax.tree.map(jnp.asarray, content.node_content(self.ds))
    program = jax.jit(jax.vmap(self.model.log_odds, in_axes=(0, 0, None)))
    return program, (self.params, jnp.asarray(self.train, jnp.float32), nodes)

  def grid_log_odds(self) -> np.ndarray:
    """[R, n_mirna, n_gene] log-odds of every pair, per replica."""
    program, args = self.scoring_program()
    return np.asarray(program(*args))

  def pair_log_odds(self, pairs: np.ndarray) -> np.ndarray:
    """[R, n] log-odds of (miRNA, gene) rows: the model scores the whole grid at once."""
    return self.grid_log_odds()[:, pairs[:, 0], pairs[:, 1]]


class Family:
  """mirjax/family.py's interface for the graph model."""

  seeded = True  # whether replicas of other training seeds differ
  name = "graph"

  def __init__(self, graph: ml_collections.ConfigDict, epochs: int,
               train: ml_collections.ConfigDict):
    self.graph, self.epochs, self.train_section = graph, epochs, train

  @classmethod
  def from_config(cls, config: ml_collections.ConfigDict) -> "Family":
    return cls(config.graph, config.classifier.epochs, config.train)

  def setup(self) -> None:
    pass

  def check(self, members) -> None:
    pass  # full-grid steps: no batch to fit; the config's ranges are checked by config.validate

  def _model(self, members) -> GraphModel:
    return GraphModel.of(self.graph, *members[0].ds.status.shape)

  def train(self, members, store) -> Trained:
    reps = stage.GraphReplicas.of_members(members)
    ds = members[0].ds
    params = stage.train_graph_replicas(self._model(members), self.graph, self.epochs,
                                        self.train_section, content.node_content(ds), reps, store)
    return Trained(self._model(members), params, reps.train, ds)

  def restore(self, members, store) -> Trained:
    state = restore_finished(store.directory(stage.GRAPH_STAGE), self.epochs)
    return Trained(self._model(members), state["best_params"],
                   np.stack([m.fold.train_positive for m in members]), members[0].ds)
