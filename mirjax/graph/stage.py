"""Training the graph model: every replica learns from its own training graph, in one program.

Each replica (fold × seed × sweep point) carries its training interaction matrix and the pairs it
may sample as unlabelled negatives (mirjax/data/testsets.py builds both from the fold, so no
test pair is ever among them). A step:
  1. masks the replica's graph: each edge kept with probability `graph.keep`; and, for a replica
     whose test nodes are new (cold start), each node of that side hidden whole with probability
     `graph.node_dropout`, as a new node is at test time;
  2. computes the pair features and the propagation matrix from that input graph only (once per
     mask; `graph.steps_per_mask` optimizer steps use them);
  3. scores the whole grid and takes a logistic loss: the edges the mask removed are the positives,
     every allowed pair a negative (each class averaged, so they weigh equally).
Allowed pairs exclude the fold's test pairs, as the protocol demands. A model that can memorize
single pairs (ID embeddings, graph.dim > 0) could learn from that absence which pairs are held out
(they are never pushed down); the default model has no per-pair or per-node parameters, only
functions of the graph, so it cannot.
An inner validation split (graph.val_fraction of the training positives, never in any input graph or
target, against as many held-out allowed pairs; for a cold-start fold, the pairs of held-out nodes:
`validation_split`) scores every epoch; the best epoch's parameters are kept. This is the model
selection, and it never sees the test fold. At prediction time the input
graph is the replica's whole training graph.
"""

import dataclasses

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from mirjax import rng
from mirjax.data import folds as folds_lib
from mirjax.graph import features
from mirjax.graph.model import GraphModel
from mirjax.placement import Placement
from mirjax.train import loop

GRAPH_STAGE = "graph"  # checkpoint directory, metrics.jsonl rows and random stream (mirjax/rng.py)


@dataclasses.dataclass(frozen=True)
class GraphReplicas:
  """One entry per replica: its graph, what it may sample as negatives, its seed and fold."""
  train: np.ndarray  # bool [R, n_mirna, n_gene]: training positives
  allowed: np.ndarray  # bool [R, n_mirna, n_gene]: pairs it may sample as unlabelled negatives
  seeds: np.ndarray  # int [R]
  folds: np.ndarray  # int [R]
  learning_rate: np.ndarray  # float [R]
  cold: np.ndarray  # bool [R, 2]: whether the replica's test miRNAs (genes) are new nodes

  def __len__(self) -> int:
    return len(self.train)

  @classmethod
  def of_members(cls, members) -> "GraphReplicas":
    """One replica per mirjax.family.Member: its fold's training graph and negative pool."""
    return cls(np.stack([m.fold.train_positive for m in members]),
               np.stack([m.fold.allowed_negative for m in members]),
               np.array([m.seed for m in members]), np.array([m.fold.index for m in members]),
               np.array([m.learning_rate for m in members]),
               cold_sides([m.fold.cold for m in members]))


def cold_sides(colds) -> np.ndarray:
  """bool [R, 2] from each replica's Fold.cold, the pair columns whose test nodes are new."""
  return np.array([[0 in c, 1 in c] for c in colds], bool).reshape(-1, 2)


