"""What a pair looks like before it is validated: features from the records a split may read.

`Features(universe, records, now, stats, recent)` reads only `records` (a bool mask of the table: a
split's training records, cut further at an earlier `now` for the model's inner windows), the
sequences, which are the same in every split, and `stats` of the split's known nodes. Per node:
distinct partners overall and per evidence class, distinct papers, partners first reported recently,
CLIP and strong records recently, a recency-decayed degree, the age of its first and last record,
partners with non-functional records only; per miRNA also its seed family's degree and size, how many
UTRs its seed hits, the seed's G/C share and when miRBase catalogued it; per gene its UTR length, A/U
share and when NCBI catalogued it (its Entrez ID).
Per pair: seed sites of each type, their density, their flank A/U share and distance to the UTR's
nearer end, the site score standardized within the gene and within the miRNA, TargetScan and PITA
membership, and the degree products. A pair's own earlier records are no feature: every training
row, window positive or negative, is a pair that no earlier record holds (such a column was constant
in training and sent the scores of pairs with a non-functional record to +-400 log-odds).
Counts enter relative to their mean over the present's known nodes (`_log_relative`) and ages as
quantiles among them (`_quantile`), so that windows read at earlier presents and the test share one
scale; the sequences' node statistics (`NodeStats`) are taken over the nodes a split's training
records know. `gather(m, g)` builds [n, F] float32 rows for any pairs, so no dense 39 M x F array is
ever made.
"""

import dataclasses

import numpy as np
import pandas as pd
import scipy.stats

from mirjax.data import keysets, mirtarbase, protocols
from mirjax.data.sequences import SITE_TYPES, SITE_WEIGHTS
from mirjax.data.universe import Universe

# The version of the inputs: a workdir's models are refused under another (mirjax/workdir.py). 2: 50
# inputs (site context, UTR A/U, seed G/C); 3: node counts as log shares of the present's total;
# 4: node counts as log(1 + count / the present's mean count), 0 for a node with no record;
# 5: node ages as quantiles among the present's known nodes; 6: 52 inputs (recent strong records);
# 7: 54 inputs (when miRBase and NCBI catalogued the miRNA and the gene); 8: every statistic over
# nodes (count means, site-score standardization, site rates, family sizes, non-functional partners)
# over the nodes the split's training records know, not over the universe's; 9: the count means over
# the known nodes' counts alone (an unknown miRNA's family degree had entered them).
INPUTS = 9
INPUTS_CHANGE = ("node statistics are taken over the nodes known at the split's present, not over "
                 "the whole table's")

_NODE = ("deg", "deg_strong", "deg_clip", "deg_other", "papers", "papers_strong", "papers_clip",
         "recent_deg", "recent_clip_records", "recent_strong_records", "decayed_deg", "age_first",
         "age_last", "nonfunctional_deg")


@dataclasses.dataclass(frozen=True)
class NodeStats:
  """What the sequences say of each node relative to the nodes known at a split's present (a
  functional record in its training records): a site score standardized within a gene is measured
  against the known miRNAs only, so that which nodes later papers add to the table (its universe)
  moves no input of a split."""
  gene_mean: np.ndarray  # float32 [n_gene]: mean site score over the known miRNAs with a seed
  gene_std: np.ndarray
  mirna_mean: np.ndarray  # float32 [n_mirna]: over the known genes with a UTR
  mirna_std: np.ndarray
  rate7: np.ndarray  # float32 [n_mirna]: share of the known genes' UTRs with a >=7mer site
  rate6: np.ndarray  # ... with a 6mer site
  family_size: np.ndarray  # int [n_mirna]: known miRNAs of its seed family, itself excluded
  predicted: dict  # 'targetscan' / 'pita' -> dense bool [n_mirna, n_gene]


