"""Prospective protocols: which records a model may read, and which later or held-out pairs it is
tested on, for every split of a universe (mirjax/data/universe.py).

- `random` (within-study completion): K folds of the universe's functional pairs. A test pair's own
  records leave training, but its paper stays: the rest of that paper's pairs are still read.
- `papers` (papers held out): K folds of the PMIDs. A fold's papers leave training entirely, and its
  test positives are the pairs reported only by those papers.
- `temporal` (the next validation): for each cut T, train on records with PMID < T; test the pairs
  first reported (functional) at PMID in [T, end) whose miRNA and gene were known before T (end:
  the next cut, after the last cut `protocols.end`).
- `cold_mirna`, `cold_gene` (new nodes): K folds of the miRNAs (genes); a fold's nodes leave training
  with every record, and its test positives are their functional pairs with known partners: a model
  has only a new node's sequence. (A temporal cold start is nearly empty on this table: every miRNA
  of 7.0 has a record before PMID 25M.)

In every split a model reads the training records only (any role: graphs, degrees, features,
normalisation, negatives, model selection), and test negatives are pairs never recorded anywhere in
the table (any support type), drawn uniformly among the split's candidate pairs, `negatives_ratio`
per positive. A test positive's evidence class (mirjax/data/mirtarbase.EVIDENCE) is over its test
records; metrics are reported for all positives, strong-only and CLIP-only ones.
"""

import dataclasses

import numpy as np

from mirjax import rng
from mirjax.data import keysets, mirtarbase
from mirjax.data.universe import Universe
from mirjax.errors import ConfigError

PROTOCOLS = ("random", "papers", "temporal", "cold_mirna", "cold_gene")
WHAT = {  # what each protocol measures, as reports name it
    "random": "within-study completion (random pairs held out; their papers' other pairs kept)",
    "papers": "papers held out (pairs reported only by unseen papers)",
    "temporal": "prospective (pairs first reported after the cut)",
    "cold_mirna": "new miRNA (held out with all its records: sequence only)",
    "cold_gene": "new gene (held out with all its records: sequence only)",
}


@dataclasses.dataclass(frozen=True)
class Split:
  protocol: str
  index: int
  label: str  # e.g. 'T=25.0M', 'fold 3/5'
  train: np.ndarray  # bool [n_records]: the records a model of this split may read
  now: int  # the split's present, as a PMID: recency is measured from it
  positives: np.ndarray  # int64 pair keys, sorted
  evidence: np.ndarray  # int8 [n_pos]: each positive's class over its test records
  negatives: np.ndarray  # int64 pair keys, never recorded anywhere, sorted
  test_mirnas: np.ndarray  # bool [n_mirna]: the miRNAs whose pairs the split tests (its candidates)
  test_genes: np.ndarray  # bool [n_gene]

  def subset(self, evidence: str) -> np.ndarray:
    """The positives of one evidence subset: 'all', or a class of mirtarbase.EVIDENCE."""
    if evidence == "all":
      return self.positives
    return self.positives[self.evidence == mirtarbase.EVIDENCE.index(evidence)]


def _pair_classes(records: mirtarbase.Records, keys: np.ndarray) -> np.ndarray:
  """Each key's class over the functional records among `records`."""
  pairs = mirtarbase.pairs_of(records.select(records.functional))
  return pairs.evidence[np.searchsorted(pairs.key, keys)]


def known_nodes(records: mirtarbase.Records, mask: np.ndarray,
                shape) -> tuple[np.ndarray, np.ndarray]:
  """Nodes with a functional record among records[mask]: those a split's present knows."""
  m, g = np.zeros(shape[0], bool), np.zeros(shape[1], bool)
  keep = mask & records.functional
  m[records.mirna[keep]] = True
  g[records.gene[keep]] = True
  return m, g


def never_recorded(shape: tuple[int, int], mirnas: np.ndarray, genes: np.ndarray, n: int,
                   recorded: np.ndarray, draw: np.random.Generator) -> np.ndarray:
  """n pair keys drawn uniformly without replacement among mirnas x genes (bool masks), none in
  `recorded` (sorted keys), sorted."""
  rows, cols = np.flatnonzero(mirnas), np.flatnonzero(genes)
  chosen = np.zeros(0, np.int64)
  for _ in range(50):
    want = n - len(chosen)
    if want <= 0:
      break
    draws = max(2 * want, 1000)
    keys = (rows[draw.integers(0, len(rows), draws)] * shape[1]
            + cols[draw.integers(0, len(cols), draws)])
    keys = keysets.setdiff(keys[~keysets.is_member(keys, recorded)], chosen)
    chosen = np.concatenate([chosen, draw.permutation(keys)[:want]])
  if len(chosen) < n:
    raise ConfigError(f"only {len(chosen)} never-recorded candidate pairs for {n} test negatives; "
                      "lower prospective.negatives_ratio.")
  return np.sort(chosen)


