"""Seed sites by brute force on planted sequences; the FASTA and UTR readers' plain errors."""

import gzip

import numpy as np
import pytest

from mirjax.data import sequences
from mirjax.errors import DataError

_COMPLEMENT = {"A": "T", "C": "G", "G": "C", "T": "A"}


def _revcomp(s: str) -> str:
  return "".join(_COMPLEMENT[c] for c in reversed(s))


def brute_force_sites(mature: str, utr: str) -> tuple[list[int], list[float]]:
  """(8mer, 7mer-m8, 7mer-A1, 6mer) by scanning every position for the 6-mer core and reading its
  two flanks, and the sites' flank A/U share and log10 distance to the nearer UTR end averaged with
  the type weights, written independently of the vectorized counter."""
  m = mature.upper().replace("U", "T")
  core, m8 = _revcomp(m[1:7]), _COMPLEMENT[m[7]]
  counts, weighted = [0, 0, 0, 0], np.zeros(3)
  for i in range(len(utr) - 5):
    if utr[i:i + 6] != core:
      continue
    has_m8 = i > 0 and utr[i - 1] == m8
    has_a1 = i + 6 < len(utr) and utr[i + 6] == "A"
    kind = 0 if has_m8 and has_a1 else 1 if has_m8 else 2 if has_a1 else 3
    counts[kind] += 1
    flanks = [b for b in utr[max(i - 31, 0):max(i - 1, 0)] + utr[i + 7:i + 37] if b in "ACGT"]
    au = sum(b in "AT" for b in flanks) / len(flanks) if flanks else 0.5
    end = np.log10(1 + min(i, len(utr) - 6 - i))
    weighted += sequences.SITE_WEIGHTS[kind] * np.array([1.0, au, end])
  return counts, list(weighted[1:] / weighted[0]) if weighted[0] else [0.0, 0.0]


def _planted(rng, mirnas, n_utrs=40):
  """Random UTRs (some with Ns) with each type of site of random miRNAs planted in them."""
  utrs = []
  for _ in range(n_utrs):
    alphabet = list("ACGTN") if rng.random() < 0.3 else list("ACGT")
    s = list("".join(rng.choice(alphabet, rng.integers(0, 300))))
    for m in rng.choice(mirnas, 6):
      m = m.replace("U", "T")
      site = _revcomp(m[1:8]) + ("A" if rng.random() < 0.5 else "C")  # 8mer or 7mer-m8
      if rng.random() < 0.4:  # lose the m8 match: 7mer-A1 or 6mer
        site = ("A" if site[0] != "A" else "C") + site[1:]
      at = int(rng.integers(0, len(s) + 1))
      s[at:at] = list(site)
    utrs.append("".join(s))
  return utrs


def test_seed_sites_and_their_context_equal_a_brute_force_scan():
  rng = np.random.default_rng(0)
  mirnas = ["".join(rng.choice(list("ACGU"), 22)) for _ in range(25)]
  mirnas.append(mirnas[0][:7] + ("A" if mirnas[0][7] != "A" else "C") + mirnas[0][8:])  # one core,
  utrs = _planted(rng, mirnas)  # another nt 8: shares the gather, not the counts
  got, context = sequences.seed_sites([sequences.Seed.of(m) for m in mirnas],
                                      sequences.contexts(utrs))
  brute = [[brute_force_sites(m, u) for u in utrs] for m in mirnas]
  want = np.array([[b[0] for b in row] for row in brute])
  assert got.shape == (len(mirnas), len(utrs), 4)
  np.testing.assert_array_equal(got, want)
  assert (want.sum(axis=(0, 1)) > 10).all()  # every site type was planted and found
  want_context = np.array([[b[1] for b in row] for row in brute])
  assert context.shape == (len(mirnas), len(utrs), 2) and context.dtype == np.float16
  np.testing.assert_allclose(context, want_context, atol=2e-3)  # float16
  sited = want.sum(-1) > 0
  assert np.ptp(want_context[sited], 0).min() > 0.3  # both vary across the planted sites


