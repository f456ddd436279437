"""Readers for the two kinds of input table, with errors that name the file, line and field.

Line numbers in messages are 1-based lines of the file as a text editor shows them
(the header is line 1), so a user can jump straight to the offending row.
"""

import dataclasses
import os

import numpy as np
import pandas as pd
import scipy.sparse

from mirjax.errors import DataError

NAME_COLUMN = "label"
# A miRTarBase MTI table's columns that mirjax reads, and their short names.
MTI_NAMES = {"miRNA": "mirna", "Target Gene": "gene", "Target Gene (Entrez Gene ID)": "entrez",
             "Experiments": "experiments", "Support Type": "support", "References (PMID)": "pmid"}
# the grid reads these three
MTI_COLUMNS = tuple(k for k, v in MTI_NAMES.items() if v in ("mirna", "gene", "support"))
FUNCTIONAL_SUPPORT = ("Functional MTI", "Functional MTI (Weak)")


@dataclasses.dataclass(frozen=True)
class EmbeddingTable:
  names: tuple[str, ...]
  vectors: np.ndarray  # float32 [n, dim]
  path: str


def read_csv(path: str, **kwargs) -> pd.DataFrame:
  try:
    return pd.read_csv(path, encoding="utf-8-sig", compression="infer", **kwargs)
  except FileNotFoundError as e:
    raise DataError(f"{path}: file not found.") from e
  except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, EOFError, OSError) as e:
    raise DataError(f"{path}: not a readable CSV table ({e}). The file is corrupt or truncated; "
                    "replace it with a fresh copy.") from e


def read_embeddings(path: str, dim: int = 128, column_prefix: str = "") -> EmbeddingTable:
  """Reads an SG-LSTM embedding table: columns '0'..'dim-1' (numbers; the sequence tables call them
  'x_0'..: column_prefix='x_') and 'label' (the name)."""
  df = read_csv(path, dtype=str, keep_default_na=False)
  expected = [f"{column_prefix}{i}" for i in range(dim)]
  missing = [c for c in expected + [NAME_COLUMN] if c not in df.columns]
  if missing:
    raise DataError(f"{path}: header lacks column(s) {missing[:5]}{'…' if len(missing) > 5 else ''}; "
                    f"an embedding table needs columns {expected[0]}..{expected[-1]} "
                    f"and '{NAME_COLUMN}'.")
  values = df[expected].apply(pd.to_numeric, errors="coerce").to_numpy(np.float64)
  bad = ~np.isfinite(values)
  if bad.any():
    row, col = map(int, np.argwhere(bad)[0])
    raw = df[expected[col]].iloc[row]
    raise DataError(f"{path}: line {row + 2}, column '{expected[col]}' holds {raw!r}, which is not a "
                    f"finite number ({int(bad.sum())} such cell(s) in all). Fix or replace the file.")
  names = df[NAME_COLUMN].str.strip()
  empty = np.flatnonzero(names.to_numpy() == "")
  if empty.size:
    raise DataError(f"{path}: line {empty[0] + 2} has an empty '{NAME_COLUMN}' (name) field.")
  dup = names.duplicated(keep=False)
  if dup.any():
    name = names[dup].iloc[0]
    lines = [int(i) + 2 for i in np.flatnonzero(names.to_numpy() == name)]
    raise DataError(f"{path}: name {name!r} appears more than once (lines {lines}); "
                    "every row must name a distinct miRNA or gene.")
  return EmbeddingTable(tuple(names), values.astype(np.float32), os.fspath(path))


@dataclasses.dataclass(frozen=True)
class GridEvidence:
  """miRTarBase evidence restricted to a miRNA × gene grid, as boolean [n_mirna, n_gene] masks,
  and what the table says of the grid's nodes outside it (`SideGraph`)."""
  functional: np.ndarray  # at least one Functional MTI or Functional MTI (Weak) record
  any_record: np.ndarray  # at least one record of any support type
  n_records: int  # records (rows) that fall in the grid
  side: "SideGraph"


@dataclasses.dataclass(frozen=True)
class SideGraph:
  """The functional interactions of miRTarBase that have one end outside the grid, as co-occurrence
  counts between grid nodes: `mirna_gram[i, j]` = genes outside the grid that miRNAs i and j both
  target (diagonal: i's own count), `gene_gram[a, b]` = miRNAs outside the grid that target both
  genes a and b. These are the terms that EASE's Gram matrices (X X^T, X^T X) gain when its users
  are every miRNA (gene) of the table, not only the grid's; its items stay the grid's nodes.

  No pair of the grid is in it, and no copy of one under another name (`CLONE_JACCARD`): an
  outside node is left out if its interactions beyond the grid nearly repeat a grid node's.
  """
  mirna_gram: np.ndarray  # float32 [n_mirna, n_mirna]
  gene_gram: np.ndarray  # float32 [n_gene, n_gene]
  n_pairs: int  # functional pairs with exactly one end in the grid, copies left out
  n_copies: tuple[int, int]  # outside miRNAs, genes left out as copies of grid nodes


# An outside node whose partners outside the grid overlap a grid node's this much (Jaccard) is taken
# for a copy of that node and left out of the side graph. miRTarBase files one CLIP observation
# under every miRNA of a seed (hsa-miR-424-5p and hsa-miR-6838-5p share 798 gene/PMID/experiment
# records), and a read-through transcript's UTR is its parts' (TMEM189-UBE2V1 and UBE2V1): such a
# copy would bring a held-out grid pair into the side graph under another name. Only pairs with an
# end outside the grid decide it, the same for every fold.
CLONE_JACCARD = 0.5


