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
[n_utr, n_codes] matrix, and a miRNA's counts are 25 of its columns. Two more tallies of the same
codes sum what TargetScan's context score reads at a site beyond its type: the A/U share of its
flanks and its distance to the UTR's nearer end (sites in A/U-rich flanks and away from the middle
of long UTRs repress more; Grimson et al. 2007), so a pair's sites carry their context too.
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
_N_CONTEXT = 5 * 4 ** 6 * 5  # (base before, 6-mer, base after): _context_column's range
_A = 0
# The a priori efficacy of each site type (8mer > 7mer-m8 > 7mer-A1 > 6mer; Bartel 2009): the weights
# of the seed-site score (the seed-site baseline) and of a pair's site-context averages.
SITE_WEIGHTS = np.array([3.0, 2.0, 1.5, 0.5], np.float32)
FLANK = 30  # nt either side of a site whose A/U share is its local A/U content


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


def map_mirnas(names, mature: dict[str, Mature]) -> tuple[list[Mature | None], dict]:
  """Each miRTarBase miRNA's miRBase entry (None where miRBase has none), and the counts of how
  each was found: the exact name; else, for an arm-less name whose miRBase entry was since split
  into -5p/-3p (hsa-miR-137), the arm with the lower MIMAT accession (miRBase keeps the original
  accession on the arm that was the original mature)."""
  entries, how = [], {"exact": 0, "arm": 0, "none": 0}
  for name in names:
    arms = [a for a in (f"{name}-5p", f"{name}-3p") if a in mature]
    if name in mature:
      entries.append(mature[name])
      how["exact"] += 1
    elif arms:
      entries.append(mature[min(arms, key=lambda a: mature[a].accession)])
      how["arm"] += 1
    else:
      entries.append(None)
      how["none"] += 1
  return entries, how


def catalogue_order(entries: list[Mature | None], mature: dict[str, Mature],
                    species: str = "hsa-") -> np.ndarray:
  """float32 [n]: each entry's place in miRBase's catalogue, the share of the species' mature
  entries whose MIMAT accession is lower (1.0 for None). Accessions are given in order of entry, so
  this is when a miRNA was catalogued: the first cloned are the abundant, conserved ones (let-7,
  miR-21), the last, from deep sequencing, mostly scarce. A property of the miRNA alone, fixed
  before any record of it, and one that a new miRNA has too. Accessions are MIMAT and 7 digits, so
  their text order is their number's; an entry without one counts as the newest."""
  order = np.sort([m.accession for k, m in mature.items() if k.startswith(species) and m.accession])
  return np.array([np.searchsorted(order, e.accession) / max(len(order), 1)
                   if e and e.accession else 1.0 for e in entries], np.float32)


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
    return cls(int(np.dot(target, _PLACES)), int(complement[7]))


_PLACES = 4 ** np.arange(5, -1, -1)  # a 6-mer's code: its bases (A, C, G, T = 0..3) in base 4


def _context_column(before, six, after):
  """The Contexts column of a 6-mer (its code) with the bases before and after it (0..4, 4: N)."""
  return (before * 4 ** 6 + six) * 5 + after


class Contexts(NamedTuple):
  """Tallies over every 6-mer of each UTR, one column per (base before, 6-mer, base after) (columns:
  `_context_column`; a 6-mer with an N in it not counted): how many there are, and
  the sums of two things TargetScan's context score reads at a site (Grimson et al. 2007): the
  A/U share of its flanks and how far it lies from the UTR's nearer end. Both are read on the
  deduplicated UTR (`deduplicated`): where the table repeated stretches, positions are those of the
  stretches joined by one N, not transcript coordinates, and a flank may reach across a join."""
  count: scipy.sparse.csc_matrix  # int32 [n_utr, _N_CONTEXT]
  au: scipy.sparse.csc_matrix  # float32: sum of the A/U share of the FLANK nt either side
  end: scipy.sparse.csc_matrix  # float32: sum of log10(1 + nt to the nearer end of the UTR)