class SequenceStats:
  """The sequences' per-pair site scores, computed once per universe; `of_records(mask)` gives the
  NodeStats of the nodes that records[mask] know, once per split (its windows share them)."""

  def __init__(self, u: Universe):
    c = u.content
    self.u = u
    self.score = site_score(c.sites)  # float32 [n_mirna, n_gene]
    self.seven = c.sites[..., :3].any(-1)  # bool [n_mirna, n_gene]: a >=7mer site
    # Dense bool [n_mirna, n_gene] (39 MB each on the whole table): a pair's membership is one
    # lookup, where a search in the sorted pair keys cost predict 19 s over 39 M pairs.
    self.predicted = {k: v.toarray().astype(bool, copy=False) for k, v in c.predicted.items()}

  def of_records(self, mask: np.ndarray) -> NodeStats:
    """Means over a node set as one matrix-vector product each (a subset's copy of the 156 MB score
    matrix took ten times as long)."""
    c = self.u.content
    known_m, known_g = protocols.known_nodes(self.u.records, mask, self.u.shape)

    squares = np.square(self.score)  # 156 MB on the whole table, for this call only

    def mean_sd(over: np.ndarray, axis: int):
      w = over.astype(np.float32) / max(int(over.sum()), 1)
      mean = w @ self.score if axis == 0 else self.score @ w
      square = w @ squares if axis == 0 else squares @ w
      return mean, np.sqrt(np.maximum(square - mean * mean, 0.0)) + np.float32(1e-3)
    gene_mean, gene_std = mean_sd(known_m & c.has_seed, 0)
    utr = known_g & (c.utr_length > 0)
    mirna_mean, mirna_std = mean_sd(utr, 1)
    w = utr.astype(np.float32) / max(int(utr.sum()), 1)
    fam = c.seed_family
    members = np.bincount(fam[(fam >= 0) & known_m], minlength=fam.max() + 1)
    family_size = np.where(fam >= 0, members[np.maximum(fam, 0)] - known_m, 0)
    del squares
    return NodeStats(gene_mean, gene_std, mirna_mean, mirna_std, self.seven @ w,
                     c.sites[..., 3] @ w, family_size, self.predicted)


def site_score(sites: np.ndarray) -> np.ndarray:
  """float32 [..]: the sites of each type weighted by SITE_WEIGHTS (the seed-site baseline)."""
  return sites.astype(np.float32) @ SITE_WEIGHTS


def _log_relative(count: np.ndarray, known: np.ndarray) -> np.ndarray:
  """log(1 + count / the side's mean count over its known nodes), per node: a node's count relative
  to the table at the present. Cumulative counts grow with the table, and the model's windows read it at earlier
  presents than its test does (their positives' paper counts lay 1-3 SD below the test positives':
  docs/reports/prospective.md), so raw counts drift between training and test. A node with no record
  reads 0 whatever the table's size, as a cold split's new nodes do in its windows and its test alike
  (log(1 + count) - log(total) put them at -log(total), which differs between the two)."""
  # over the known nodes alone: an unknown miRNA's family degree counts its known relatives
  return np.log1p(count * (max(int(known.sum()), 1) / max(float(count[known].sum()), 1.0)))


def _quantile(age: np.ndarray, known: np.ndarray, unknown: float) -> np.ndarray:
  """float32: each known node's age as the share of known nodes at most as old (ties averaged);
  `unknown` for a node without a record. Ages in years grow with the table as counts do: the test
  positives' nodes were 1.3-2.9 SD older than the windows' (docs/reports/prospective.md); a quantile
  among the nodes of the present has one scale in every window and test."""
  out = np.full(len(age), unknown, np.float32)
  out[known] = scipy.stats.rankdata(age[known]) / max(int(known.sum()), 1)
  return out


