"""TargetScan's and PITA's predicted target lists: the classic sequence-based predictors, as baselines.

The archive holds one file per miRNA and database (`TargetScan/TargetScan_hsa-mir-101.csv`, one Entrez
ID per line). Its names are miRBase's of the time: an exact mature name in any case
(`hsa-mir-576-3p`), or an arm-less, precursor-style one (`hsa-mir-101`). An arm-less name goes to
the arm of that name whose seed has a 7mer or 8mer site in the most of its predicted genes: both
predictors are seed-based, so the right arm has by far the higher share.
"""

import tarfile

import numpy as np
import scipy.sparse

from mirjax.errors import DataError

DATABASES = ("TargetScan", "PITA")


def read_lists(path: str) -> dict[str, dict[str, np.ndarray]]:
  """{database: {miRNA name as the file gives it: int64 Entrez IDs}}."""
  out = {db: {} for db in DATABASES}
  try:
    with tarfile.open(path) as tar:
      for member in tar.getmembers():
        parts = member.name.split("/")
        if not member.isfile() or len(parts) < 2 or parts[-2] not in out:
          continue
        db, name = parts[-2], parts[-1]
        if not (name.startswith(db + "_") and name.endswith(".csv")):
          continue
        text = tar.extractfile(member).read().decode("ascii", "replace").split()
        ids = [int(float(t)) for t in text if t.replace(".", "", 1).isdigit()]
        out[db][name[len(db) + 1:-4]] = np.unique(np.asarray(ids, np.int64))
  except (OSError, EOFError, tarfile.TarError) as e:
    raise DataError(f"{path}: cannot be read as the target-list archive ({e}); replace it.") from e
  if not any(out.values()):
    raise DataError(f"{path}: holds no TargetScan_*.csv or PITA_*.csv list under TargetScan/ or "
                    "PITA/; expected the isb-firm wheel's TargetPredictionDatabases folder.")
  return out


def membership(lists: dict[str, np.ndarray], mirnas, gene_entrez: np.ndarray,
               has_site: np.ndarray) -> tuple[scipy.sparse.csr_matrix, dict]:
  """(bool sparse [n_mirna, n_gene]: gene predicted for miRNA, {how names were matched: count}).

  `has_site` bool [n_mirna, n_gene]: whether the gene's UTR has a 7mer or 8mer site of the miRNA,
  which decides the arm of an arm-less name."""
  by_name: dict[str, list[int]] = {}
  for i, name in enumerate(mirnas):
    by_name.setdefault(name.lower(), []).append(i)
  column = {int(e): j for j, e in enumerate(gene_entrez)}
  rows, cols, how = [], [], {"exact": 0, "one_arm": 0, "arm_by_seed": 0, "both_arms": 0,
                             "none": 0}
  for name, entrez in lists.items():
    genes = np.array([column[e] for e in entrez.tolist() if e in column], np.int64)
    key = name.lower()
    if key in by_name:
      chosen, kind = by_name[key], "exact"
    else:
      arms = by_name.get(key + "-5p", []) + by_name.get(key + "-3p", [])
      if not arms:
        how["none"] += 1
        continue
      share = [has_site[a, genes].mean() if genes.size else 0.0 for a in arms]
      chosen = [arms[int(np.argmax(share))]] if max(share) > min(share) else arms
      kind = "one_arm" if len(arms) == 1 else "arm_by_seed" if len(chosen) == 1 else "both_arms"
    how[kind] += 1
    for i in chosen:
      rows.append(np.full(genes.size, i))
      cols.append(genes)
  rows = np.concatenate(rows) if rows else np.zeros(0, np.int64)
  cols = np.concatenate(cols) if cols else np.zeros(0, np.int64)
  member = scipy.sparse.csr_matrix((np.ones(rows.size, bool), (rows, cols)),
                                   shape=(len(mirnas), len(gene_entrez)), dtype=bool)
  member.sum_duplicates()
  return member, how