def _flank_au(codes: np.ndarray, n: int) -> np.ndarray:
  """float32 [n]: for the 6-mer at each position i, the A/U share of the A/C/G/T letters in the FLANK
  nt before its m8 position (i - 1) and the FLANK nt after its A1 position (i + 6); 0.5 without any."""
  letters = np.r_[0, np.cumsum(codes < _N)]
  au = np.r_[0, np.cumsum((codes == _A) | (codes == 3))]
  i = np.arange(n)
  windows = ((np.maximum(i - 1 - FLANK, 0), np.maximum(i - 1, 0)),
             (np.minimum(i + 7, len(codes)), np.minimum(i + 7 + FLANK, len(codes))))
  n_letters = sum(letters[b] - letters[a] for a, b in windows)
  n_au = sum(au[b] - au[a] for a, b in windows)
  return np.where(n_letters > 0, n_au / np.maximum(n_letters, 1), 0.5).astype(np.float32)


def contexts(utrs: list[str]) -> Contexts:
  """The Contexts of each UTR, one row per UTR."""
  rows, cols, au, end = [], [], [], []
  for u, sequence in enumerate(utrs):
    codes = encode(sequence)
    n = len(codes) - 5
    if n <= 0:
      continue
    windows = np.lib.stride_tricks.sliding_window_view(codes, 6)
    valid = (windows < _N).all(1)
    six = windows.astype(np.int64) @ _PLACES
    code = _context_column(np.r_[_N, codes[:n - 1]].astype(np.int64), six,
                           np.r_[codes[6:], _N].astype(np.int64))
    cols.append(code[valid])
    rows.append(np.full(int(valid.sum()), u, np.int32))
    au.append(_flank_au(codes, n)[valid])
    i = np.arange(n)
    end.append(np.log10(1.0 + np.minimum(i, n - 1 - i)).astype(np.float32)[valid])
  rows = np.concatenate(rows) if rows else np.zeros(0, np.int32)
  cols = np.concatenate(cols) if cols else np.zeros(0, np.int64)

  def tally(values):
    return scipy.sparse.csc_matrix((values, (rows, cols)), shape=(len(utrs), _N_CONTEXT))
  return Contexts(tally(np.ones(len(rows), np.int32)),
                  *(tally(np.concatenate(v) if v else np.zeros(0, np.float32)) for v in (au, end)))


def _by_type(block: np.ndarray, m8: int) -> np.ndarray:
  """[n_utr, 4] sums per site type (SITE_TYPES order) of a [n_utr, before, after] block of a 6-mer's
  tallies, for a miRNA whose nt 8 pairs with base m8: each site counted once, at its most specific
  type."""
  a1 = block[:, :, _A]
  eight = a1[:, m8]
  seven_m8 = block[:, m8].sum(1) - eight
  seven_a1 = a1.sum(1) - eight
  six = block.sum((1, 2)) - eight - seven_m8 - seven_a1
  return np.stack([eight, seven_m8, seven_a1, six], 1)


def seed_sites(seeds: list[Seed], ctx: Contexts) -> tuple[np.ndarray, np.ndarray]:
  """Each miRNA's sites in each UTR: uint16 [n_mirna, n_utr, 4] counts of its 8mer, 7mer-m8, 7mer-A1
  and 6mer sites (SITE_TYPES order), and float16 [n_mirna, n_utr, 2] the flank A/U share and the
  log distance to the nearer end, averaged over its sites weighted by SITE_WEIGHTS (0 without a
  site). miRNAs sharing a 6-mer target share one gather."""
  counts = np.zeros((len(seeds), ctx.count.shape[0], 4), np.uint16)
  context = np.zeros((len(seeds), ctx.count.shape[0], 2), np.float16)
  by_target: dict[int, list[int]] = {}
  for i, seed in enumerate(seeds):
    by_target.setdefault(seed.target6, []).append(i)
  before, after = np.meshgrid(np.arange(5), np.arange(5), indexing="ij")
  for target, members in by_target.items():
    cols = _context_column(before, target, after).ravel()
    blocks = [m[:, cols].toarray().reshape(-1, 5, 5) for m in ctx]  # [n_utr, before, after]
    for i in members:
      count, *sums = (_by_type(b, seeds[i].m8) for b in blocks)
      counts[i] = np.minimum(count, 65535)
      weight = count @ SITE_WEIGHTS
      context[i] = np.stack([s @ SITE_WEIGHTS for s in sums], 1) / np.maximum(weight, 1e-9)[:, None]
  return counts, context
