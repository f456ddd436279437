"""A universe: the miRNA x gene pairs a prospective run scores, with every record and the sequences.

Two universes run the same protocols (mirjax/data/protocols.py): `whole`, every human miRNA and gene
with a functional record in miRTarBase 7.0 (2,599 x 15,051, 39.1 M pairs), and `grid`, the paper's
383 x 318. Both live in the whole table's index space: a grid run reads every record of the table (the
records with one end outside the grid are its side graph) and tests only grid pairs, so the side graph
is rebuilt from each split's training papers like every other input.

`Content` is what the sequences say of every pair and node, the same in every split: seed-site counts in
the gene's 3'UTR and their context (mirjax/data/sequences.py), UTR length and A/U share, the seed's G/C
share, seed families, TargetScan/PITA membership, and when each node was catalogued (its miRBase
accession, its Entrez ID): the oldest entries are the abundant miRNAs and the genes known before
genome sequencing, which the low-throughput studies test most (docs/reports/prospective.md).
"""

import dataclasses
import time

import numpy as np
from absl import logging

from mirjax.data import mirtarbase, sequences, sources, tables, target_lists
from mirjax.errors import DataError

UNIVERSES = ("whole", "grid")


@dataclasses.dataclass(frozen=True)
class Content:
  """What the sequences say, in the records' index space."""
  sites: np.ndarray  # uint8 [n_mirna, n_gene, 4]: 8mer, 7mer-m8, 7mer-A1, 6mer sites (capped at 255)
  site_context: np.ndarray  # float16 [n_mirna, n_gene, 2]: the sites' flank A/U share and log10
  #   distance to the nearer UTR end, averaged weighted by site type (0 without a site)
  utr_length: np.ndarray  # float32 [n_gene]: A/C/G/T letters of the 3'UTR (0: none known)
  utr_au: np.ndarray  # float32 [n_gene]: the 3'UTR's A/U share (0: none known)
  seed_gc: np.ndarray  # float32 [n_mirna]: the G/C share of nt 2-8, the seed's pairing stability
  mirna_catalogued: np.ndarray  # float32 [n_mirna]: its place in miRBase's catalogue
  #   (sequences.catalogue_order; 1.0: not in miRBase)
  gene_catalogued: np.ndarray  # float32 [n_gene]: log10 of its Entrez ID, which NCBI gives in order
  #   of entry: the genes catalogued first are those known before genome sequencing
  has_seed: np.ndarray  # bool [n_mirna]: a miRBase sequence was found
  seed_family: np.ndarray  # int32 [n_mirna]: one id per distinct nt 2-8 seed (-1: none)
  predicted: dict  # 'targetscan' / 'pita' -> bool sparse [n_mirna, n_gene]
  report: dict  # coverage of every mapping


@dataclasses.dataclass(frozen=True)
class Universe:
  name: str  # 'whole' or 'grid'
  records: mirtarbase.Records  # every record of the table
  mirna_in: np.ndarray  # bool [n_mirna]: the universe's miRNAs
  gene_in: np.ndarray  # bool [n_gene]
  content: Content
  provenance: dict

  @property
  def shape(self) -> tuple[int, int]:
    return self.records.shape

  def holds(self, keys: np.ndarray) -> np.ndarray:
    """bool: which pair keys (mirna * n_gene + gene) are pairs of the universe."""
    m, g = np.divmod(keys, self.shape[1])
    return self.mirna_in[m] & self.gene_in[g]

  def summary(self) -> dict:
    return {"universe": self.name, "n_mirna": int(self.mirna_in.sum()),
            "n_gene": int(self.gene_in.sum()),
            "n_pairs": int(self.mirna_in.sum()) * int(self.gene_in.sum()),
            "n_records": int(len(self.records.pmid)), "content": self.content.report}