def folds(units: np.ndarray, n: int, k: int, draw: np.random.Generator) -> np.ndarray:
  """int [n]: the fold 0..k-1 of each of `units` (distinct indices below n: nodes, papers), from one
  permutation drawn from `draw`; -1 for every other index. The protocols' folds and the model's
  shaped windows (mirjax/prospective/stage.py) share it."""
  fold = np.full(n, -1)
  fold[units] = draw.permutation(len(units)) % k
  return fold


def _split(u: Universe, protocol: str, index: int, label: str, train: np.ndarray, now: int,
           test_records: np.ndarray, test_mirnas: np.ndarray, test_genes: np.ndarray,
           ratio: float, seed: int, recorded: np.ndarray) -> Split:
  """A split from its training records and the records whose new functional pairs it tests:
  positives are the functional pairs of `test_records` with no record at all in training, whose
  nodes are test nodes of the universe."""
  r = u.records
  seen = keysets.unique(r.pair[train])
  keys = keysets.unique(r.pair[test_records & r.functional])
  keys = keys[~keysets.is_member(keys, seen) & u.holds(keys)]
  m, g = np.divmod(keys, u.shape[1])
  keys = keys[test_mirnas[m] & test_genes[g]]
  if not len(keys):
    raise ConfigError(f"{protocol} {label}: no test positive in the {u.name} universe.")
  evidence = _pair_classes(r.select(test_records), keys)
  draw = rng.generator(seed, "prospective_negatives", PROTOCOLS.index(protocol), index)
  negatives = never_recorded(u.shape, test_mirnas & u.mirna_in, test_genes & u.gene_in,
                             int(round(ratio * len(keys))), recorded, draw)
  return Split(protocol, index, label, train, now, keys, evidence, negatives,
               test_mirnas & u.mirna_in, test_genes & u.gene_in)


def everything(u: Universe) -> Split:
  """All of the table as training records and nothing to test: what the model of `--mode=predict`
  is fit on (its inner windows end at the newest PMID)."""
  none = np.zeros(0, np.int64)
  return Split("all", 0, "all records", np.ones(len(u.records.pmid), bool),
               int(u.records.pmid.max()) + 1, none, none.astype(np.int8), none, u.mirna_in.copy(),
               u.gene_in.copy())


def splits(u: Universe, section) -> list[Split]:
  """Every split of the protocols in section `prospective` (protocols, folds, cuts, seed, ...)."""
  r = u.records
  recorded = keysets.unique(r.pair)

  def present(train):  # a split without a time cut is dated by its newest training record
    return int(r.pmid[train].max()) + 1
  out = []
  for protocol in section.protocols:
    if protocol not in PROTOCOLS:
      raise ConfigError(f"prospective.protocols: {protocol!r} is not one of {PROTOCOLS}.")
    args = dict(ratio=section.negatives_ratio, seed=section.seed, recorded=recorded)
    if protocol == "temporal":
      cuts = sorted(section.cuts)
      for i, t in enumerate(cuts):
        end = cuts[i + 1] if i + 1 < len(cuts) else section.end
        train = r.pmid < t
        km, kg = known_nodes(r, train, u.shape)
        out.append(_split(u, protocol, i, f"T={t / 1e6:.1f}M", train, t,
                          (r.pmid >= t) & (r.pmid < end), km, kg, **args))
    else:
      k = section.folds
      draw = rng.generator(section.seed, "prospective_folds", PROTOCOLS.index(protocol))
      if protocol in ("cold_mirna", "cold_gene"):
        side = r.mirna if protocol == "cold_mirna" else r.gene
        nodes = np.flatnonzero(u.mirna_in if protocol == "cold_mirna" else u.gene_in)
        node_fold = folds(nodes, u.shape[0 if protocol == "cold_mirna" else 1], k, draw)
        record_fold = node_fold[side]
        for f in range(k):
          train = record_fold != f
          km, kg = known_nodes(r, train, u.shape)
          new = node_fold == f
          mirnas, genes = (new, kg) if protocol == "cold_mirna" else (km, new)
          out.append(_split(u, protocol, f, f"fold {f + 1}/{k}", train, present(train), ~train,
                            mirnas, genes, **args))
        continue
      if protocol == "papers":
        papers, paper_of = np.unique(r.pmid, return_inverse=True)
        record_fold = folds(np.arange(len(papers)), len(papers), k, draw)[paper_of]
      else:  # random: the functional pairs of the universe, each with all of its records
        keys = keysets.unique(r.pair[r.functional & u.holds(r.pair)])
        pair_fold = draw.permutation(len(keys)) % k
        record_fold = np.full(len(r.pmid), -1)
        hit = keysets.is_member(r.pair, keys)
        record_fold[hit] = pair_fold[np.searchsorted(keys, r.pair[hit])]
      for f in range(k):
        train = record_fold != f
        km, kg = known_nodes(r, train, u.shape)
        out.append(_split(u, protocol, f, f"fold {f + 1}/{k}", train, present(train),
                          record_fold == f, km, kg, **args))
  return out
