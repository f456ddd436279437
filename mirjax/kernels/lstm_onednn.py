"""One LSTM layer as oneDNN's RNN primitive, called from XLA CPU (`lstm.backend=onednn`).

Why: XLA CPU runs an LSTM as T dependent [B, H] x [H, 4H] GEMMs, each a separate thunk with its
gates written out between them; that left mirjax at ~60 % of the machine's GEMM rate and behind
PyTorch, whose CPU nn.LSTM runs oneDNN's whole-sequence kernels (issue #14, BUILD.md). This module
builds `onednn_lstm.cc` against the pip-installed oneDNN (onednn-cpu-gomp) and jaxlib's FFI headers,
once per source, toolchain and version into mirjax's cache, registers its three handlers, and wraps
them in `lstm_layer`, a differentiable function of mirjax's own parameter layout.
"""
import ctypes
import functools
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import jax
import jax.numpy as jnp
import jaxlib

from mirjax import cache
from mirjax.errors import ConfigError, SetupError

_SOURCE = Path(__file__).with_name("onednn_lstm.cc")
_TARGETS = {"infer": "MirjaxLstmInfer", "train": "MirjaxLstmTrain", "backward": "MirjaxLstmBackward"}
_FLAGS = ("-O2", "-std=c++17", "-shared", "-fPIC", "-fopenmp", "-w")


def _onednn_paths() -> tuple[Path, Path]:
  """oneDNN's include and lib directories in this Python environment's prefix."""
  include, lib = Path(sys.prefix) / "include", Path(sys.prefix) / "lib"
  if not (include / "oneapi" / "dnnl" / "dnnl.hpp").exists() or not (lib / "libdnnl.so").exists():
    raise SetupError(f"lstm.backend=onednn needs oneDNN in this environment ({sys.prefix}): pip "
                     "install onednn-cpu-gomp onednn-devel-cpu-gomp (both in requirements.txt), "
                     "or use --config.lstm.backend=xla.")
  return include, lib


def _compiler() -> str:
  compiler = shutil.which(os.environ.get("CXX", "g++"))
  if compiler is None:
    raise SetupError("lstm.backend=onednn compiles a small C++ kernel on first use and needs g++ "
                     "(apt-get install g++, or set CXX), or use --config.lstm.backend=xla.")
  return compiler


def _command(compiler: str, include: Path, lib: Path, out: Path) -> list[str]:
  return [compiler, *_FLAGS, f"-I{include}", f"-I{jax.ffi.include_dir()}", str(_SOURCE), f"-L{lib}",
          "-ldnnl", f"-Wl,-rpath,{lib}", "-o", str(out)]


def _build(out: Path, command: list[str]) -> None:
  """Compiles into `out` atomically (a concurrent build of the same key is harmless)."""
  out.parent.mkdir(parents=True, exist_ok=True)
  with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
    tmp_out = Path(tmp) / out.name
    done = subprocess.run(command[:-1] + [str(tmp_out)], capture_output=True, text=True)
    if done.returncode != 0:
      raise RuntimeError(f"building the oneDNN LSTM kernel failed: {' '.join(command)}\n"
                         f"{done.stderr}")
    os.replace(tmp_out, out)


def _compiler_version(compiler: str) -> str:
  return subprocess.run([compiler, "--version"], capture_output=True, text=True).stdout


def _cached_path(include: Path, lib: Path) -> Path:
  headers = b"".join((include / "oneapi" / "dnnl" / name).read_bytes()
                     for name in ("dnnl_version.h", "dnnl_config.h"))
  key = hashlib.sha256(b"\0".join([
      _SOURCE.read_bytes(), " ".join(_command("CXX", include, lib, Path("out"))).encode(),
      jaxlib.__version__.encode(), headers])).hexdigest()[:16]
  return Path(cache.root()) / "kernels" / key / "libmirjax_lstm.so"


@functools.cache
def _kernel_path() -> Path:
  """The built kernel in mirjax's cache, built first if needed. The cache key covers what goes into
  the binary apart from the compiler: the source, the flags, include and lib paths (the binary's
  rpath keeps them), jaxlib's version (the FFI headers) and oneDNN's version and config. The
  compiler's version is recorded beside the binary: a present compiler of another version rebuilds
  it, and a cached build is used as it is where no compiler is installed."""
  include, lib = _onednn_paths()
  path = _cached_path(include, lib)
  built_by = path.with_name("compiler.txt")
  compiler = shutil.which(os.environ.get("CXX", "g++"))
  if compiler is None and not path.exists():
    _compiler()  # raises: nothing cached, nothing to build with
  if compiler is not None:
    version = _compiler_version(compiler)
    if not path.exists() or not built_by.exists() or built_by.read_text() != version:
      _build(path, _command(compiler, include, lib, path))
      built_by.write_text(version)
  return path


