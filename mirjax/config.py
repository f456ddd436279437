"""The config schema: every field with its default, and validation with messages that name the field.

Defaults are the paper's settings; `configs/*.py` start from `default_config()` and change only what
differs. Configs are locked after loading, so a misspelt `--config.x.y=` override is an error.
"""

import copy
import difflib
import os

import ml_collections
from ml_collections import config_dict

from mirjax import family
from mirjax.data import folds as folds_lib
from mirjax.data import negatives, universe
from mirjax.data import protocols as protocols_lib
from mirjax.errors import ConfigError

DATA_SOURCES = ("sglstm_core", "synthetic")
CLASSIFIERS = tuple(family.FAMILIES)
LSTM_BACKENDS = ("xla", "onednn")


def default_config() -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.seed = 0  # training randomness (init, shuffling); data randomness uses data.seed

  c.data = ml_collections.ConfigDict()
  c.data.source = "sglstm_core"  # or 'synthetic' (planted structure, no files needed)
  c.data.dir = ""  # searched first; then $MIRJAX_DATA_DIR, then the user cache, then fetch
  c.data.fetch = True  # fetch missing inputs from their pinned public origins
  c.data.verify_checksums = True
  c.data.dim = 128  # embedding width of each table
  # Also read the sequence embeddings (the S of SG): the graph model's content features and the
  # cold-start baselines then use both (mirjax/data/content.py); the paper pipeline never does.
  c.data.sequence_embeddings = False
  # Read miRTarBase's functional interactions with one end outside the grid too (tables.SideGraph):
  # the graph model's EASE features and the `ease_side_graph` baseline use them.
  c.data.side_graph = False
  c.data.metric = "euclidean"  # miRNA–gene dissimilarity: 'euclidean' or 'cosine' (1 - cos sim)
  c.data.folds = 5
  c.data.seed = 0  # negative sampling and fold assignment
  # How pairs are split into folds: 'pairs' (stratified, the paper's); 'mirna' or 'gene' (cold start:
  # a test fold's miRNAs/genes never appear in its training pairs); 'both' (both partners new).
  c.data.split = "pairs"

  c.data.negatives = ml_collections.ConfigDict()
  c.data.negatives.strategy = "distance"  # paper's label adjustment; or 'random' (SG-LSTM style)
  # None: the mean dissimilarity of the positives (≈3.237 Euclidean here). The paper tunes it to 3.15.
  c.data.negatives.threshold = config_dict.placeholder(float)
  c.data.negatives.band = 0.0  # drop candidates with |d - threshold| < band (paper's removed margin)
  c.data.negatives.ratio = 1.0  # negatives per positive

  c.data.synthetic = ml_collections.ConfigDict()
  c.data.synthetic.n_mirna = 60
  c.data.synthetic.n_gene = 50
  c.data.synthetic.n_clusters = 6
  c.data.synthetic.p_within = 0.35
  c.data.synthetic.p_across = 0.01
  c.data.synthetic.seed = 0

  c.ae = ml_collections.ConfigDict()
  c.ae.enabled = True  # False: the classifier reads the 256 pair features only (ablation)
  c.ae.hidden = (128, 64)  # encoder widths before the latent; the decoder mirrors them
  c.ae.latent = 16
  c.ae.leaky_slope = 0.01
  c.ae.epochs = 200
  c.ae.batch_size = 64
  c.ae.learning_rate = 1e-3
  c.ae.val_fraction = 0.2  # the paper's 8:2 split, of each fold's training pairs

  # Stage 2, the classifier: which model family scores a pair, and how it is trained. 'lstm' is
  # the paper's; 'mlp' and 'logistic' are baselines trained the same way on the same inputs;
  # 'distance' trains nothing and scores a pair by -dissimilarity; 'graph' learns from the
  # known-interaction graph (no autoencoder, no labelled negatives; full-grid steps, so batch_size
  # and val_fraction do not apply; see the `graph` section). Each family's architecture has its
  # own section below.
  c.classifier = ml_collections.ConfigDict()
  c.classifier.model = "lstm"
  c.classifier.epochs = 200
  c.classifier.batch_size = 128
  c.classifier.learning_rate = 1e-3
  # Held out of each fold's training pairs for the validation curve only (the last epoch is used;
  # nothing is selected on it). 0 trains on every training pair, as the paper does.
  c.classifier.val_fraction = 0.0
  c.classifier.standardize = False  # z-score inputs with statistics of the training fold only

  c.lstm = ml_collections.ConfigDict()
  c.lstm.hidden = 128  # as SG-LSTM
  c.lstm.layers = 3
  c.lstm.step_features = 16  # 272 inputs read as 17 steps x 16
  # Speed knobs (same model): the hand-written backward pass of the recurrence, and the matmul
  # input type ('bfloat16' uses bf16 GEMMs with float32 accumulation; see BUILD.md).
  c.lstm.fused_backward = True
  c.lstm.matmul_dtype = "float32"
  # 'xla': the LSTM as XLA ops (any device). 'onednn' (CPU only): each layer as one call of oneDNN's
  # LSTM primitive, compiled with g++ on first use (mirjax/kernels/); in float32 the same function
  # up to reassociation, with bfloat16 its hidden states are rounded too; the fastest CPU setup
  # (BUILD.md, "Speed knobs").
  c.lstm.backend = "xla"

  c.mlp = ml_collections.ConfigDict()
  c.mlp.hidden = (256, 128)  # widths of the 'mlp' baseline ('logistic' has none)

  # The graph model (mirjax/graph/stage.py, graph/model.py's GraphScorer): an MLP on graph features
  # (mirjax/graph/features.py) of each step's masked training graph; optional node embeddings.
  # classifier.epochs x steps_per_epoch full-grid steps; the best epoch on an inner validation
  # split is kept. Defaults: the design that beat EASE on inner splits of the training folds.
  c.graph = ml_collections.ConfigDict()
  c.graph.ease_lambdas = (25.0, 50.0, 200.0)  # EASE features; the first is the starting point
  c.graph.cf = True  # co-target cosine CF features
  c.graph.cross_lambda = 50.0  # the two-sided EASE product B_m^T X B_g (0: off)
  c.graph.rp3_beta = 0.5  # RP3beta walk feature (0: off)
  # What a node without edges (cold start) still has (mirjax/data/content.py): content-similarity
  # CF features; its degree as a ridge regression on its content predicts it (the ridge lambda,
  # 0: off); its miRBase family's rows.
  c.graph.content = False
  c.graph.content_k = 20  # neighbours of the content-kNN feature
  c.graph.degree_prior = 0.0
  c.graph.families = False
  c.graph.cold_head = False  # a second head scores the pairs of nodes without edges
  c.graph.zscore = True  # each feature also standardized within its row and its column
  c.graph.hidden = 32  # MLP width on the features (0: linear)
  c.graph.dim = 0  # node embedding width (0: none; why the default has none: mirjax/graph/stage.py)
  c.graph.layers = 2  # LightGCN propagations of the embeddings through the input graph
  c.graph.ids = True  # learned per-node ID embeddings (with dim > 0)
  c.graph.project = True  # a linear projection of the SG embeddings (with dim > 0)
  c.graph.keep = 0.9  # each mask keeps this share of the training edges in the input graph
  # Cold-start folds only: share of the new side's nodes hidden whole from each input graph.
  c.graph.node_dropout = 0.0
  c.graph.steps_per_epoch = 20
  c.graph.steps_per_mask = 4  # optimizer steps on one mask (its features computed once)
  c.graph.val_fraction = 0.1  # inner validation split of the training positives (model selection)
  c.graph.weight_decay = 0.0

  c.train = ml_collections.ConfigDict()
  # Where the replicas (folds) run; see mirjax/placement.py. None of these changes the numbers
  # beyond float reassociation.
  c.train.devices = 0  # shard the replicas over this many devices (0: all)
  # Devices sharing each classifier minibatch (data parallel, one gradient pmean per step).
  # 0: auto, only for the replicas that cannot fill the devices evenly (5 folds on 2 cores: 4 train
  # whole minibatches, the fifth is split; placement.Hybrid); N: every replica split over N devices;
  # 1: never. The autoencoder (BatchNorm) and scoring never split their minibatches.
  c.train.batch_shards = 0
  # 'rule': the layout above. 'probe': where a stage could also run otherwise (batch_shards 0 and the
  # rule splits minibatches), time one epoch of each candidate layout at the stage's start (the
  # rule's, all minibatches whole, and every minibatch split when the rule splits only some) and
  # keep the fastest (which one wins depends on the host: mirjax/placement.py). The choice is saved
  # with the stage's checkpoints and reused on resume; two fresh runs may choose differently when
  # the timings are close, and the layouts differ by float reassociation, hence opt-in.
  c.train.placement = "rule"
  # Per device: 'map' (a loop) or 'vmap'; auto: map on a CPU device holding several replicas.
  c.train.replica_loop = "auto"
  c.train.cpu_devices = 0  # split the host CPU into this many single-threaded devices (0: one per core)
  c.train.checkpoint_every = 10  # epochs
  c.train.keep_checkpoints = 3

  # A sweep (see mirjax/sweep.py): when `variants` or `grid` is set, `launch.py` trains every point
  # x seed x fold as replicas and writes sweep.csv and REPORT.md instead of a single run's outputs.
  c.sweep = ml_collections.ConfigDict()
  c.sweep.variants = ()  # 'name: field=value; field=value', e.g. 'no_ae: ae.enabled=False'
  c.sweep.grid = ()  # 'field=v1,v2,...', one per axis; the points are their product
  c.sweep.seeds = ()  # training seeds of every point (empty: just config.seed)

  # The prospective protocols (mirjax/data/protocols.py) on a universe of pairs: with `universe` set
  # ('whole': every human miRNA and gene of miRTarBase 7.0; 'grid': the paper's 383 x 318), a run
  # trains and evaluates the prospective model (section `prospective`) beside the record baselines
  # on every split of `protocols`, instead of the grid cross-validation above.
  c.protocols = ml_collections.ConfigDict()
  c.protocols.universe = ""  # '' (the paper's grid CV), 'whole' or 'grid'
  c.protocols.protocols = ("temporal", "papers", "cold_mirna", "cold_gene", "random")
  # temporal: PMID cuts, ascending. The model's design was chosen on the cut 21M with window
  # [21M, 23M), before every reported cut (docs/reports/prospective.md).
  c.protocols.cuts = (23_000_000, 24_000_000, 25_000_000)
  c.protocols.end = 30_000_000  # the end of the last cut's test window (past every PMID of 7.0)
  c.protocols.folds = 5  # papers, random, cold: folds of papers, pairs, nodes
  c.protocols.negatives_ratio = 5.0  # never-recorded test negatives per test positive
  c.protocols.seed = 0  # folds, test negatives and the model's training rows
  c.protocols.ranking_genes = 2000  # hit@20: at most this many test genes ranked per split
  c.protocols.bootstrap = 50  # paired gene-cluster bootstrap resamples of every SE
  # Splits evaluated at once, each in its own thread: the evaluation is mostly single-threaded NumPy
  # (measured in docs/reports/prospective.md, Timings).
  c.protocols.workers = 2

  # The prospective model (mirjax/prospective/): an MLP on pair features trained on inner windows
  # of each split's own training records (never its test period).
  c.prospective = ml_collections.ConfigDict()
  c.prospective.windows = 4  # inner cuts at now - k * window, k = 1..windows (cold, papers: folds)
  c.prospective.window = 1_000_000  # PMIDs
  # Cold and papers splits' windows are folds of their training nodes / papers held out with all
  # their records, shaped like their tests, rather than time cuts (mirjax/prospective/stage.py).
  c.prospective.shaped_windows = True
  c.prospective.recent = 2_000_000  # PMIDs: 'recent' degrees and the decay scale
  c.prospective.max_positives = 50_000  # per window, CLIP/high-throughput positives kept (strong: all)
  c.prospective.negatives_ratio = 2.0  # per window, unrecorded pairs of known nodes per positive
  c.prospective.matched_negatives = 0.0  # of those, the share that pair a positive's gene with another miRNA
  # Training rows from the universe's own pairs only (on the grid: 383 x 318) rather than from every
  # pair of the table; the same on the whole table.
  c.prospective.rows_in_universe = False
  c.prospective.hidden = (64, 64)
  c.prospective.epochs = 8
  c.prospective.batch_size = 2048
  c.prospective.learning_rate = 2e-3  # AdamW, cosine decay
  c.prospective.weight_decay = 1e-5
  c.prospective.strong_weight = 20.0  # loss weight of the strong class (none and others: 1)
  # Training seeds, each a replica sharing its split's rows; the score is their mean (on the inner
  # splits two beat the mean of the same two alone, by about the seed noise: docs/reports/prospective.md).
  c.prospective.seeds = (0, 1)

  c.predict = ml_collections.ConfigDict()
  c.predict.chunk = 4096  # grid pairs scored per compiled call
  c.predict.top = 20  # a universe's predict: each miRNA's and gene's top candidates listed
  # Also fit one model on all labelled pairs (stages final_ae, final_classifier) and add its score as the
  # column `final_score`. Ranks stay on the fold ensemble, which has a CV estimate behind it.
  c.predict.final_model = False
  return c


