"""Shared fixtures. No test touches the user's cache or depends on the caller's MIRJAX_DATA_DIR."""

import importlib.util
import os
import tempfile

# One persistent XLA compilation cache for the whole test run: its pytest-xdist workers and every
# launch.py the tests start (they inherit the environment) compile the same tiny programs again and
# again. Keyed by the program and the compiler, so a hit is the same executable; under the system's
# temp directory, never the user's cache.
os.environ.setdefault("JAX_COMPILATION_CACHE_DIR",
                      os.path.join(tempfile.gettempdir(), "mirjax-tests-xla-cache"))
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "0")

import jax  # noqa: E402
import pytest  # noqa: E402

# Every test runs with 4 CPU devices, so the replicas are really sharded (5 folds: 4 classifier
# replicas with whole minibatches, the fifth's split over the 4; the autoencoder's replicas padded
# to 8); tests that want one device ask for it with train.devices=1.
jax.config.update("jax_num_cpu_devices", 4)
jax.devices()  # start the backend now: no test's placement.configure() may change the count

from mirjax import config as config_lib  # noqa: E402
from mirjax import placement  # noqa: E402

# What every entry point sets (placement.configure): float32 matmuls, also on a GPU.
jax.config.update("jax_default_matmul_precision", placement.MATMUL_PRECISION)
from mirjax.data import synthetic  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REAL_DATA_DIR = os.environ.get("MIRJAX_DATA_DIR", "")

SMALL_SYNTHETIC = dict(n_mirna=40, n_gene=30, dim=16, n_clusters=4, p_within=0.4, p_across=0.02,
                       seed=3)


@pytest.fixture(autouse=True)
def isolated_env(tmp_path, monkeypatch):
  monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
  monkeypatch.delenv("MIRJAX_DATA_DIR", raising=False)


@pytest.fixture
def real_data_dir():
  if not REAL_DATA_DIR or not os.path.isdir(REAL_DATA_DIR):
    pytest.skip("real data not available: set MIRJAX_DATA_DIR (e.g. ../shared/data/raw)")
  return REAL_DATA_DIR


@pytest.fixture
def synthetic_files(tmp_path):
  """Synthetic inputs written under the real file names: exercises the real parsing path."""
  directory = tmp_path / "raw"
  return synthetic.write_raw_files(str(directory), **SMALL_SYNTHETIC)


def with_overrides(config, overrides: dict):
  """A copy with dotted fields set, e.g. {'lstm.hidden': 8}, as `--config.lstm.hidden=8` would."""
  return config_lib.override(config, overrides, "test override")


def tiny_config(**overrides):
  """configs/tiny.py (a seconds-long synthetic run) with dotted overrides."""
  spec = importlib.util.spec_from_file_location("tiny_config", os.path.join(ROOT, "configs",
                                                                            "tiny.py"))
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return with_overrides(module.get_config(), overrides)


def synthetic_data_config(**overrides):
  """`config.data` for in-memory synthetic tables of the small size above."""
  c = config_lib.default_config()
  c.data.source = "synthetic"
  c.data.dim = SMALL_SYNTHETIC["dim"]
  for k in ("n_mirna", "n_gene", "n_clusters", "p_within", "p_across", "seed"):
    c.data.synthetic[k] = SMALL_SYNTHETIC[k]
  return with_overrides(c, {f"data.{k}": v for k, v in overrides.items()}).data