@functools.cache
def _library() -> ctypes.CDLL:
  """The built kernel, loaded and registered with XLA (once per process)."""
  library = ctypes.CDLL(str(_kernel_path()))
  for name in _TARGETS.values():
    jax.ffi.register_ffi_target(name, jax.ffi.pycapsule(getattr(library, name)), platform="cpu")
  library.mirjax_lstm_prepare.restype = ctypes.c_int64
  library.mirjax_lstm_prepare.argtypes = ([ctypes.c_int64] * 4 + [ctypes.c_int, ctypes.c_int64,
                                           ctypes.c_int, ctypes.c_char_p, ctypes.c_int64])
  return library


def available() -> bool:
  """Whether this process can use the kernel: JAX on the CPU, oneDNN installed, and a compiler or
  a cached build (building is left to first use, where a build failure is an error, not a False)."""
  try:
    include, lib = _onednn_paths()
    if not _cached_path(include, lib).exists():
      _compiler()
  except SetupError:
    return False
  return jax.default_backend() == "cpu"


def supports(dtype) -> bool:
  """Whether oneDNN has an LSTM training kernel of this type (float32, bfloat16) on this CPU
  (builds the kernel)."""
  if not available():
    return False
  try:
    _prepare(2, 2, 2, 2, dtype, training=True)
  except SetupError:
    return False
  return True


def check() -> None:
  """Raises a one-line SetupError/ConfigError if lstm.backend=onednn cannot run here (not on the
  CPU, oneDNN or g++ missing); builds the kernel (a failing build, a bug, raises with the compiler's
  output). Entry points call it before any stage runs."""
  if jax.default_backend() != "cpu":
    raise ConfigError(f"lstm.backend=onednn runs on the CPU only, and JAX runs on "
                      f"{jax.default_backend()}: use --config.lstm.backend=xla there.")
  _onednn_paths()
  _library()


def _threads() -> int:
  """oneDNN threads per call: the cores each local XLA CPU device has (placement.configure gives
  every device one; with train.devices below the device count the rest of the cores stay idle)."""
  return max(1, len(os.sched_getaffinity(0)) // len(jax.local_devices(backend="cpu")))


def _prepare(t: int, b: int, f: int, h: int, dtype, training: bool) -> tuple[int, int]:
  """(workspace bytes, threads) for a call traced now; builds its primitives here, so that a CPU
  without the kernel fails at trace time with one line."""
  check()
  threads = _threads()
  error = ctypes.create_string_buffer(512)
  size = _library().mirjax_lstm_prepare(t, b, f, h, int(dtype == jnp.bfloat16), threads,
                                        int(training), error, len(error))
  if size < 0:
    name = jnp.dtype(dtype).name
    hint = " or --config.lstm.matmul_dtype=float32" if name != "float32" else ""
    raise SetupError(f"oneDNN has no {name} LSTM {'training' if training else 'inference'} "
                     f"kernel for this CPU (T={t}, batch={b}, features={f}, hidden={h}: "
                     f"{error.value.decode()}): use --config.lstm.backend=xla{hint}.")
  return size, threads


def _call(kind: str, threads: int, results, *args):
  return jax.ffi.ffi_call(_TARGETS[kind], results, vmap_method="sequential")(*args, threads=threads)


def _inputs(xs, w_in, w_rec, dtype):
  return xs.astype(dtype), w_in.astype(dtype), w_rec.astype(dtype)


@functools.partial(jax.custom_vjp, nondiff_argnums=(4,))
def lstm_layer(xs, w_in, w_rec, bias, dtype=jnp.float32):
  """Hidden states [T, B, H] (float32) of one LSTM layer over xs [T, B, F], zero initial state,
  gate order i, f, g, o: in float32 the same function as `kernels.lstm_xla`'s LSTM. Its inputs
  are float32; `dtype` (float32 or bfloat16) is the type of x, the weights and the hidden states
  inside oneDNN (bfloat16 also rounds the hidden states it returns, which the XLA path keeps in
  float32)."""
  t, b, f = xs.shape
  h = w_rec.shape[0]
  _, threads = _prepare(t, b, f, h, dtype, training=False)
  hs = jax.ShapeDtypeStruct((t, b, h), dtype)
  return _call("infer", threads, hs, *_inputs(xs, w_in, w_rec, dtype), bias).astype(jnp.float32)


def _lstm_layer_fwd(xs, w_in, w_rec, bias, dtype):
  t, b, f = xs.shape
  h = w_rec.shape[0]
  size, threads = _prepare(t, b, f, h, dtype, training=True)
  x, wi, wr = _inputs(xs, w_in, w_rec, dtype)
  hs, workspace = _call("train", threads, (jax.ShapeDtypeStruct((t, b, h), dtype),
                                           jax.ShapeDtypeStruct((size,), jnp.uint8)),
                        x, wi, wr, bias)
  return hs.astype(jnp.float32), (x, wi, wr, bias, hs, workspace)


def _lstm_layer_bwd(dtype, res, d_hs):
  x, wi, wr, bias, hs, workspace = res  # the forward prepared the primitives
  results = tuple(jax.ShapeDtypeStruct(a.shape, jnp.float32) for a in (x, wi, wr, bias))
  return _call("backward", _threads(), results, x, wi, wr, bias, hs, workspace, d_hs)


lstm_layer.defvjp(_lstm_layer_fwd, _lstm_layer_bwd)
