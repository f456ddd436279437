"""Sequences: miRBase's mature miRNAs, human 3'UTRs, and the seed sites of a miRNA in a UTR.

A miRNA finds its targets by its seed, nucleotides 2-8 (Bartel 2009; TargetScan's site types): in
the target mRNA's 3'UTR a site pairs with the seed, read 5'->3' as the reverse complement of
miRNA nt 2-7, optionally extended by a match to nt 8 just 5' of it ('m8') and an A just 3' of it,
opposite miRNA position 1 ('A1'):
  8mer = m8 and A1;  7mer-m8 = m8 only;  7mer-A1 = A1 only;  6mer = neither.
Each site is counted once, at its most specific type. These are content a new miRNA or gene has
too (cold start), and the biology that can carry across papers.

Counting is vectorized: every position of every UTR gets one context code (the 6-mer, the base
before it and the base after it, N for none), the codes are tallied per UTR once into a sparse
[n_utr, n_codes] matrix, and a miRNA's counts are 16 of its columns.
"""

import dataclasses
import gzip
import re
from typing import NamedTuple

import numpy as np
import pandas as pd
import scipy.sparse

from mirjax.errors import DataError

SITE_TYPES = ("8mer", "7mer_m8", "7mer_a1", "6mer")
_BASES = "ACGT"
_N = 4  # code of any other letter (N, ...) and of "no base" beyond a UTR's ends
_CODE = np.full(256, _N, np.uint8)
for _i, _b in enumerate(_BASES):
  _CODE[ord(_b)] = _CODE[ord(_b.lower())] = _i
_CODE[ord("U")] = _CODE[ord("u")] = 3  # RNA reads as DNA
_N_CONTEXT = 5 * 4 ** 6 * 5  # (base before, 6-mer, base after)
_A = 0


class Mature(NamedTuple):
  accession: str  # MIMAT...
  sequence: str  # DNA letters


def read_mature(path: str) -> dict[str, Mature]:
  """{name: Mature} of a miRBase mature FASTA (`>hsa-miR-21-5p MIMAT0000076 Homo sapiens ...`)."""
  entries, current, header = {}, [], None

  def close(number: int):
    if header is not None:
      if not current:
        raise DataError(f"{path}: line {number - 1}: entry {header[0]!r} has no sequence.")
      entries[header[0]] = Mature(header[1], "".join(current))
  opener = gzip.open if path.endswith(".gz") else open
  number = 0
  try:
    with opener(path, "rt", encoding="ascii") as f:
      for number, line in enumerate(f, 1):
        line = line.strip()
        if line.startswith(">"):
          close(number)
          fields = line[1:].split()
          if not fields:
            raise DataError(f"{path}: line {number}: a FASTA header without a name.")
          header, current = (fields[0], fields[1] if len(fields) > 1 else ""), []
        elif line:
          if header is None:
            raise DataError(f"{path}: line {number}: sequence before the first '>' header; "
                            "expected miRBase's mature.fa.")
          current.append(line.upper().replace("U", "T"))
  except (OSError, EOFError, UnicodeDecodeError) as e:
    raise DataError(f"{path}: cannot be read ({e}); replace it with a fresh copy.") from e
  close(number + 1)
  return entries


def map_mirnas(names, mature: dict[str, Mature]) -> tuple[list[str | None], dict]:
  """Each miRTarBase miRNA's mature sequence (None where miRBase has none), and the counts of how
  each was found: the exact name; else, for an arm-less name whose miRBase entry was since split
  into -5p/-3p (hsa-miR-137), the arm with the lower MIMAT accession (miRBase keeps the original
  accession on the arm that was the original mature)."""
  sequences, how = [], {"exact": 0, "arm": 0, "none": 0}
  for name in names:
    arms = [a for a in (f"{name}-5p", f"{name}-3p") if a in mature]
    if name in mature:
      sequences.append(mature[name].sequence)
      how["exact"] += 1
    elif arms:
      first = min(arms, key=lambda a: mature[a].accession)
      sequences.append(mature[first].sequence)
      how["arm"] += 1
    else:
      sequences.append(None)
      how["none"] += 1
  return sequences, how


def read_utrs(path: str) -> dict[int, str]:
  """{Entrez gene ID: 3'UTR (DNA)} of a header-less `entrez,sequence` table."""
  try:
    df = pd.read_csv(path, header=None, names=["entrez", "sequence"], dtype={"sequence": str},
                     compression="infer")
  except (pd.errors.ParserError, pd.errors.EmptyDataError, OSError, EOFError,
          UnicodeDecodeError) as e:
    raise DataError(f"{path}: not a readable `entrez,sequence` table ({e}); replace it.") from e
  entrez = pd.to_numeric(df["entrez"], errors="coerce")
  bad = np.flatnonzero(entrez.isna().to_numpy() | df["sequence"].isna().to_numpy())
  if bad.size:
    raise DataError(f"{path}: line {bad[0] + 1} is not 'Entrez gene ID,sequence' "
                    f"({int(bad.size)} such line(s)).")
  return dict(zip(entrez.astype(np.int64).tolist(), df["sequence"].str.upper().tolist()))