def override(config: ml_collections.ConfigDict, settings: dict,
             where: str = "override") -> ml_collections.ConfigDict:
  """A copy of `config` with dotted fields set, as `--config.a.b=v` would set them.

  Raises ConfigError naming `where` and the field when it does not exist or the type is wrong.
  """
  c = copy.deepcopy(config)
  c.unlock()
  for field, value in settings.items():
    *path, leaf = field.split(".")
    target = c
    try:
      for p in path:
        target = target[p]
      if leaf not in target:
        raise KeyError(leaf)
    except (KeyError, TypeError, AttributeError):
      raise ConfigError(f"{where}: config has no field {field!r} (fields are in mirjax/config.py)."
                        ) from None
    try:
      target[leaf] = value
    except TypeError as e:
      raise ConfigError(f"{where}: {field}={value!r} has the wrong type ({e}).") from None
  return c


def quick_budget(config: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
  """configs/quick.py's training budget (minutes on 2 CPU cores), also used by the sweep configs:
  AE 20 epochs, classifier (LSTM 3x64) 10 epochs, a 10 % validation curve, checkpoints every 5."""
  config.ae.epochs = 20
  config.classifier.epochs = 10
  config.lstm.hidden = 64
  config.classifier.val_fraction = 0.1
  config.train.checkpoint_every = 5
  return config


# Fields (or, ending in '.', groups) that change how a run executes or what is done after training,
# not what training computes: a workdir's checkpoints may be reused with other values of these.
EXECUTION_FIELDS = ("data.dir", "data.fetch", "data.verify_checksums", "train.",
                    "lstm.fused_backward", "predict.", "protocols.ranking_genes",
                    "protocols.bootstrap", "protocols.workers")


def training_differences(recorded: dict, config: ml_collections.ConfigDict) -> list[str]:
  """'field: old -> new' for each field that differs and would change the trained models.

  A field missing from `recorded` (added to mirjax after that run) counts as its default, which by
  rule reproduces the earlier behaviour.
  """
  old = {**flatten(default_config().to_dict()), **flatten(recorded)}
  new = flatten(config.to_dict())

  def matters(key):
    return not any(key == f or (f.endswith(".") and key.startswith(f)) for f in EXECUTION_FIELDS)
  return [f"{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in sorted(set(old) | set(new))
          if matters(k) and old.get(k) != new.get(k)]


def flatten(config: ml_collections.ConfigDict | dict, prefix: str = "") -> dict:
  """{'a.b.c': value} for every leaf."""
  out = {}
  for key, value in dict(config).items():
    if isinstance(value, (ml_collections.ConfigDict, dict)):
      out.update(flatten(value, f"{prefix}{key}."))
    else:
      out[f"{prefix}{key}"] = list(value) if isinstance(value, tuple) else value
  return out


def _require(ok: bool, field: str, value, why: str) -> None:
  if not ok:
    raise ConfigError(f"config.{field}={value!r}: {why}")


def check_fields(config: ml_collections.ConfigDict) -> None:
  """Raises ConfigError for a field that default_config() lacks (a misspelling in a config file:
  `--config.x=` overrides are checked by ml_collections, but a file may set any name) or lacks
  itself: it would be recorded and silently ignored."""
  known, got = flatten(default_config().to_dict()), flatten(config.to_dict())
  for field in sorted(set(got) - set(known)):
    close = difflib.get_close_matches(field, known, n=1)
    raise ConfigError(f"config.{field} is no field of mirjax's config"
                      + (f"; did you mean {close[0]}?" if close else ".")
                      + " Every field and its default is in mirjax/config.py.")
  missing = sorted(set(known) - set(got))
  if missing:
    raise ConfigError(f"the config lacks config.{missing[0]}: build config files on "
                      "mirjax.config.default_config(), as configs/*.py do.")


def validate(config: ml_collections.ConfigDict) -> None:
  """Raises ConfigError for the first unknown, out-of-range or inconsistent field."""
  from mirjax import placement  # here: loading a config file must not import JAX (fast queries)
  check_fields(config)
  d = config.data
  _require(d.source in DATA_SOURCES, "data.source", d.source, f"choose one of {DATA_SOURCES}.")
  _require(d.metric in negatives.METRICS, "data.metric", d.metric,
           f"choose one of {negatives.METRICS}.")
  _require(d.negatives.strategy in negatives.STRATEGIES, "data.negatives.strategy",
           d.negatives.strategy, f"choose one of {negatives.STRATEGIES}.")
  _require(d.folds >= 2, "data.folds", d.folds, "cross-validation needs at least 2 folds.")
  _require(d.dim >= 1, "data.dim", d.dim, "must be positive.")
  _require(not d.dir or os.path.isdir(os.path.expanduser(d.dir)), "data.dir", d.dir,
           "is not a directory; name a directory holding the input files, or leave it empty to "
           "use $MIRJAX_DATA_DIR or the user cache.")
  _require(d.negatives.ratio > 0, "data.negatives.ratio", d.negatives.ratio, "must be > 0.")
  _require(d.negatives.band >= 0, "data.negatives.band", d.negatives.band, "must be >= 0.")
  for stage in ("ae", "classifier"):
    st = config[stage]
    _require(st.epochs >= 1, f"{stage}.epochs", st.epochs, "must be at least 1.")
    _require(st.batch_size >= 1, f"{stage}.batch_size", st.batch_size, "must be at least 1.")
    _require(st.learning_rate > 0, f"{stage}.learning_rate", st.learning_rate, "must be > 0.")
    _require(0 <= st.val_fraction < 1, f"{stage}.val_fraction", st.val_fraction,
             "must be in [0, 1).")
  _require(len(config.ae.hidden) >= 1 and min(config.ae.hidden) >= 1, "ae.hidden",
           config.ae.hidden, "needs at least one positive width.")
  _require(config.ae.latent >= 1, "ae.latent", config.ae.latent, "must be at least 1.")
  _require(config.classifier.model in CLASSIFIERS, "classifier.model", config.classifier.model,
           f"choose one of {CLASSIFIERS}.")
  _require(d.split in folds_lib.SPLITS, "data.split", d.split, f"choose one of {folds_lib.SPLITS}.")
  width = 2 * d.dim + (config.ae.latent if config.ae.enabled else 0)
  _require(config.classifier.model != "lstm" or (
      config.lstm.step_features >= 1 and width % config.lstm.step_features == 0),
           "lstm.step_features", config.lstm.step_features,
           f"must divide the classifier input width 2*data.dim + ae.latent = {width} "
           "(without ae.latent when ae.enabled is False).")
  _require(config.lstm.hidden >= 1, "lstm.hidden", config.lstm.hidden, "must be at least 1.")
  _require(config.lstm.matmul_dtype in ("float32", "bfloat16"), "lstm.matmul_dtype",
           config.lstm.matmul_dtype, "choose 'float32' or 'bfloat16'.")
  _require(config.lstm.backend in LSTM_BACKENDS, "lstm.backend", config.lstm.backend,
           f"choose one of {LSTM_BACKENDS}.")
  _require(config.lstm.layers >= 1, "lstm.layers", config.lstm.layers, "must be at least 1.")
  _require(config.train.placement in ("rule", "probe"), "train.placement",
           config.train.placement, "choose 'rule' or 'probe'.")
  _require(config.train.replica_loop in placement.LOOPS, "train.replica_loop",
           config.train.replica_loop, f"choose one of {placement.LOOPS}.")
  for name in ("devices", "cpu_devices", "batch_shards"):
    _require(config.train[name] >= 0, f"train.{name}", config.train[name], "must be >= 0 (0: auto).")
  _require(config.train.batch_shards <= 1
           or config.classifier.batch_size % config.train.batch_shards == 0,
           "train.batch_shards", config.train.batch_shards,
           f"must divide classifier.batch_size ({config.classifier.batch_size}); use 0 (auto) or 1.")
  _require(config.train.checkpoint_every >= 1, "train.checkpoint_every",
           config.train.checkpoint_every, "must be at least 1.")
  _require(config.train.keep_checkpoints >= 1, "train.keep_checkpoints",
           config.train.keep_checkpoints, "must be at least 1.")
  _require(config.predict.chunk >= 1, "predict.chunk", config.predict.chunk, "must be at least 1.")
  _require(not config.predict.final_model or family.has_final_model(config.classifier.model),
           "predict.final_model", config.predict.final_model,
           f"classifier.model={config.classifier.model!r} has no model of all labelled pairs; its "
           "fold ensemble is its prediction.")
  g = config.graph
  _require(0 < g.keep < 1, "graph.keep", g.keep, "must be in (0, 1): the masked edges are targets.")
  _require(0 <= g.node_dropout < 1, "graph.node_dropout", g.node_dropout, "must be in [0, 1).")
  _require(0 < g.val_fraction < 1, "graph.val_fraction", g.val_fraction, "must be in (0, 1).")
  _require(len(g.ease_lambdas) >= 1 and min(g.ease_lambdas) > 0, "graph.ease_lambdas",
           g.ease_lambdas, "needs at least one positive value (its first is the starting point).")
  for name in ("hidden", "dim", "layers"):
    _require(g[name] >= 0, f"graph.{name}", g[name], "must be >= 0.")
  _require(g.content_k >= 1, "graph.content_k", g.content_k, "must be >= 1.")
  _require(g.steps_per_epoch >= 1, "graph.steps_per_epoch", g.steps_per_epoch,
           "must be at least 1 (optimizer steps per epoch).")
  _require(g.steps_per_mask >= 1 and g.steps_per_epoch % g.steps_per_mask == 0,
           "graph.steps_per_mask", g.steps_per_mask, "must divide graph.steps_per_epoch.")
  _require(g.cross_lambda >= 0 and g.rp3_beta >= 0, "graph.cross_lambda/rp3_beta",
           (g.cross_lambda, g.rp3_beta), "must be >= 0 (0: off).")
  _require(g.degree_prior >= 0, "graph.degree_prior", g.degree_prior, "must be >= 0 (0: off).")
  _validate_protocols(config.protocols, config.prospective)
  s = d.synthetic
  for name in ("n_mirna", "n_gene", "n_clusters"):
    _require(s[name] >= 1, f"data.synthetic.{name}", s[name], "must be >= 1.")
  for name in ("p_within", "p_across"):
    _require(0 <= s[name] <= 1, f"data.synthetic.{name}", s[name], "must be a probability in [0, 1].")


def _validate_protocols(p: ml_collections.ConfigDict, m: ml_collections.ConfigDict) -> None:
  _require(p.universe in ("",) + universe.UNIVERSES, "protocols.universe", p.universe,
           f"choose '' (the paper's grid cross-validation) or one of {universe.UNIVERSES}.")
  bad = [x for x in p.protocols if x not in protocols_lib.PROTOCOLS]
  _require(p.protocols and not bad, "protocols.protocols", p.protocols,
           f"name at least one of {protocols_lib.PROTOCOLS}.")
  _require(len(p.cuts) >= 1 and list(p.cuts) == sorted(set(p.cuts)) and min(p.cuts) > 0
           and max(p.cuts) < p.end, "protocols.cuts", p.cuts,
           f"must be distinct ascending PMIDs below protocols.end={p.end}.")
  _require(p.folds >= 2, "protocols.folds", p.folds, "needs at least 2 folds.")
  _require(p.negatives_ratio > 0 and m.negatives_ratio > 0, "protocols/prospective.negatives_ratio",
           (p.negatives_ratio, m.negatives_ratio), "must be > 0.")
  for name in ("ranking_genes", "bootstrap"):
    _require(p[name] >= 2, f"protocols.{name}", p[name], "must be at least 2.")
  _require(p.workers >= 1, "protocols.workers", p.workers, "must be at least 1.")
  for name in ("windows", "window", "recent", "max_positives", "epochs", "batch_size"):
    _require(m[name] >= 1, f"prospective.{name}", m[name], "must be at least 1.")
  _require(m.window * m.windows < min(p.cuts), "prospective.windows", m.windows,
           "x prospective.window must stay above PMID 0 below the first cut.")
  _require(len(m.hidden) >= 1 and min(m.hidden) >= 1, "prospective.hidden", m.hidden,
           "needs at least one positive width.")
  _require(m.learning_rate > 0 and m.strong_weight > 0 and m.weight_decay >= 0,
           "prospective.learning_rate/strong_weight/weight_decay",
           (m.learning_rate, m.strong_weight, m.weight_decay), "must be > 0 (weight decay >= 0).")
  _require(len(m.seeds) >= 1 and len(set(m.seeds)) == len(m.seeds), "prospective.seeds", m.seeds,
           "needs at least one seed, each once.")
  _require(0 <= m.matched_negatives <= 1, "prospective.matched_negatives", m.matched_negatives,
           "is a share, in [0, 1].")