def test_one_site_of_each_type():
  mir = "UGAGGUAGUAGGUUGUAUAGUU"  # let-7a: seed GAGGUAG, 7mer-m8 site CTACCTC
  core = _revcomp("TGAGGTAGTAGG"[1:7])  # the 6-mer the UTR reads: TACCTC
  utrs = ["GG" + "C" + core + "A" + "GG",  # m8 C + A1: 8mer
          "GG" + "C" + core + "G" + "GG",  # 7mer-m8
          "GG" + "T" + core + "A" + "GG",  # 7mer-A1
          "GG" + "T" + core + "G" + "GG",  # 6mer
          core + "A",  # at the very start: no base before it, A after: 7mer-A1
          "GGN" + core + "A"]  # an N before it is no m8 match
  got = sequences.seed_sites([sequences.Seed.of(mir)], sequences.contexts(utrs))[0][0]
  np.testing.assert_array_equal(got, [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1],
                                      [0, 0, 1, 0], [0, 0, 1, 0]])


def test_readers_and_their_plain_errors(tmp_path):
  fasta = tmp_path / "mature.fa.gz"
  with gzip.open(fasta, "wt") as f:
    f.write(">hsa-miR-1-3p MIMAT0000416 Homo sapiens miR-1-3p\nUGGAAUGUAAAGAAGUAUGUAU\n"
            ">cel-let-7-5p MIMAT0000001\nUGAGGUAGUAGGUU\nGUAUAGUU\n")
  mature = sequences.read_mature(str(fasta))
  assert mature == {"hsa-miR-1-3p": ("MIMAT0000416", "TGGAATGTAAAGAAGTATGTAT"),
                    "cel-let-7-5p": ("MIMAT0000001", "TGAGGTAGTAGGTTGTATAGTT")}
  mature = {**mature, "hsa-miR-1-5p": sequences.Mature("MIMAT0031000", "ACATACTTCTTTATATGCCCAT"),
            "hsa-miR-21-5p": sequences.Mature("MIMAT0000076", "TAGCTTATCAGACTGATGTTGA")}
  entries, how = sequences.map_mirnas(["hsa-miR-1-3p", "hsa-miR-1", "hsa-miR-9", "hsa-miR-1-5p"],
                                      mature)
  assert [e and e.sequence for e in entries] == [
      "TGGAATGTAAAGAAGTATGTAT", "TGGAATGTAAAGAAGTATGTAT", None,  # the older arm
      "ACATACTTCTTTATATGCCCAT"]
  assert how == {"exact": 2, "arm": 1, "none": 1}
  # catalogue order: the share of human entries with a lower accession (miR-21 < miR-1-3p <
  # miR-1-5p; the worm's let-7 is not counted); none: the newest.
  np.testing.assert_allclose(sequences.catalogue_order(entries, mature), [1 / 3, 1 / 3, 1.0, 2 / 3])
  bad = tmp_path / "bad.fa"
  bad.write_text("UGGAAUG\n>x\nACGU\n")
  with pytest.raises(DataError, match="line 1: sequence before the first"):
    sequences.read_mature(str(bad))
  utrs = tmp_path / "utr.csv"
  utrs.write_text("7157,acgtNNacgt\n1,ACGT\n")
  assert sequences.read_utrs(str(utrs)) == {7157: "ACGTNNACGT", 1: "ACGT"}
  utrs.write_text("7157,ACGT\nTP53,ACGT\n")
  with pytest.raises(DataError, match="line 2 is not 'Entrez gene ID,sequence'"):
    sequences.read_utrs(str(utrs))
  with pytest.raises(ValueError, match="nt 2-8"):
    sequences.Seed.of("UGNNG")


def test_repeated_utr_stretches_count_once():
  core = _revcomp("TGAGGTAGTAGG"[1:7])
  stretch = "GGC" + core + "AGG"
  utr = "NN".join([stretch, "ACGT", stretch, stretch]) + "NNN"
  assert sequences.deduplicated(utr) == stretch + "N" + "ACGT"
  counts, _ = sequences.seed_sites([sequences.Seed.of("UGAGGUAGUAGGUUGUAUAGUU")],
                                   sequences.contexts([sequences.deduplicated(utr)]))
  assert counts.sum() == 1