class Features:
  """Node and pair features from records[mask] as they stood at PMID `now`. Every statistic over
  nodes runs over the nodes known then (a functional record in records[mask]), never over the
  universe, whose node set the whole table, later papers included, decides."""

  def __init__(self, u: Universe, mask: np.ndarray, now: int, stats: NodeStats, recent: int):
    r = u.records.select(mask)
    self.u, self.stats, self.now = u, stats, now
    n_m, n_g = u.shape
    f = r.functional
    df = pd.DataFrame({"key": r.pair, "pmid": r.pmid, "f": f,
                       "strong": f & (r.evidence == mirtarbase.STRONG),
                       "clip": f & (r.evidence == mirtarbase.CLIP),
                       "other": f & (r.evidence == mirtarbase.OTHER_HT),
                       "fpmid": np.where(f, r.pmid, np.iinfo(np.int64).max)})
    pairs = df.groupby("key", sort=True).agg(
        f=("f", "any"), strong=("strong", "any"), clip=("clip", "any"), other=("other", "any"),
        first=("fpmid", "min"))
    key = pairs.index.to_numpy(np.int64)
    self.recorded = key  # every pair with a record: never a candidate
    self.nonfunctional = key[~pairs["f"].to_numpy()]
    pm, pg = np.divmod(key, n_g)
    fp = pairs["f"].to_numpy()
    first = pairs["first"].to_numpy()
    age = (now - first[fp]) / recent
    known_m = np.bincount(pm[fp], minlength=n_m) > 0
    known_g = np.bincount(pg[fp], minlength=n_g) > 0
    # Non-functional records count between known nodes only: the universe keeps a record of a node
    # that had no functional one yet because a later paper gave it one.
    nonfunctional = ~fp & known_m[pm] & known_g[pg]

    def node(pair_side, record_side, n):
      def count(select, weights=None):
        return np.bincount(pair_side[select], weights, minlength=n).astype(np.float32)

      def recent_records(evidence):  # functional records of one class in the last `recent` PMIDs
        return np.bincount(record_side[f & (r.evidence == evidence) & (r.pmid >= now - recent)],
                           minlength=n).astype(np.float32)

      def papers(select):
        return np.bincount(keysets.unique(record_side[select].astype(np.int64) * (1 << 30)
                                     + r.pmid[select]) >> 30, minlength=n).astype(np.float32)
      v = {"deg": count(fp), "deg_strong": count(pairs["strong"].to_numpy()),
           "deg_clip": count(pairs["clip"].to_numpy()), "deg_other": count(pairs["other"].to_numpy()),
           "papers": papers(f), "papers_strong": papers(f & (r.evidence == mirtarbase.STRONG)),
           "papers_clip": papers(f & (r.evidence == mirtarbase.CLIP)),
           "recent_deg": count(fp & (first >= now - recent)),
           "recent_clip_records": recent_records(mirtarbase.CLIP),
           "recent_strong_records": recent_records(mirtarbase.STRONG),
           "nonfunctional_deg": count(nonfunctional)}
      v["decayed_deg"] = np.bincount(pair_side[fp], np.exp(-age), minlength=n).astype(np.float32)
      last, start = np.zeros(n, np.int64), np.full(n, now, np.int64)
      np.maximum.at(last, record_side[f], r.pmid[f])
      np.minimum.at(start, record_side[f], r.pmid[f])
      known = last > 0
      v["age_first"] = _quantile(now - start, known, 0.0)
      v["age_last"] = _quantile(now - last, known, 1.0)
      return v
    self.mirna = node(pm, r.mirna, n_m)
    self.gene = node(pg, r.gene, n_g)
    fam = u.content.seed_family
    fam_deg = np.bincount(fam[fam >= 0], self.mirna["deg"][fam >= 0], minlength=fam.max() + 1)
    self.mirna["family_deg"] = np.where(fam >= 0, fam_deg[np.maximum(fam, 0)] - self.mirna["deg"],
                                        0).astype(np.float32)
    self.known_mirna, self.known_gene = known_m, known_g
    # Each node's inputs, computed once per node rather than once per gathered pair (the log of
    # every count column cost the evaluation's gathers of millions of pairs a tenth of their time).
    self._inputs = [{k: v if k.startswith("age") else _log_relative(v, known)
                     for k, v in side.items()}
                    for side, known in ((self.mirna, known_m), (self.gene, known_g))]

  @staticmethod
  def names() -> list[str]:
    return ([f"mirna_{k}" for k in _NODE + ("family_deg",)] + [f"gene_{k}" for k in _NODE]
            + ["mirna_family_size", "mirna_site_rate7", "mirna_site_rate6", "mirna_has_seed",
               "mirna_seed_gc", "mirna_catalogued", "gene_log_utr", "gene_has_utr", "gene_utr_au",
               "gene_catalogued"]
            + [f"site_{t}" for t in SITE_TYPES]
            + ["site_any7", "site_density7", "site_density6", "site_flank_au", "site_end_distance",
               "site_score_in_gene", "site_score_in_mirna", "targetscan", "pita",
               "log_degree_product", "log_strong_degree_product"])

  def gather(self, m: np.ndarray, g: np.ndarray) -> np.ndarray:
    """float32 [n, F] features of pairs (m[i], g[i]), in `names()` order, column-major. Gathers of
    millions of candidate pairs are much of the evaluation's cost: each column is one contiguous
    write (the columns of a row-major array took half of a gather), and the model's scores turn
    rows row-major a block at a time (stage.row_blocks), in cache."""
    s, c = self.stats, self.u.content
    out = np.empty((len(m), len(self.names())), np.float32, order="F")
    j = 0

    def put(column):
      nonlocal j
      out[:, j] = column
      j += 1
    mirna, gene = self._inputs
    for side, idx, keys in ((mirna, m, _NODE + ("family_deg",)), (gene, g, _NODE)):
      for k in keys:
        put(side[k][idx])
    sites = c.sites[m, g].astype(np.float32)
    seven = sites[:, :3].sum(1)
    length = np.maximum(c.utr_length[g], 1.0)
    score = sites @ SITE_WEIGHTS
    for column in (np.log1p(s.family_size[m]), s.rate7[m], s.rate6[m], c.has_seed[m], c.seed_gc[m],
                   c.mirna_catalogued[m], np.log1p(c.utr_length[g]), c.utr_length[g] > 0,
                   c.utr_au[g], c.gene_catalogued[g],
                   *np.log1p(sites).T, seven > 0, 1000 * seven / length, 1000 * sites[:, 3] / length,
                   *c.site_context[m, g].T,
                   (score - s.gene_mean[g]) / s.gene_std[g],
                   (score - s.mirna_mean[m]) / s.mirna_std[m],
                   s.predicted["targetscan"][m, g], s.predicted["pita"][m, g],
                   mirna["deg"][m] + gene["deg"][g],
                   mirna["deg_strong"][m] + gene["deg_strong"][g]):
      put(column)
    return out
