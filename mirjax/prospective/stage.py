"""Training the prospective model: it learns what a future validation looks like from earlier
cuts inside its own split's training records, never from the test period.

For a split with present `now`, each inner window k = 1..windows cuts at T' = now - k * window: the
features are those of the training records before T', the positives the pairs those same training
records first report (functional) in [T', now) among nodes known before T' (class strong, or CLIP /
other high-throughput), and the negatives `negatives_ratio` times as many pairs of known nodes that
no training record holds (a share `matched_negatives` of them pairs of a positive's gene with another
miRNA, so that the model also learns to rank a gene's candidates). The windows' rows are stacked.
A split whose test is not a later time takes windows of its test's shape instead (`shaped_windows`):
a cold split (nodes with no record at all) folds of its training nodes, a papers split (pairs reported
only by unseen papers) folds of its training papers, each held out with all its records at the split's
present, its positives the functional pairs that no remaining record holds. So the model sees
record-less nodes in training as its cold test does (time-cut windows never had one: new miRNAs'
inputs lay up to 20 SD from every window positive).

Every split x seed is one replica of one compiled program (mirjax/train/loop.py), with its own input
statistics, rate and key. The seeds of a split share its rows, stored once: each replica walks its
own rows, padded to the largest count with a zero-weight row. The seeds are an ensemble (the model's
score is their mean; docs/reports/prospective.md measures what it adds).
"""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import optax

from mirjax import rng
from mirjax.data import keysets, mirtarbase, protocols
from mirjax.data.universe import Universe
from mirjax.errors import ConfigError
from mirjax.placement import Placement
from mirjax.prospective import features, model
from mirjax.train import loop

STAGE = "prospective"  # checkpoint directory, metrics.jsonl rows and random stream


# The precision the model reads its inputs in, for training rows and scored rows alike. The training
# rows are the run's largest data, held by the host and once more per CPU device (peak RSS 9.0 of the
# issue's 10 GB in float32); float16 halves them. Its 11-bit mantissa rounds an input by at most
# 0.05 % of its value, far below the spread the model standardizes by, and no input comes near its
# range (65,504: the largest are site densities per 1,000 nt, at most 1000 / 7); the inner splits
# scored alike in both precisions (docs/reports/prospective.md).
INPUT_DTYPE = np.float16


def as_inputs(x: np.ndarray) -> np.ndarray:
  """Feature rows in the model's input precision (INPUT_DTYPE), row-major."""
  return x.astype(INPUT_DTYPE, order="C", copy=False)


def standardize(x: jax.Array, mean: jax.Array, std: jax.Array) -> jax.Array:
  """float32 rows (x - mean) / std of rows x read in the input precision: what the network reads, in
  training, evaluation and predict alike. Rows to score arrive in float32 and are rounded here, on
  the device, exactly as numpy rounds the training rows (as_inputs) but faster."""
  return (x.astype(INPUT_DTYPE).astype(jnp.float32) - mean) / std


# Rows per call when scoring: one compiled shape for any number of rows, and activations small
# enough to stay in cache (calls of 1 M rows took twice as long, with identical scores:
# docs/reports/prospective.md).
BLOCK_ROWS = 1 << 14


def row_blocks(x: np.ndarray, rows: int = BLOCK_ROWS):
  """(start, n, block): feature rows x [n, F] (of either memory order) as row-major device arrays of
  exactly `rows` rows each, the last padded with zero rows (its scores beyond `n` are dropped)."""
  for start in range(0, len(x), rows):
    block = np.ascontiguousarray(x[start:start + rows])
    n = len(block)
    if n < rows:
      block = np.concatenate([block, np.zeros((rows - n,) + x.shape[1:], x.dtype)])
    yield start, n, jnp.asarray(block)


@dataclasses.dataclass(frozen=True)
class Examples:
  """One split's training rows (shared by its seeds' replicas)."""
  x: np.ndarray  # INPUT_DTYPE [n, F]
  y: np.ndarray  # int32 [n]: model.CLASSES index
  windows: list  # per window: (label, positives strong / high-throughput, negatives)


