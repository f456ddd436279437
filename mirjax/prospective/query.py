"""`--mode=query` of a universe, answered from `predict`'s files without JAX (under 2 s).

`--gene=TP53` (or its Entrez ID, 7157) lists the gene's top candidate miRNAs (`--mirna=...`, a
miRNA's top genes, with or without its species prefix; both, one pair), read from
`predictions/all_pairs.parquet` by a filter on its sorted gene column. A candidate shows its seed
sites, TargetScan/PITA membership and the features that raised its score most; a known pair (with
`--include_known`, or asked for by name) shows its records: experiments, evidence and PMIDs.
`--format=csv|json` prints machine-readable rows instead of the table.
"""

import dataclasses
import json
import os

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from mirjax import ranking
from mirjax import workdir as workdir_lib
from mirjax.errors import MirjaxError
from mirjax.prospective import files

def _damaged(path: str, e: Exception) -> MirjaxError:
  return MirjaxError(f"{path} cannot be read ({type(e).__name__}: {str(e).splitlines()[0][:200]}); "
                     "run --mode=predict again.")


def _rows(path: str, by: str, **equal) -> pd.DataFrame:
  """The rows whose columns equal `equal`, sorted by `by`: a file sorted by the filtered column is
  read only in the row groups whose statistics admit the name."""
  try:
    table = pq.read_table(path, filters=[(column, "==", value) for column, value in equal.items()])
  except (OSError, pa.ArrowException) as e:  # predict writes atomically: a copy broke, or a disk
    raise _damaged(path, e) from None
  return table.to_pandas().sort_values(by).reset_index(drop=True)


def _records(directory: str, **equal) -> pd.DataFrame:
  return _rows(os.path.join(directory, files.RECORDS), "pmid", **equal)


def answer(workdir: str, query: ranking.Query) -> tuple[pd.DataFrame, pd.DataFrame | None,
                                                      ranking.Query]:
  """(rows, the records of the pairs shown that have any, the query with its names resolved). A
  gene may be named by its Entrez ID too, where nodes.json lists them (a predict run writes them;
  one of an older version did not)."""
  directory = os.path.join(workdir, files.DIR)
  nodes_path = os.path.join(directory, files.NODES)
  if not os.path.exists(nodes_path):
    raise MirjaxError(f"{nodes_path} does not exist: run --mode=predict with the same --config "
                      "and --workdir first.")
  try:
    with open(nodes_path, encoding="utf-8") as f:
      nodes = json.load(f)
  except (OSError, json.JSONDecodeError) as e:
    raise _damaged(nodes_path, e) from None
  names, where = {}, "this universe (every miRNA and gene with a functional miRTarBase record)"
  if query.gene:
    ids = nodes.get("entrez", [])
    if not ids and query.gene.strip().isdigit():
      raise MirjaxError(f"{nodes_path} lists no Entrez IDs (an older predict wrote it): name the "
                        f"gene by its symbol, or run --mode=predict again.")
    entrez = dict(zip(map(str, ids), nodes["genes"]))
    if len(entrez) < len(ids):
      raise MirjaxError(f"{nodes_path}: two genes share an Entrez ID; run --mode=predict again.")
    names["gene"] = ranking.resolve_name(query.gene, nodes["genes"], "gene", where, entrez)
  if query.mirna:
    names["mirna"] = ranking.resolve_name(query.mirna, nodes["mirnas"], "miRNA", where)
  if not names:
    raise MirjaxError("a universe's query needs --gene, --mirna or both: 39 M pairs have no "
                      "useful single list.")
  rows = _rows(os.path.join(directory, files.PAIRS if "gene" in names
                            else files.PAIRS_BY_MIRNA), "rank", **names)
  if len(names) == 1 and not query.include_known:
    rows = rows[rows["status"] == "unknown"]
  rows = rows.head(query.top).reset_index(drop=True)
  known = rows[rows["status"] != "unknown"]
  records = None
  if len(known):
    records = _records(directory, **names)
    records = records[records["mirna"].astype(str).isin(known["mirna"])
                      & records["gene"].astype(str).isin(known["gene"])]
  return rows, records, dataclasses.replace(query, **names)


def run(config, workdir: str, query: ranking.Query, fmt: str = "table") -> pd.DataFrame:
  """Checks the workdir's recorded config, answers, prints in `fmt`; returns the rows."""
  ranking.check_format(fmt)
  workdir_lib.check_path(workdir, must_exist=True)
  workdir_lib.check_config(workdir, config)
  rows, records, query = answer(workdir, query)
  ranking.print_answer(f"{query.describe()} ({workdir})", rows, fmt, records)
  return rows
