"""A seeded synthetic universe in the real inputs' formats: the prospective protocols' test data.

miRNAs get random mature sequences and genes random 3'UTRs; every planted interaction puts a 7mer or
8mer site of the miRNA in the gene's UTR, and popular nodes (Zipf weights) take part in more of them.
Papers appear in PMID order: many small strong-evidence papers (reporter assays, one to three pairs)
and a few large CLIP papers (dozens of pairs), each reporting planted pairs, popular ones first, so
that the next paper's pairs are predictable from seed sites and from who was studied before, as on
the real table. Written as miRTarBase's MTI table, miRBase's mature FASTA, the UTR table and the
TargetScan/PITA archive, so `universe.build` reads them through the real parsers.
"""

import gzip
import io
import os
import tarfile

import numpy as np
import pandas as pd

from mirjax import atomic
from mirjax.data import sources

_COMPLEMENT = str.maketrans("ACGT", "TGCA")


def _random_seq(rng, n: int) -> str:
  return "".join(rng.choice(list("ACGT"), n))


def write_files(directory: str, *, n_mirna: int = 40, n_gene: int = 150, n_strong_papers: int = 400,
                n_clip_papers: int = 20, seed: int = 0) -> dict[str, str]:
  """Writes the four inputs of a universe under their registered file names; returns the paths."""
  rng = np.random.default_rng(seed)
  mature = [_random_seq(rng, 22) for _ in range(n_mirna)]
  names = [f"hsa-miR-{900 + i}-5p" for i in range(n_mirna)]
  w_m = 1.0 / np.arange(1, n_mirna + 1) ** 0.8
  w_g = 1.0 / np.arange(1, n_gene + 1) ** 0.8
  planted = rng.random((n_mirna, n_gene)) < 0.35 * np.sqrt(np.outer(w_m / w_m.max(),
                                                                    w_g / w_g.max())) + 0.03
  utrs = [list(_random_seq(rng, 400)) for _ in range(n_gene)]
  for m, g in zip(*np.nonzero(planted)):
    site = mature[m][1:8].translate(_COMPLEMENT)[::-1] + ("A" if rng.random() < 0.5 else "C")
    at = int(rng.integers(0, len(utrs[g])))
    utrs[g][at:at] = list(site)
  pairs = np.argwhere(planted)
  weight = w_m[pairs[:, 0]] * w_g[pairs[:, 1]]
  rows = []
  pmids = np.sort(rng.choice(np.arange(10_000_000, 29_000_000, 1000), n_strong_papers + n_clip_papers,
                             replace=False))
  kinds = rng.permutation(["strong"] * n_strong_papers + ["clip"] * n_clip_papers)
  for pmid, kind in zip(pmids, kinds):
    k = int(rng.integers(1, 4)) if kind == "strong" else int(rng.integers(20, 60))
    chosen = rng.choice(len(pairs), min(k, len(pairs)), replace=False, p=weight / weight.sum())
    for m, g in pairs[chosen]:
      functional = rng.random() > 0.03
      rows.append({"mirna": names[m], "gene": g, "pmid": int(pmid),
                   "experiments": ("Luciferase reporter assay//Western blot" if kind == "strong"
                                   else "PAR-CLIP"),
                   "support": ("Functional MTI" if kind == "strong" else "Functional MTI (Weak)")
                   if functional else "Non-Functional MTI"})
  df = pd.DataFrame(rows)
  mti = pd.DataFrame({"miRTarBase ID": [f"MIRT{i:06d}" for i in range(len(df))],
                      "miRNA": df["mirna"], "Species (miRNA)": "Homo sapiens",
                      "Target Gene": [f"GENE{g}" for g in df["gene"]],
                      "Target Gene (Entrez Gene ID)": df["gene"] + 1,
                      "Species (Target Gene)": "Homo sapiens", "Experiments": df["experiments"],
                      "Support Type": df["support"], "References (PMID)": df["pmid"]})
  paths = {key: os.path.join(directory, sources.SOURCES[key].filename)
           for key in ("mirtarbase", "mirbase_mature", "utr3", "target_predictions")}
  with atomic.atomic_path(paths["mirtarbase"]) as tmp:
    mti.to_csv(tmp, index=False)
  with atomic.atomic_path(paths["mirbase_mature"]) as tmp, gzip.open(tmp, "wt") as f:
    for i, (name, seq) in enumerate(zip(names, mature)):
      f.write(f">{name} MIMAT{i:07d} Homo sapiens\n{seq.replace('T', 'U')}\n")
  with atomic.atomic_path(paths["utr3"]) as tmp, gzip.open(tmp, "wt") as f:
    for g, utr in enumerate(utrs):
      f.write(f"{g + 1},{''.join(utr)}\n")
  with atomic.atomic_path(paths["target_predictions"]) as tmp, tarfile.open(tmp, "w:gz") as tar:
    for db in ("TargetScan", "PITA"):
      for m in range(0, n_mirna, 2):  # half the miRNAs, by their arm-less name
        genes = np.flatnonzero(planted[m] | (rng.random(n_gene) < 0.1)) + 1
        data = "\n".join(map(str, genes)).encode()
        info = tarfile.TarInfo(f"TargetPredictionDatabases/{db}/{db}_{names[m][:-3]}.csv")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
  return paths