COLD = {"cold_mirna": 0, "cold_gene": 1}  # the cold protocols and the side of their new nodes


def inner_windows(u: Universe, split: protocols.Split, section, draw: np.random.Generator):
  """Each inner window of a split as (label, records read, records whose new functional pairs are
  its positives, its present, the new nodes of a cold window or None), shaped like the split's test.

  With `section.shaped_windows`, a split of a cold protocol (new nodes, at the present) gets
  `section.windows` folds of its training nodes on that side, each held out with all its records,
  and a split of `papers` (pairs reported only by unseen papers, at the present) gets folds of its
  training papers, each held out with all its records. Every other split tests later pairs of known
  nodes (temporal; random pairs and predict's fit on everything, too): its windows cut its training
  records at now - k * window.
  """
  r = u.records
  if section.shaped_windows and (split.protocol in COLD or split.protocol == "papers"):
    if split.protocol in COLD:
      side = COLD[split.protocol]
      name, unit, n = "nodes", (r.mirna, r.gene)[side], u.shape[side]
    else:
      papers, unit = np.unique(r.pmid, return_inverse=True)
      name, n = "papers", len(papers)
    fold = protocols.folds(keysets.unique(unit[split.train]), n, section.windows, draw)
    for k in range(section.windows):
      held = fold[unit] == k
      yield (f"{name} {k + 1}", split.train & ~held, split.train & held, split.now,
             fold == k if name == "nodes" else None)
  else:
    for k in range(1, section.windows + 1):
      cut = split.now - k * section.window
      yield (f"cut {cut / 1e6:.0f}M", split.train & (r.pmid < cut), split.train & (r.pmid >= cut),
             cut, None)


def window_examples(u: Universe, split: protocols.Split, stats: features.NodeStats,
                    section, draw: np.random.Generator) -> Examples:
  """The stacked inner-window rows of one split (section `prospective`: windows, window,
  shaped_windows, negatives_ratio, max_positives, recent); `stats` of the split's training records
  (every window reads the split's, so windows and test share one scale)."""
  r = u.records
  trained_on = keysets.unique(r.pair[split.train])
  xs, ys, report = [], [], []
  for label, read, later, now, new_nodes in inner_windows(u, split, section, draw):
    feats = features.Features(u, read, now, stats, section.recent)
    new = mirtarbase.pairs_of(r.select(later & r.functional))
    keep = ~keysets.is_member(new.key, feats.recorded)
    m, g = np.divmod(new.key, u.shape[1])
    mirnas, genes = feats.known_mirna, feats.known_gene
    if new_nodes is not None:  # a cold window's positives pair a held-out node with a known one
      mirnas, genes = (new_nodes, genes) if COLD[split.protocol] == 0 else (mirnas, new_nodes)
    if section.rows_in_universe:  # the universe's pairs only (the grid: 383 x 318), as its tests
      mirnas, genes = mirnas & u.mirna_in, genes & u.gene_in
    keep &= mirnas[m] & genes[g]
    keys, strong = new.key[keep], new.evidence[keep] == mirtarbase.STRONG
    weak = np.flatnonzero(~strong)
    if len(weak) > section.max_positives:  # every strong positive stays
      drop = keysets.setdiff(weak, draw.choice(weak, section.max_positives, replace=False))
      keys, strong = np.delete(keys, drop), np.delete(strong, drop)
    n_neg = int(round(section.negatives_ratio * len(keys)))
    n_matched = int(round(section.matched_negatives * n_neg))
    negatives = keysets.union(
        protocols.never_recorded(u.shape, mirnas, genes, n_neg - n_matched, trained_on, draw),
        _gene_matched(keys, n_matched, mirnas, u.shape, trained_on, draw))
    pairs = np.concatenate([keys, negatives])
    xs.append(feats.gather(*np.divmod(pairs, u.shape[1])))
    ys.append(np.concatenate([np.where(strong, 1, 2), np.zeros(len(negatives), int)]))
    report.append({"window": label, "strong": int(strong.sum()), "high_throughput":
                   int((~strong).sum()), "negatives": int(len(negatives))})
  return Examples(as_inputs(np.concatenate(xs)), np.concatenate(ys).astype(np.int32), report)


