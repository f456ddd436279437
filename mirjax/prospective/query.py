"""`--mode=query` of a universe, answered from `predict`'s files without JAX (well under 2 s).

`--gene=TP53` lists the gene's top candidate miRNAs (`--mirna=...`, a miRNA's top genes; both, one
pair), read from `predictions/all_pairs.parquet` by a filter on its sorted gene column. A candidate
shows its seed sites, TargetScan/PITA membership and the features that raised its score most; a
known pair (with `--include_known`, or asked for by name) shows its records: experiments, evidence
and PMIDs. `--format=csv|json` prints machine-readable rows instead of the table.
"""

import json
import os

import pandas as pd
import pyarrow.dataset as pads
import pyarrow.parquet as pq

from mirjax import ranking
from mirjax import workdir as workdir_lib
from mirjax.errors import MirjaxError
from mirjax.prospective import predict

FORMATS = ("table", "csv", "json")
COLUMNS = ["mirna", "gene", "score", "score_strong", "rank", "rank_in_gene", "status", "evidence",
           "sites_8mer", "sites_7mer_m8", "sites_7mer_a1", "sites_6mer", "targetscan", "pita",
           "reasons"]


def _names(path: str, column: str) -> list[str]:
  """The distinct names of a dictionary-encoded column, from its first row group's dictionary."""
  return pq.ParquetFile(path).read_row_group(0, columns=[column]).column(column).chunk(0) \
      .dictionary.to_pylist()


def _rows(path: str, **equal) -> pd.DataFrame:
  filters = None
  for column, value in equal.items():
    term = pads.field(column) == value
    filters = term if filters is None else filters & term
  table = pads.dataset(path).to_table(columns=COLUMNS, filter=filters).to_pandas()
  for column in ("mirna", "gene", "status", "evidence", "reasons"):
    table[column] = table[column].astype(str)
  return table.sort_values("rank").reset_index(drop=True)


def _records(directory: str, **equal) -> pd.DataFrame:
  path = os.path.join(directory, predict.RECORDS)
  filters = [(column, "=", value) for column, value in equal.items()]
  records = pq.read_table(path, filters=filters).to_pandas()
  return records.sort_values("pmid").reset_index(drop=True)


def answer(workdir: str, query: ranking.Query) -> tuple[pd.DataFrame, pd.DataFrame | None]:
  """(rows, the records of the pairs shown that have any)."""
  directory = os.path.join(workdir, predict.DIR)
  path = os.path.join(directory, predict.PAIRS)
  if not os.path.exists(path):
    raise MirjaxError(f"{path} does not exist: run --mode=predict with the same --config and "
                      "--workdir first.")
  names, where = {}, "this universe (every miRNA and gene with a functional miRTarBase record)"
  if query.mirna:
    names["mirna"] = ranking.resolve_name(query.mirna, _names(path, "mirna"), "miRNA", where)
  if query.gene:
    names["gene"] = ranking.resolve_name(query.gene, _names(path, "gene"), "gene", where)
  if not names:
    raise MirjaxError("a universe's query needs --gene, --mirna or both: 39 M pairs have no "
                      "useful single list.")
  rows = _rows(path, **names)
  if len(names) == 1 and not query.include_known:
    rows = rows[rows["status"] == "unknown"]
  rows = rows.head(query.top).reset_index(drop=True)
  known = rows[rows["status"] != "unknown"]
  records = None
  if len(known):
    records = _records(directory, **names)
    records = records[records["mirna"].astype(str).isin(known["mirna"])
                      & records["gene"].astype(str).isin(known["gene"])]
  return rows, records


def run(config, workdir: str, query: ranking.Query, fmt: str = "table") -> pd.DataFrame:
  """Checks the workdir's recorded config, answers, prints in `fmt`; returns the rows."""
  if fmt not in FORMATS:
    raise MirjaxError(f"--format={fmt!r}: choose one of {FORMATS}.")
  workdir_lib.check_path(workdir, must_exist=True)
  workdir_lib.check_config(workdir, config)
  rows, records = answer(workdir, query)
  if fmt == "csv":
    print(rows.to_csv(index=False, float_format="%.6g"), end="")
  elif fmt == "json":
    out = {"rows": rows.to_dict("records")}
    if records is not None:
      out["records"] = records.astype({"mirna": str, "gene": str, "experiments": str,
                                       "evidence": str}).to_dict("records")
    print(json.dumps(out, indent=1, default=str))
  else:
    print(f"{query.describe()} ({workdir}):\n{ranking.format_table(rows)}")
    if records is not None:
      print(f"\nrecords of the known pairs above:\n{ranking.format_table(records)}")
  return rows
