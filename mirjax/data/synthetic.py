"""A seeded synthetic stand-in for the SG-LSTM-core inputs, with planted structure.

miRNAs and genes are drawn around shared cluster centres; a pair in the same cluster is a
validated ("Functional MTI") interaction with probability `p_within`, a pair across clusters with
probability `p_across`; so are the pairs between grid nodes and as many miRNAs and genes outside
the grid (the side graph). So positives are closer than unknown pairs, as on the real data, and a model
has a real signal to find. The tables have the real files' formats, so `write_raw_files` exercises
exactly the parsing path of the real data.
"""

import os
from typing import NamedTuple

import numpy as np
import pandas as pd

from mirjax import atomic
from mirjax.data import sources, tables

NONFUNCTIONAL_FRACTION = 0.05  # of planted interactions, recorded only as "Non-Functional MTI"


class SyntheticTables(NamedTuple):
  mirnas: tables.EmbeddingTable
  genes: tables.EmbeddingTable
  mti: pd.DataFrame  # miRTarBase format
  same_cluster: np.ndarray  # bool [n_mirna, n_gene]: the planted associations (recorded or not)
  # Stand-ins for the sequence embeddings: the cluster centres seen through other noise.
  sequence: tuple[np.ndarray, np.ndarray]


def make_tables(*, n_mirna: int, n_gene: int, dim: int, n_clusters: int, p_within: float,
                p_across: float, seed: int) -> SyntheticTables:
  rng = np.random.default_rng(seed)
  centres = rng.normal(0.0, 1.0, (n_clusters, dim))
  mc = rng.integers(0, n_clusters, n_mirna)
  gc = rng.integers(0, n_clusters, n_gene)
  m_vec = (centres[mc] + rng.normal(0.0, 0.6, (n_mirna, dim))).astype(np.float32)
  g_vec = (centres[gc] + rng.normal(0.0, 0.6, (n_gene, dim))).astype(np.float32)
  m_names = tuple(f"hsa-miR-syn-{i}" for i in range(n_mirna))
  g_names = tuple(f"GENE{i}" for i in range(n_gene))
  same = mc[:, None] == gc[None, :]
  interacts = rng.random(same.shape) < np.where(same, p_within, p_across)
  mi, gi = np.nonzero(interacts)
  support = np.where(rng.random(mi.size) < NONFUNCTIONAL_FRACTION, "Non-Functional MTI",
                     rng.choice(tables.FUNCTIONAL_SUPPORT, mi.size))
  mti = pd.DataFrame({
      "miRTarBase ID": [f"MIRT{i:06d}" for i in range(mi.size)],
      "miRNA": np.asarray(m_names)[mi],
      "Species (miRNA)": "Homo sapiens",
      "Target Gene": np.asarray(g_names)[gi],
      "Target Gene (Entrez Gene ID)": gi + 1,
      "Species (Target Gene)": "Homo sapiens",
      "Experiments": "Luciferase reporter assay",
      "Support Type": support,
      "References (PMID)": 1,
  })
  sequence = tuple((centres[c] + rng.normal(0.0, 0.6, (c.size, dim))).astype(np.float32)
                   for c in (mc, gc))
  # Records outside the grid, as in the real table: the builder keeps them out of the grid, and
  # data.side_graph reads them. As many miRNAs and genes again, of the same clusters, drawn from
  # a stream of their own so that the grid is the same with or without them.
  side = np.random.default_rng([seed, 1])
  smc, sgc = side.integers(0, n_clusters, n_mirna), side.integers(0, n_clusters, n_gene)
  m_all, g_all = np.r_[mc, smc], np.r_[gc, sgc]
  outside = np.add.outer(np.arange(m_all.size) >= n_mirna, np.arange(g_all.size) >= n_gene) == 1
  p = np.where(m_all[:, None] == g_all[None, :], p_within, p_across)
  si, sj = np.nonzero(outside & (side.random(p.shape) < p))
  names_m = np.r_[m_names, [f"hsa-miR-side-{i}" for i in range(n_mirna)]]
  names_g = np.r_[g_names, [f"SIDE{i}" for i in range(n_gene)]]
  mti = pd.concat([mti, pd.DataFrame({
      "miRTarBase ID": [f"MIRT9{i:05d}" for i in range(si.size)], "miRNA": names_m[si],
      "Species (miRNA)": "Homo sapiens", "Target Gene": names_g[sj],
      "Target Gene (Entrez Gene ID)": 100000 + sj, "Species (Target Gene)": "Homo sapiens",
      "Experiments": "CLIP-Seq", "Support Type": "Functional MTI (Weak)",
      "References (PMID)": 2})], ignore_index=True)
  return SyntheticTables(tables.EmbeddingTable(m_names, m_vec, "<synthetic miRNA>"),
                         tables.EmbeddingTable(g_names, g_vec, "<synthetic gene>"), mti, same,
                         sequence)


def _embedding_frame(table: tables.EmbeddingTable) -> pd.DataFrame:
  df = pd.DataFrame(table.vectors, columns=[str(i) for i in range(table.vectors.shape[1])])
  df[tables.NAME_COLUMN] = table.names
  return df


def write_raw_files(directory: str, **kwargs) -> dict[str, str]:
  """Writes synthetic tables under the real inputs' file names; returns {source key: path}."""
  mirnas, genes, mti, *_ = make_tables(**kwargs)
  paths = {key: os.path.join(directory, sources.SOURCES[key].filename)
           for key in ("mirna_embeddings", "gene_embeddings", "mirtarbase")}
  for key, frame in (("mirna_embeddings", _embedding_frame(mirnas)),
                     ("gene_embeddings", _embedding_frame(genes)), ("mirtarbase", mti)):
    with atomic.atomic_path(paths[key]) as tmp:
      frame.to_csv(tmp, index=False)
  return paths
