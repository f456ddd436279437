"""Where `--mode=predict` writes, and what `--mode=query` reads: one owner for the names (a
universe's files; the grid's in mirjax/predict.py share the directory), importable without JAX so
that a query answers in well under 2 s."""

DIR = "predictions"
PAIRS = "all_pairs.parquet"  # every pair, sorted by gene then rank
PAIRS_BY_MIRNA = "all_pairs_by_mirna.parquet"  # the same rows sorted by miRNA then rank
RECORDS = "records.parquet"  # every record of the table
NODES = "nodes.json"  # the universe's miRNA and gene names


def top_list(by: str) -> str:
  """Each node's top unknown candidates, by 'gene' or 'mirna'."""
  return f"top_by_{by}.csv"
