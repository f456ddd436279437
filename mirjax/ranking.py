"""Ranked views of the scored grid: top unknown pairs, top genes of a miRNA, top miRNAs of a gene.

Works on the `predictions/all_pairs.csv` table (columns mirna, gene, score, score_std, rank, status),
so queries need no JAX and answer in well under a second.
"""

import dataclasses
import difflib
import json
import re

import pandas as pd

from mirjax.errors import MirjaxError


@dataclasses.dataclass(frozen=True)
class Query:
  """What --mode=query asks: a miRNA's top genes, a gene's top miRNAs, one pair, or (neither)
  the top pairs overall; lists hold unknown pairs only unless include_known."""
  mirna: str = ""
  gene: str = ""
  top: int = 20
  include_known: bool = False  # rank every pair, not only the unknown ones

  def describe(self) -> str:
    scope = "all pairs" if self.include_known else "unknown pairs"
    if self.mirna and self.gene:
      return f"pair {self.mirna} – {self.gene}"
    if self.mirna:
      return f"top {self.top} genes for {self.mirna} ({scope})"
    if self.gene:
      return f"top {self.top} miRNAs for {self.gene} ({scope})"
    return f"top {self.top} {scope} overall"


def resolved(grid: pd.DataFrame, query: Query) -> Query:
  """The query with its names as the grid spells them (what its answer's header shows)."""
  return dataclasses.replace(
      query, mirna=resolve_name(query.mirna, grid["mirna"].unique(), "miRNA") if query.mirna else "",
      gene=resolve_name(query.gene, grid["gene"].unique(), "gene") if query.gene else "")


def answer(grid: pd.DataFrame, query: Query) -> pd.DataFrame:
  """The rows that answer a list query (not a single-pair one)."""
  if query.mirna:
    return top_genes_for_mirna(grid, query.mirna, query.top, query.include_known)
  if query.gene:
    return top_mirnas_for_gene(grid, query.gene, query.top, query.include_known)
  return _top(grid, query.top, query.include_known)


FORMATS = ("table", "csv", "json")  # how --mode=query prints its answer


def format_table(df: pd.DataFrame) -> str:
  """A table for a reader: four decimals, and '-' where a value does not apply (an unknown pair's
  evidence class) rather than NaN."""
  return df.to_string(index=False, float_format=lambda v: f"{v:.4f}", na_rep="-")


def check_format(fmt: str) -> None:
  if fmt not in FORMATS:
    raise MirjaxError(f"--format={fmt!r}: choose one of {FORMATS}.")


def print_answer(title: str, rows: pd.DataFrame, fmt: str,
                 records: pd.DataFrame | None = None) -> None:
  """Prints a query's rows, and the records of the known pairs among them, as tables under `title`
  for a reader, or as CSV (the rows) or JSON (both) for a program."""
  check_format(fmt)
  if fmt == "csv":
    print(rows.to_csv(index=False, float_format="%.6g"), end="")
  elif fmt == "json":
    out = {"rows": json.loads(rows.to_json(orient="records"))}  # a missing value is null, not NaN
    if records is not None:
      out["records"] = json.loads(records.to_json(orient="records"))
    print(json.dumps(out, indent=1))
  else:
    print(f"{title}:\n{format_table(rows)}")
    if records is not None:
      print(f"\nrecords of the known pairs above:\n{format_table(records)}")


class UnknownNameError(MirjaxError, KeyError):
  """A miRNA or gene name that is not in the grid."""

  def __str__(self):  # KeyError would quote the message
    return str(self.args[0])


GRID = "the grid (only names with an embedding can be scored)"


def resolve_name(name: str, valid, kind: str, where: str = GRID, aliases: dict | None = None) -> str:
  """Returns the valid spelling of `name` (spaces around it ignored): exact, else case-insensitive,
  else the one valid name that is `name` behind a species prefix (miR-21-5p for hsa-miR-21-5p), else
  what `aliases` maps it to (a gene's Entrez ID); or raises naming `where` the names come from, with
  suggestions."""
  valid, name = list(valid), name.strip()
  if name in valid:
    return name
  folded = {v.lower(): v for v in valid}
  if name.lower() in folded:
    return folded[name.lower()]
  prefixed = [v for v in valid if (m := _SPECIES.fullmatch(v)) and m[1].lower() == name.lower()]
  if len(prefixed) == 1:
    return prefixed[0]
  if len(prefixed) > 1:
    raise UnknownNameError(f"{kind} {name!r} is ambiguous in {where}: {', '.join(prefixed)}; give "
                           "its species prefix.")
  if aliases is not None and name.isdigit():  # an ID is matched exactly, never by similarity
    if name in aliases:
      return aliases[name]
    raise UnknownNameError(f"no {kind} of {where} has the ID {name}.")
  contains = [v for v in valid if name.lower() in v.lower()]
  close = difflib.get_close_matches(name, valid, n=8, cutoff=0.0)  # always the 8 most similar
  suggestions = list(dict.fromkeys(contains[:3] + close))[:8]
  raise UnknownNameError(
      f"{kind} {name!r} is not in {where} ({len(valid)} {kind}s). Closest valid names: "
      f"{', '.join(suggestions)}.")


# A miRBase name's species prefix (hsa-, mmu-, kshv-: lower-case letters and digits), which users
# often leave out; a gene symbol's first part is upper case (HLA-A), so it never reads as one.
_SPECIES = re.compile(r"[a-z][a-z0-9]{2,4}-(.+)")


def _top(df: pd.DataFrame, n: int, include_known: bool) -> pd.DataFrame:
  if not include_known:
    df = df[df["status"] == "unknown"]
  return df.sort_values("rank").head(n).reset_index(drop=True)


def top_genes_for_mirna(grid: pd.DataFrame, mirna: str, n: int,
                        include_known: bool = False) -> pd.DataFrame:
  mirna = resolve_name(mirna, grid["mirna"].unique(), "miRNA")
  return _top(grid[grid["mirna"] == mirna], n, include_known)


def top_mirnas_for_gene(grid: pd.DataFrame, gene: str, n: int,
                        include_known: bool = False) -> pd.DataFrame:
  gene = resolve_name(gene, grid["gene"].unique(), "gene")
  return _top(grid[grid["gene"] == gene], n, include_known)


def pair_row(grid: pd.DataFrame, mirna: str, gene: str) -> pd.Series:
  mirna = resolve_name(mirna, grid["mirna"].unique(), "miRNA")
  gene = resolve_name(gene, grid["gene"].unique(), "gene")
  return grid[(grid["mirna"] == mirna) & (grid["gene"] == gene)].iloc[0]