def _content(records: mirtarbase.Records, paths: dict) -> Content:
  t = time.perf_counter()
  mature = sequences.read_mature(paths["mirbase_mature"])
  entries, named = sequences.map_mirnas(records.mirnas, mature)
  mirna_seqs = [e.sequence if e else None for e in entries]
  utrs = sequences.read_utrs(paths["utr3"])
  raw = [utrs.get(int(e), "") for e in records.entrez]
  gene_utrs = [sequences.deduplicated(u) for u in raw]
  seeds = [sequences.Seed.of(s) if s else None for s in mirna_seqs]
  has_seed = np.array([s is not None for s in seeds])
  counts, context = sequences.seed_sites([s for s in seeds if s is not None],
                                          sequences.contexts(gene_utrs))
  sites = np.zeros((len(seeds), len(gene_utrs), 4), np.uint8)
  sites[has_seed] = np.minimum(counts, 255)
  site_context = np.zeros((len(seeds), len(gene_utrs), 2), np.float16)
  site_context[has_seed] = context
  del counts, context
  seed_gc = np.array([sum(b in "GC" for b in s[1:8]) / 7 if s else 0.0 for s in mirna_seqs],
                     np.float32)
  family_of = {}
  seed_family = np.array([family_of.setdefault(s[1:8], len(family_of)) if s else -1
                          for s in mirna_seqs], np.int32)

  def letters(utr: str) -> int:  # a UTR's length: its N padding is no sequence
    return sum(utr.count(b) for b in "ACGT")
  utr_length = np.array([letters(u) for u in gene_utrs], np.float32)
  utr_au = np.array([(u.count("A") + u.count("T")) / max(n, 1) for u, n in zip(gene_utrs, utr_length)],
                    np.float32)
  lists = target_lists.read_lists(paths["target_predictions"])
  seven = sites[..., :3].any(-1)
  predicted, matched = {}, {}
  for db in target_lists.DATABASES:
    predicted[db.lower()], matched[db.lower()] = target_lists.membership(
        lists[db], records.mirnas, records.entrez, seven)
  report = {
      "mirnas_with_sequence": int(has_seed.sum()), "mirnas": len(seeds), "mirna_names": named,
      "distinct_seeds": len(family_of), "genes_with_utr": int((utr_length > 0).sum()),
      "utrs_with_repeated_stretches": int(sum(letters(a) != n for a, n in zip(raw, utr_length))),
      "genes": len(gene_utrs), "target_list_names": matched,
      "target_list_pairs": {k: int(v.nnz) for k, v in predicted.items()},
      "target_list_mirnas": {k: int((v.getnnz(1) > 0).sum()) for k, v in predicted.items()},
      "seconds": round(time.perf_counter() - t, 1)}
  logging.info("sequences: %d of %d miRNAs with a miRBase sequence (%d distinct seeds), %d of %d "
               "genes with a 3'UTR; TargetScan covers %d miRNAs, PITA %d (%.0fs)",
               report["mirnas_with_sequence"], report["mirnas"], report["distinct_seeds"],
               report["genes_with_utr"], report["genes"],
               report["target_list_mirnas"]["targetscan"], report["target_list_mirnas"]["pita"],
               report["seconds"])
  return Content(sites, site_context, utr_length, utr_au, seed_gc,
                 sequences.catalogue_order(entries, mature),
                 np.log10(np.maximum(records.entrez, 1)).astype(np.float32), has_seed, seed_family,
                 predicted, report)


def _grid_nodes(records: mirtarbase.Records, paths: dict, dim: int):
  """The grid's miRNAs and genes (the SG embedding tables' names) in the records' index space,
  matched exactly, else up to case; a grid node without a functional record is an error."""
  masks = []
  for key, names in (("mirna_embeddings", records.mirnas), ("gene_embeddings", records.genes)):
    table = tables.read_embeddings(paths[key], dim)
    exact = {n: i for i, n in enumerate(names)}
    folded = {n.casefold(): i for i, n in reversed(list(enumerate(names)))}
    rows = [exact.get(n, folded.get(n.casefold(), -1)) for n in table.names]
    missing = [n for n, r in zip(table.names, rows) if r < 0]
    if missing:
      raise DataError(f"{paths[key]}: {len(missing)} grid node(s) have no functional miRTarBase "
                      f"record, e.g. {missing[0]!r}; the grid universe needs every one.")
    mask = np.zeros(len(names), bool)
    mask[rows] = True
    masks.append(mask)
  return masks


def build(name: str, data) -> Universe:
  """The universe `name` from the inputs of config section `data` (dir, fetch, checksums)."""
  if name not in UNIVERSES:
    raise DataError(f"universe {name!r}: choose one of {UNIVERSES}.")
  keys = ["mirtarbase", "mirbase_mature", "utr3", "target_predictions"]
  keys += ["mirna_embeddings", "gene_embeddings"] if name == "grid" else []
  paths = {k: sources.locate(sources.SOURCES[k], data.dir, allow_fetch=data.fetch,
                             verify=data.verify_checksums) for k in keys}
  records = mirtarbase.read_records(paths["mirtarbase"])
  if name == "grid":
    mirna_in, gene_in = _grid_nodes(records, paths, data.dim)
  else:
    mirna_in, gene_in = np.ones(records.shape[0], bool), np.ones(records.shape[1], bool)
  provenance = {k: {"path": p, "registered_sha256": sources.SOURCES[k].sha256,
                    "checksum_verified": bool(data.verify_checksums),
                    "origin": sources.SOURCES[k].origin} for k, p in paths.items()}
  return Universe(name, records, mirna_in, gene_in, _content(records, paths), provenance)