def _gene_matched(positives: np.ndarray, n: int, mirnas: np.ndarray, shape, recorded: np.ndarray,
                  draw: np.random.Generator) -> np.ndarray:
  """n pairs of a positive's gene with a known miRNA that no training record holds: negatives
  that differ from a positive only in the miRNA, so the model learns to rank within a gene."""
  rows = np.flatnonzero(mirnas)
  out = np.zeros(0, np.int64)
  for _ in range(50):  # as protocols.never_recorded: a gene with every known miRNA recorded ends it
    if len(out) >= n or not len(positives):
      break
    genes = positives[draw.integers(0, len(positives), 2 * (n - len(out)))] % shape[1]
    keys = rows[draw.integers(0, len(rows), len(genes))] * shape[1] + genes
    out = keysets.union(out, keys[~keysets.is_member(keys, recorded)])
  if len(out) < n:
    raise ConfigError(f"only {len(out)} of {n} gene-matched negatives found in 50 rounds of draws "
                      "(most known miRNAs of the window's positive genes are recorded); lower "
                      "prospective.matched_negatives.")
  return draw.permutation(out)[:n]


def _loss_fn(net, class_weights):
  def loss_fn(params, model_state, data, idx, train):
    del train
    x = standardize(data["x"][idx], data["mean"], data["std"])
    y = data["y"][idx]
    w = data["w"][idx] * class_weights[y]
    ce = optax.softmax_cross_entropy_with_integer_labels(net.apply({"params": params}, x), y)
    return (ce * w).sum() / jnp.maximum(w.sum(), 1e-6), model_state
  return loss_fn


def ensemble(net, strong_weight, params, z):
  """{'all', 'strong'}: the log-odds of standardized rows z, averaged over the members whose
  parameters `params` stacks [S, ...] (the seeds of one split, which share its rows and so its input
  statistics): the model's score in evaluation and in predict alike."""
  out = jax.vmap(lambda p: model.log_odds(net.apply({"params": p}, z), strong_weight))(params)
  return jax.tree.map(lambda a: a.mean(0), out)


@dataclasses.dataclass(frozen=True)
class Trained:
  """Every replica's parameters and input statistics; `scores` of any feature rows."""
  net: model.MLPClassifier
  params: dict  # [R, ...]
  mean: np.ndarray  # [R, F]
  std: np.ndarray
  strong_weight: float  # the strong class's loss weight, divided out of the scores
  split: np.ndarray  # int [R]: each replica's split (whose rows and statistics it has)

  def members(self, replicas) -> tuple[dict, np.ndarray, np.ndarray]:
    """The stacked parameters of `replicas` (one split's seeds) and their shared statistics."""
    replicas = np.asarray(replicas, int)
    if len(np.unique(self.split[replicas])) != 1:
      raise ValueError(f"replicas {replicas.tolist()} are not the seeds of one split: an ensemble "
                       "averages the seeds of one split, which share its input statistics.")
    return (jax.tree.map(lambda a: a[replicas], self.params), self.mean[replicas[0]],
            self.std[replicas[0]])

  def scores(self, replicas, x: np.ndarray, rows: int = BLOCK_ROWS) -> dict:
    """{'all', 'strong'}: float32 [n] log-odds of the ensemble of `replicas` for feature rows x."""
    params, mean, std = self.members(replicas)
    out = {s: np.empty(len(x), np.float32) for s in model.SCORES}
    for start, n, block in row_blocks(x, rows):
      got = _scores(self.net, self.strong_weight, params, mean, std, block)
      for s in model.SCORES:
        out[s][start:start + n] = np.asarray(got[s])[:n]
    return out


_scores = jax.jit(lambda net, strong_weight, params, mean, std, x: ensemble(
    net, strong_weight, params, standardize(x, mean, std)), static_argnums=(0, 1))


