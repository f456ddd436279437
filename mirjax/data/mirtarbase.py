"""The whole human miRTarBase table: every record, its paper and the kind of evidence behind it.

The universe is every miRNA and gene with a functional record (`Functional MTI`, `(Weak)`): 2,599 x
15,051 in release 7.0. Each record keeps its experiments, support type and PMID, and an evidence
class (`EVIDENCE`), because what a paper measured says what its pairs mean:
- strong: any low-throughput assay (reporter assays, western blot, qPCR, northern blot, ELISA, ...);
- clip: CLIP-type and sequencing experiments (PAR-CLIP, HITS-CLIP, CLASH, ...);
- other_ht: other high-throughput ones (microarray, proteomics, pSILAC, ...).
A record is strong if any of its experiments is; a pair's class over a set of records is strong if any
record is, clip if every record is CLIP-type, else other_ht. PMIDs order the records in time (PubMed
assigns them in sequence), which the prospective protocols cut on.
"""

import dataclasses
import re

import numpy as np
import pandas as pd

from mirjax.data import tables
from mirjax.errors import DataError

EVIDENCE = ("strong", "clip", "other_ht")
STRONG, CLIP, OTHER_HT = range(3)
_CLIP = re.compile(r"clip|clash|sequencing|\bngs\b|-seq\b|seq$|degradome|\btrap\b", re.I)
_OTHER_HT = re.compile(r"array|proteom|silac|3'\s*life|screen|\bms\b|mass spec", re.I)


def experiment_class(experiment: str) -> int:
  """The evidence class of one experiment name (a token of a record's `Experiments`)."""
  if _CLIP.search(experiment):
    return CLIP
  if _OTHER_HT.search(experiment):
    return OTHER_HT
  return STRONG


def record_class(experiments: str) -> int:
  """A record's class: strong if any of its experiments is, else clip if any is, else other_ht."""
  classes = {experiment_class(t) for t in re.split(r"//|;|/", experiments) if t.strip()}
  return min(classes) if classes else OTHER_HT


@dataclasses.dataclass(frozen=True)
class Records:
  """Every record of the table whose miRNA and gene are in the universe, as parallel arrays."""
  mirnas: tuple[str, ...]  # the universe's miRNAs (with a functional record), sorted
  genes: tuple[str, ...]  # its genes, sorted
  entrez: np.ndarray  # int64 [n_gene]: each gene's Entrez ID (the first the table gives)
  mirna: np.ndarray  # int32 [n]: row of `mirnas`
  gene: np.ndarray  # int32 [n]
  pmid: np.ndarray  # int64 [n]
  functional: np.ndarray  # bool [n]: Functional MTI or Functional MTI (Weak)
  evidence: np.ndarray  # int8 [n]: STRONG, CLIP or OTHER_HT
  experiments: pd.Categorical  # [n]: the record's `Experiments` as written

  @property
  def shape(self) -> tuple[int, int]:
    return len(self.mirnas), len(self.genes)

  @property
  def pair(self) -> np.ndarray:
    """int64 [n]: each record's pair as one key, mirna * n_gene + gene."""
    return self.mirna.astype(np.int64) * len(self.genes) + self.gene

  def select(self, keep: np.ndarray) -> "Records":
    """The records where `keep` (bool [n]) holds, in the same universe."""
    return dataclasses.replace(
        self, mirna=self.mirna[keep], gene=self.gene[keep], pmid=self.pmid[keep],
        functional=self.functional[keep], evidence=self.evidence[keep],
        experiments=self.experiments[keep])


def read_records(path: str) -> Records:
  """Reads a miRTarBase MTI table (.csv or .csv.gz) into `Records`."""
  df = tables.read_mti(path, tables.MTI_NAMES).rename(columns=tables.MTI_NAMES)
  for column in ("mirna", "gene", "support", "experiments"):
    df[column] = df[column].str.strip()
  for column in ("pmid", "entrez"):
    values = pd.to_numeric(df[column], errors="coerce")
    bad = np.flatnonzero(values.isna().to_numpy())
    if bad.size:
      raise DataError(f"{path}: line {bad[0] + 2}, column {column!r}: {df[column].iloc[bad[0]]!r} "
                      f"is not a number ({bad.size} such line(s)).")
    df[column] = values.astype(np.int64)
  functional = df["support"].isin(tables.FUNCTIONAL_SUPPORT).to_numpy()
  mirnas = np.unique(df.loc[functional, "mirna"])
  genes = np.unique(df.loc[functional, "gene"])
  mi = pd.Index(mirnas).get_indexer(df["mirna"])
  gi = pd.Index(genes).get_indexer(df["gene"])
  keep = (mi >= 0) & (gi >= 0)
  entrez = df[keep].drop_duplicates("gene").set_index("gene")["entrez"].reindex(genes)
  classes = {e: record_class(e) for e in df.loc[keep, "experiments"].unique()}
  return Records(
      tuple(mirnas), tuple(genes), entrez.to_numpy(np.int64),
      mi[keep].astype(np.int32), gi[keep].astype(np.int32), df.loc[keep, "pmid"].to_numpy(),
      functional[keep], df.loc[keep, "experiments"].map(classes).to_numpy(np.int8),
      pd.Categorical(df.loc[keep, "experiments"]))


@dataclasses.dataclass(frozen=True)
class Pairs:
  """One row per recorded pair of a set of records: its key, whether it is functional, its first
  functional PMID and its evidence class over its functional records."""
  key: np.ndarray  # int64 [p], sorted
  functional: np.ndarray  # bool [p]
  first_pmid: np.ndarray  # int64 [p]: first functional PMID (first of any record if none)
  evidence: np.ndarray  # int8 [p]: the pair's class over its functional records


def pairs_of(records: Records) -> Pairs:
  df = pd.DataFrame({"key": records.pair, "functional": records.functional,
                     "pmid": np.where(records.functional, records.pmid, np.iinfo(np.int64).max),
                     "any_pmid": records.pmid, "strong": records.evidence == STRONG,
                     "clip": records.evidence == CLIP})
  df.loc[~df["functional"], ["strong", "clip"]] = (False, True)  # neutral in 'all clip'
  g = df.groupby("key", sort=True).agg(
      functional=("functional", "any"), pmid=("pmid", "min"), any_pmid=("any_pmid", "min"),
      strong=("strong", "any"), clip=("clip", "all"))
  evidence = np.where(g["strong"], STRONG, np.where(g["clip"], CLIP, OTHER_HT)).astype(np.int8)
  first = np.where(g["functional"], g["pmid"], g["any_pmid"])
  return Pairs(g.index.to_numpy(np.int64), g["functional"].to_numpy(), first.astype(np.int64),
               evidence)