def validation_split(reps: GraphReplicas, fraction: float
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
  """Each replica's inner validation, drawn from the stream (seed, 'graph', fold): flat indices
  [R, n] of its positives and negatives, and bool [R, n_mirna, n_gene], the pairs it keeps out of
  its training (its input graphs, targets and sampled negatives).

  A replica tested on pairs holds out n of its training positives and n allowed pairs. A replica
  tested on new nodes holds out whole nodes of that side, as the test fold does (validation pairs
  are those nodes' pairs; no pair that touches them is trained on), so the epoch it keeps is the
  best on new nodes, not on new pairs of known ones.
  """
  n = int(round(fraction * reps.train.sum(axis=(1, 2)).min()))  # one static size for all
  pos, neg, out = [], [], []
  for train, allowed, seed, fold, cold in zip(reps.train, reps.allowed, reps.seeds, reps.folds,
                                              reps.cold):
    draw = rng.generator(seed, GRAPH_STAGE, fold)
    region, excluded = (folds_lib.held_out_nodes(train, cold, n, draw) if cold.any()
                        else (np.ones_like(train), np.zeros_like(train)))
    p = np.sort(draw.choice(np.flatnonzero(train & region), n, replace=False))
    q = np.sort(draw.choice(np.flatnonzero(allowed & region), n, replace=False))
    if not cold.any():
      excluded.flat[np.r_[p, q]] = True
    pos.append(p)
    neg.append(q)
    out.append(excluded)
  return np.stack(pos).astype(np.int32), np.stack(neg).astype(np.int32), np.stack(out)


def _auc(pos_scores, neg_scores):
  wins = (pos_scores[:, None] > neg_scores[None, :]).mean()
  return wins + 0.5 * (pos_scores[:, None] == neg_scores[None, :]).mean()


def make_epoch_fn(model: GraphModel, graph: ml_collections.ConfigDict,
                  tx: optax.GradientTransformation):
  """One epoch of every replica: graph.steps_per_epoch steps on masks of its training graph (each
  edge kept with probability graph.keep), graph.steps_per_mask steps per mask."""
  masks = graph.steps_per_epoch // graph.steps_per_mask

  def epoch_fn(state, data):
    shape = data["train"].shape
    x, allowed = data["train"] * (1 - data["excluded"]), data["allowed"] * (1 - data["excluded"])
    content = data["content"]

    def loss_fn(params, feats, adjacency, targets):
      s = model.net.apply({"params": params}, feats, adjacency, content)
      pos = (jax.nn.softplus(-s) * targets).sum() / jnp.maximum(targets.sum(), 1.0)
      neg = (jax.nn.softplus(s) * allowed).sum() / jnp.maximum(allowed.sum(), 1.0)
      return pos + neg

    def one_mask(carry, key):
      k_edge, k_m, k_g = jax.random.split(key, 3)
      keep = jax.random.bernoulli(k_edge, graph.keep, shape)
      keep &= jax.random.bernoulli(k_m, 1.0 - data["node_dropout"][0], (shape[0], 1))
      keep &= jax.random.bernoulli(k_g, 1.0 - data["node_dropout"][1], (1, shape[1]))
      x_in = x * keep
      feats = jax.lax.stop_gradient(model.features(x_in, content))
      adjacency = features.normalized_adjacency(x_in)

      def step(carry, _):
        params, opt_state = carry
        loss, grads = jax.value_and_grad(loss_fn)(params, feats, adjacency, x - x_in)
        updates, opt_state = tx.update(grads, opt_state, params)
        updates = jax.tree.map(lambda u: u * data["learning_rate"], updates)
        return (optax.apply_updates(params, updates), opt_state), loss
      return jax.lax.scan(step, carry, None, length=graph.steps_per_mask)

    keys = jax.random.split(jax.random.fold_in(state["key"], state["epoch"]), masks)
    (params, opt_state), losses = jax.lax.scan(one_mask, (state["params"], state["opt_state"]),
                                               keys)
    s = model.log_odds(params, x, content).reshape(-1)
    val_auc = _auc(s[data["val_pos"]], s[data["val_neg"]])
    better = val_auc > state["best_val_auc"]
    best = jax.tree.map(lambda new, old: jnp.where(better, new, old), params, state["best_params"])
    new_state = {**state, "params": params, "opt_state": opt_state, "epoch": state["epoch"] + 1,
                 "best_params": best,
                 "best_val_auc": jnp.maximum(val_auc, state["best_val_auc"])}
    return new_state, {"train_loss": losses.mean(), "val_auc": val_auc}

  return epoch_fn


def init_state(model: GraphModel, key, content, tx: optax.GradientTransformation) -> dict:
  k_init, k_steps = jax.random.split(key)
  params = model.init(k_init, content)
  state = loop.init_state(params, {}, tx, k_steps)
  return {**state, "best_params": params, "best_val_auc": jnp.asarray(-1.0)}


def train_graph_replicas(model: GraphModel, graph: ml_collections.ConfigDict, epochs: int,
                         train: ml_collections.ConfigDict, content, reps: GraphReplicas,
                         store: loop.Store) -> dict:
  """Trains every replica for `epochs` on the nodes' content (mirjax/data/content.NodeContent),
  by section `graph`, on the devices of section `train`; returns the best-epoch parameters,
  stacked [R, ...]."""
  tx = optax.adamw(1.0, weight_decay=graph.weight_decay)  # each replica's rate scales the update
  content = jax.tree.map(jnp.asarray, content)
  keys = jax.vmap(lambda s, f: rng.key(s, GRAPH_STAGE, f))(jnp.asarray(reps.seeds),
                                                           jnp.asarray(reps.folds))
  state = jax.vmap(lambda k: init_state(model, k, content, tx))(keys)
  val_pos, val_neg, excluded = validation_split(reps, graph.val_fraction)
  data = loop.ReplicaData(
      own={"train": reps.train.astype(np.float32), "allowed": reps.allowed.astype(np.float32),
           "val_pos": val_pos, "val_neg": val_neg, "excluded": excluded.astype(np.float32),
           "node_dropout": (graph.node_dropout * reps.cold).astype(np.float32),
           "learning_rate": reps.learning_rate.astype(np.float32)},
      shared={"content": content})
  stage = store.stage(GRAPH_STAGE, epochs, batch_size=1, n_fit=graph.steps_per_epoch,
                      unit="steps")
  state = loop.train(stage, make_epoch_fn(model, graph, tx), state, data,
                     placement=Placement.from_config(train, len(reps)), metrics_log=store.log)
  return state["best_params"]