def train(examples: list[Examples], rows_of: np.ndarray, seeds: np.ndarray, section,
          train_section, store: loop.Store) -> Trained:
  """Trains replica r on the rows examples[rows_of[r]] with seed seeds[r] for section.epochs, all
  as one program; resumes from (or restores) the checkpoints in `store`. The rows are stored once,
  end to end, and each replica's epoch walks its own (padded to the largest count with a zero-weight
  row), so a second seed costs its parameters, not its data. Consumes `examples`: each entry is
  released once it is copied (the rows are the run's largest data)."""
  r, n = len(seeds), max(len(e.y) for e in examples)
  if n < section.batch_size:
    raise ConfigError(f"config.prospective.batch_size={section.batch_size} is larger than the "
                      f"{n} training rows of the largest replica; lower it.")
  f = examples[0].x.shape[1]
  starts = np.cumsum([0] + [len(e.y) for e in examples])
  if starts[-1] >= np.iinfo(np.int32).max:
    raise ConfigError(f"{starts[-1]:,} training rows overflow the int32 row index; lower "
                      "config.prospective.max_positives or negatives_ratio.")
  pad = starts[-1]  # one last row of weight 0: what a replica with fewer rows walks through
  x, y, w = (np.zeros((pad + 1, f), INPUT_DTYPE), np.zeros(pad + 1, np.int32),
             np.zeros(pad + 1, np.float32))
  means, stds = [], []
  for i, start in enumerate(starts[:-1]):
    e, examples[i] = examples[i], None
    x[start:start + len(e.y)], y[start:start + len(e.y)], w[start:start + len(e.y)] = e.x, e.y, 1.0
    sd = e.x.std(0, dtype=np.float64).astype(np.float32)
    means.append(e.x.mean(0, dtype=np.float64).astype(np.float32))
    stds.append(np.where(sd > 1e-6, sd, 1.0))  # a column constant in training stays of unit scale
    del e
  mean, std = np.stack(means)[rows_of], np.stack(stds)[rows_of]
  fit_idx = np.full((r, n), pad, np.int32)
  for i, j in enumerate(rows_of):
    fit_idx[i, :starts[j + 1] - starts[j]] = np.arange(starts[j], starts[j + 1])
  net = model.pair_mlp(section.hidden)
  steps = section.epochs * (n // section.batch_size)
  tx = optax.chain(optax.scale_by_adam(), optax.add_decayed_weights(section.weight_decay),
                   optax.scale_by_schedule(optax.cosine_decay_schedule(1.0, steps)),
                   optax.scale(-1.0))  # AdamW with a cosine decay; each replica's rate scales it

  def init(key):
    k_init, k_shuffle = jax.random.split(key)
    params = net.init(k_init, jnp.zeros((1, f)))["params"]
    return loop.init_state(params, {}, tx, k_shuffle)
  # A member's key names its seed and split, not its replica index: seed s of split j is the same
  # network whichever other seeds train beside it (one seed: the index is the split's).
  keys = jax.vmap(lambda s, j: rng.key(s, STAGE, j))(jnp.asarray(seeds), jnp.asarray(rows_of))
  state = jax.vmap(init)(keys)
  data = loop.ReplicaData(
      own={"mean": mean, "std": std, "fit_idx": fit_idx, "val_idx": np.zeros((r, 0), np.int32),
           "learning_rate": np.full(r, section.learning_rate, np.float32)},
      shared={"x": x, "y": y, "w": w})
  stage = store.stage(STAGE, section.epochs, section.batch_size, n)
  class_weights = jnp.asarray([1.0, section.strong_weight, 1.0])
  state = loop.train(stage, loop.make_epoch_fn(_loss_fn(net, class_weights), tx,
                                               section.batch_size, n),
                     state, data, placement=Placement.from_config(train_section, r),
                     metrics_log=store.log)
  return Trained(net, jax.tree.map(np.asarray, state["params"]), mean, std, section.strong_weight,
                 np.asarray(rows_of))