def read_mti(path: str, columns) -> pd.DataFrame:
  """The named columns of a miRTarBase MTI table (.csv or .csv.gz), as text; a missing one is an
  error naming the file."""
  df = read_csv(path, usecols=lambda c: c in columns, dtype=str, keep_default_na=False)
  missing = [c for c in columns if c not in df.columns]
  if missing:
    raise DataError(f"{path}: header lacks column(s) {missing}; expected a miRTarBase MTI table "
                    f"with columns {list(columns)}.")
  return df


def read_grid_evidence(path: str, mirnas: tuple[str, ...], genes: tuple[str, ...]) -> GridEvidence:
  """Reads a miRTarBase MTI table (.csv or .csv.gz) and marks the grid pairs it supports."""
  return grid_evidence(read_mti(path, MTI_COLUMNS), mirnas, genes)


def grid_evidence(mti: pd.DataFrame, mirnas: tuple[str, ...], genes: tuple[str, ...]) -> GridEvidence:
  """Marks the grid pairs that an MTI table (columns as in `MTI_COLUMNS`) supports."""
  mi = pd.Index(mirnas).get_indexer(mti["miRNA"].astype(str).str.strip())
  gi = pd.Index(genes).get_indexer(mti["Target Gene"].astype(str).str.strip())
  in_grid = (mi >= 0) & (gi >= 0)
  mi, gi = mi[in_grid], gi[in_grid]
  is_functional = mti["Support Type"].astype(str).str.strip().isin(FUNCTIONAL_SUPPORT).to_numpy()
  functional_rows = is_functional[in_grid]
  any_record = np.zeros((len(mirnas), len(genes)), bool)
  any_record[mi, gi] = True
  functional = np.zeros_like(any_record)
  functional[mi[functional_rows], gi[functional_rows]] = True
  return GridEvidence(functional=functional, any_record=any_record, n_records=int(in_grid.sum()),
                      side=side_graph(mti[is_functional], mirnas, genes))


def side_graph(functional_mti: pd.DataFrame, mirnas: tuple[str, ...], genes: tuple[str, ...]
               ) -> SideGraph:
  """The `SideGraph` of the grid in a table of functional records (columns as `MTI_COLUMNS`).

  Names are matched to the grid's up to case (a record of `Smad7` is one of the grid's SMAD7)."""
  pairs = functional_mti[["miRNA", "Target Gene"]].astype(str).apply(
      lambda c: c.str.strip().str.casefold()).drop_duplicates()
  m_codes, m_names = pd.factorize(pairs["miRNA"])
  g_codes, g_names = pd.factorize(pairs["Target Gene"])
  edges = scipy.sparse.csr_matrix((np.ones(len(pairs), np.float32), (m_codes, g_codes)),
                                  shape=(len(m_names), len(g_names)))
  grid_m = pd.Index(m_names).get_indexer([n.casefold() for n in mirnas])  # -1: no record
  grid_g = pd.Index(g_names).get_indexer([n.casefold() for n in genes])
  outside_m = np.setdiff1d(np.arange(len(m_names)), grid_m)
  outside_g = np.setdiff1d(np.arange(len(g_names)), grid_g)
  copy_m = _copies(edges[:, outside_g], grid_m, outside_m)
  copy_g = _copies(edges[outside_m].T.tocsr(), grid_g, outside_g)

  def rows(node_codes: np.ndarray, matrix) -> scipy.sparse.csr_matrix:
    """matrix's rows in grid order; a grid node without records gets an empty row."""
    out = matrix[np.maximum(node_codes, 0)].tocsr()
    return scipy.sparse.diags((node_codes >= 0).astype(np.float32)) @ out

  to_outside = rows(grid_m, edges[:, outside_g[~copy_g]])  # grid miRNAs x kept outside genes
  from_outside = rows(grid_g, edges[outside_m[~copy_m]].T.tocsr())  # grid genes x kept miRNAs
  return SideGraph((to_outside @ to_outside.T).toarray().astype(np.float32),
                   (from_outside @ from_outside.T).toarray().astype(np.float32),
                   int(to_outside.sum() + from_outside.sum()),
                   (int(copy_m.sum()), int(copy_g.sum())))


def _copies(partners, grid: np.ndarray, outside: np.ndarray) -> np.ndarray:
  """bool [len(outside)]: which outside nodes' partner sets (rows of `partners`, over the partners
  outside the grid) overlap some grid node's by Jaccard >= CLONE_JACCARD."""
  a, b = partners[outside], partners[grid[grid >= 0]]
  if a.shape[0] == 0 or b.shape[0] == 0:
    return np.zeros(len(outside), bool)
  shared = (a @ b.T).toarray()
  union = np.asarray(a.sum(1)) + np.asarray(b.sum(1)).T - shared
  return ((shared >= CLONE_JACCARD * union) & (shared > 0)).any(1)


def aligned(table: EmbeddingTable, names: tuple[str, ...], role: str) -> np.ndarray:
  """table's vectors in the order of `names` (the grid's); every name must have a row."""
  row = {n: i for i, n in enumerate(table.names)}
  missing = [n for n in names if n not in row]
  if missing:
    raise DataError(f"{table.path}: no row for {len(missing)} {role}(s) of the grid, e.g. "
                    f"{missing[0]!r}; it must hold every {role} of the SG embedding table.")
  return table.vectors[[row[n] for n in names]]
