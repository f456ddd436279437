"""Readers for the two kinds of input table, with errors that name the file, line and field.

Line numbers in messages are 1-based lines of the file as a text editor shows them
(the header is line 1), so a user can jump straight to the offending row.
"""

import dataclasses
import os

import numpy as np
import pandas as pd

from mirjax.errors import DataError

NAME_COLUMN = "label"
MTI_COLUMNS = ("miRNA", "Target Gene", "Support Type")
FUNCTIONAL_SUPPORT = ("Functional MTI", "Functional MTI (Weak)")


@dataclasses.dataclass(frozen=True)
class EmbeddingTable:
  names: tuple[str, ...]
  vectors: np.ndarray  # float32 [n, dim]
  path: str


def _read_csv(path: str, **kwargs) -> pd.DataFrame:
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
  df = _read_csv(path, dtype=str, keep_default_na=False)
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
  genes a and b. No pair of the grid is in it, so no fold's test pair can be: it adds the rows and
  columns that EASE's Gram matrices (X X^T, X^T X) would have on the whole table.
  """
  mirna_gram: np.ndarray  # float32 [n_mirna, n_mirna]
  gene_gram: np.ndarray  # float32 [n_gene, n_gene]
  n_pairs: int  # functional pairs with exactly one end in the grid's miRNAs or genes


def read_grid_evidence(path: str, mirnas: tuple[str, ...], genes: tuple[str, ...]) -> GridEvidence:
  """Reads a miRTarBase MTI table (.csv or .csv.gz) and marks the grid pairs it supports."""
  df = _read_csv(path, usecols=lambda c: c in MTI_COLUMNS, dtype=str, keep_default_na=False)
  missing = [c for c in MTI_COLUMNS if c not in df.columns]
  if missing:
    raise DataError(f"{path}: header lacks column(s) {missing}; expected a miRTarBase MTI table "
                    f"with columns {list(MTI_COLUMNS)}.")
  return grid_evidence(df, mirnas, genes)


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
  """The `SideGraph` of the grid in a table of functional records (columns as `MTI_COLUMNS`)."""
  pairs = functional_mti[["miRNA", "Target Gene"]].astype(str).apply(lambda c: c.str.strip())
  pairs = pairs.drop_duplicates()
  mi = pd.Index(mirnas).get_indexer(pairs["miRNA"])
  gi = pd.Index(genes).get_indexer(pairs["Target Gene"])

  def gram(rows: np.ndarray, outside: pd.Series, n: int) -> np.ndarray:
    """[n, n] counts of the outside nodes that grid nodes `rows` share (one record per edge)."""
    codes, names = pd.factorize(outside)
    x = np.zeros((n, max(len(names), 1)), np.float32)
    x[rows, codes] = 1.0
    return x @ x.T

  to_outside_gene, from_outside_mirna = (mi >= 0) & (gi < 0), (mi < 0) & (gi >= 0)
  return SideGraph(
      gram(mi[to_outside_gene], pairs["Target Gene"][to_outside_gene], len(mirnas)),
      gram(gi[from_outside_mirna], pairs["miRNA"][from_outside_mirna], len(genes)),
      int(to_outside_gene.sum() + from_outside_mirna.sum()))


def aligned(table: EmbeddingTable, names: tuple[str, ...], role: str) -> np.ndarray:
  """table's vectors in the order of `names` (the grid's); every name must have a row."""
  row = {n: i for i, n in enumerate(table.names)}
  missing = [n for n in names if n not in row]
  if missing:
    raise DataError(f"{table.path}: no row for {len(missing)} {role}(s) of the grid, e.g. "
                    f"{missing[0]!r}; it must hold every {role} of the SG embedding table.")
  return table.vectors[[row[n] for n in names]]
