"""The oneDNN LSTM kernel (lstm.backend=onednn) against mirjax's XLA LSTM and a NumPy reference."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from conftest import tiny_config
from mirjax import experiment
from mirjax.kernels import lstm_xla
from mirjax.pairwise import models
from mirjax.errors import SetupError
from mirjax.kernels import lstm_onednn as kernels_lstm
from test_models import numpy_lstm_classifier

needs_onednn = pytest.mark.skipif(not kernels_lstm.available(),
                                  reason="oneDNN or g++ missing, or not on the CPU")


def _layer_inputs(t=5, b=6, f=7, h=8, seed=0):
  k = jax.random.split(jax.random.key(seed), 5)
  return (jax.random.normal(k[0], (t, b, f)), 0.3 * jax.random.normal(k[1], (f, 4 * h)),
          0.3 * jax.random.normal(k[2], (h, 4 * h)), 0.1 * jax.random.normal(k[3], (4 * h,)),
          jax.random.normal(k[4], (t, b, h)))


def _xla_layer(xs, w_in, w_rec, bias):
  return lstm_xla.recurrence(lstm_xla.project(xs, w_in) + bias, w_rec)


def _grads(layer, args, cotangent):
  return jax.jit(jax.grad(lambda *a: jnp.sum(layer(*a) * cotangent), argnums=(0, 1, 2, 3)))(*args)


@needs_onednn
def test_layer_forward_and_gradients_match_xla():
  *args, cotangent = _layer_inputs()
  onednn = lambda *a: kernels_lstm.lstm_layer(*a)  # noqa: E731
  np.testing.assert_allclose(jax.jit(onednn)(*args), jax.jit(_xla_layer)(*args), atol=1e-6)
  # Every gradient, the recurrent weights' included (oneDNN 3.2 gets that one wrong unless the zero
  # initial state is passed explicitly).
  for got, want in zip(_grads(onednn, args, cotangent), _grads(_xla_layer, args, cotangent)):
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


@needs_onednn
def test_bfloat16_layer_stays_close_and_really_rounds():
  *args, cotangent = _layer_inputs(seed=1)
  bf16 = lambda *a: kernels_lstm.lstm_layer(*a, dtype=jnp.bfloat16)  # noqa: E731
  if not kernels_lstm.supports(jnp.bfloat16):
    pytest.skip("this CPU has no oneDNN bfloat16 LSTM kernel")
  got, want = jax.jit(bf16)(*args), jax.jit(_xla_layer)(*args)
  assert got.dtype == jnp.float32
  np.testing.assert_allclose(got, want, atol=3e-2)
  assert np.abs(got - want).max() > 0
  for g, w in zip(_grads(bf16, args, cotangent), _grads(_xla_layer, args, cotangent)):
    np.testing.assert_allclose(g, w, atol=0.05 * float(np.abs(w).max()))


@needs_onednn
def test_classifier_on_onednn_matches_numpy_and_vmaps_over_replicas():
  x = jnp.asarray(np.random.default_rng(2).normal(size=(9, 24)), jnp.float32)
  y = jnp.asarray(np.random.default_rng(3).integers(0, 2, 9))
  xla = models.LSTMClassifier(hidden=12, layers=3, step_features=4)
  onednn = models.LSTMClassifier(hidden=12, layers=3, step_features=4, backend="onednn")
  params = xla.init(jax.random.PRNGKey(0), x)["params"]
  np.testing.assert_allclose(onednn.apply({"params": params}, x),
                             numpy_lstm_classifier(params, np.asarray(x, np.float64), 4),
                             rtol=1e-4, atol=1e-5)

  def loss(model, p):
    logits = model.apply({"params": p}, x)
    return -jnp.mean(jax.nn.log_softmax(logits)[jnp.arange(9), y])
  # Under vmap over replicas, as training runs it (the custom call loops over them).
  stacked = jax.tree.map(lambda p: jnp.stack([p, 0.5 * p]), params)
  got = jax.jit(jax.vmap(jax.grad(lambda p: loss(onednn, p))))(stacked)
  for r, scale in enumerate((1.0, 0.5)):
    want = jax.grad(lambda p: loss(xla, p))(jax.tree.map(lambda p: scale * p, params))
    for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(want)):
      np.testing.assert_allclose(np.asarray(a)[r], b, rtol=1e-4, atol=1e-6)


def test_a_run_without_onednn_stops_before_any_stage(monkeypatch, tmp_path):
  monkeypatch.setattr(kernels_lstm.sys, "prefix", str(tmp_path))
  with pytest.raises(SetupError, match="onednn-cpu-gomp"):
    experiment.run(tiny_config(**{"lstm.backend": "onednn"}), str(tmp_path / "run"))
  assert not (tmp_path / "run" / "dataset.json").exists()


def test_missing_onednn_or_compiler_is_one_clear_error(monkeypatch, tmp_path):
  monkeypatch.setattr(kernels_lstm.sys, "prefix", str(tmp_path))
  with pytest.raises(SetupError, match="onednn-cpu-gomp") as missing:
    kernels_lstm._onednn_paths()
  assert "\n" not in str(missing.value)
  assert not kernels_lstm.available()
  monkeypatch.setenv("CXX", str(tmp_path / "no-such-compiler"))
  with pytest.raises(SetupError, match="needs g\\+\\+"):
    kernels_lstm._compiler()


@needs_onednn
def test_a_cached_kernel_is_used_where_no_compiler_is_installed(monkeypatch):
  """Built once (with g++), the kernel loads from mirjax's cache on a machine without g++; with
  nothing cached, the missing compiler is one clear error."""
  kernels_lstm._kernel_path.cache_clear()
  built = kernels_lstm._kernel_path()  # builds into this test's cache (conftest's XDG_CACHE_HOME)
  assert built.exists() and built.with_name("compiler.txt").read_text()
  monkeypatch.setenv("CXX", "/no/such/compiler")
  kernels_lstm._kernel_path.cache_clear()
  assert kernels_lstm.available() and kernels_lstm._kernel_path() == built
  kernels_lstm._kernel_path.cache_clear()
  built.unlink()
  with pytest.raises(SetupError, match="needs g\\+\\+"):
    kernels_lstm._kernel_path()
  assert not kernels_lstm.available()
  kernels_lstm._kernel_path.cache_clear()