def deduplicated(utr: str) -> str:
  """The UTR with each stretch between runs of N kept once, in order of first appearance: the UTR
  table repeats some stretches (TP53's 1,778 distinct letters come as 75 stretches, 24 copies of
  one), which would multiply their seed sites."""
  seen = dict.fromkeys(part for part in re.split("N+", utr.upper()) if part)
  return "N".join(seen)


def encode(sequence: str) -> np.ndarray:
  """uint8 codes of a sequence: A C G T/U -> 0..3, anything else -> 4 (N)."""
  return _CODE[np.frombuffer(sequence.encode("ascii", "replace"), np.uint8)]


@dataclasses.dataclass(frozen=True)
class Seed:
  """What a miRNA's sites in a UTR are matched by: its 6-mer target and the base opposite nt 8."""
  target6: int  # code of the reverse complement of nt 2-7, as the UTR reads it
  m8: int  # the UTR base that pairs with nt 8 (just 5' of the 6-mer)

  @classmethod
  def of(cls, mature: str) -> "Seed":
    codes = encode(mature)
    if len(codes) < 8 or (codes[1:8] == _N).any():
      raise ValueError(f"a mature miRNA needs A/C/G/U at nt 2-8; got {mature!r}")
    complement = 3 - codes  # A<->T (0<->3), C<->G (1<->2)
    target = complement[1:7][::-1]  # nt 7..2, complemented: the UTR reads 5'->3'
    return cls(int(np.dot(target, 4 ** np.arange(5, -1, -1))), int(complement[7]))


def context_counts(utrs: list[str]) -> scipy.sparse.csc_matrix:
  """[n_utr, _N_CONTEXT] counts of (base before, 6-mer, base after) at every 6-mer of each UTR
  (columns: (before * 4096 + six) * 5 + after), a 6-mer with an N in it not counted."""
  rows, cols = [], []
  for u, sequence in enumerate(utrs):
    codes = encode(sequence)
    n = len(codes) - 5
    if n <= 0:
      continue
    windows = np.lib.stride_tricks.sliding_window_view(codes, 6)
    valid = (windows < _N).all(1)
    six = windows.astype(np.int64) @ (4 ** np.arange(5, -1, -1))
    before = np.r_[_N, codes[:n - 1]].astype(np.int64)
    after = np.r_[codes[6:], _N].astype(np.int64)
    code = (before * 4096 + six) * 5 + after
    cols.append(code[valid])
    rows.append(np.full(int(valid.sum()), u, np.int32))
  rows = np.concatenate(rows) if rows else np.zeros(0, np.int32)
  cols = np.concatenate(cols) if cols else np.zeros(0, np.int64)
  return scipy.sparse.csc_matrix((np.ones(len(rows), np.int32), (rows, cols)),
                                 shape=(len(utrs), _N_CONTEXT))


def site_counts(seeds: list[Seed], contexts: scipy.sparse.csc_matrix) -> np.ndarray:
  """uint16 [n_mirna, n_utr, 4]: each miRNA's 8mer, 7mer-m8, 7mer-A1 and 6mer sites in each UTR
  (SITE_TYPES order), from `context_counts`. miRNAs sharing a 6-mer target share one gather."""
  out = np.zeros((len(seeds), contexts.shape[0], 4), np.uint16)
  by_target: dict[int, list[int]] = {}
  for i, seed in enumerate(seeds):
    by_target.setdefault(seed.target6, []).append(i)
  before, after = np.meshgrid(np.arange(5), np.arange(5), indexing="ij")
  for target, members in by_target.items():
    cols = ((before * 4096 + target) * 5 + after).ravel()
    block = contexts[:, cols].toarray().reshape(-1, 5, 5)  # [n_utr, before, after]
    a1 = block[:, :, _A]  # [n_utr, before]
    total = block.sum(2)
    for i in members:
      m8 = seeds[i].m8
      eight = a1[:, m8]
      seven_m8 = total[:, m8] - eight
      seven_a1 = a1.sum(1) - eight
      six = total.sum(1) - eight - seven_m8 - seven_a1
      out[i] = np.minimum(np.stack([eight, seven_m8, seven_a1, six], 1), 65535)
  return out
