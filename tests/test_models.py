"""Model numerics against independent NumPy references."""

import jax
import jax.numpy as jnp
import numpy as np

from mirjax.pairwise import models


def _sigmoid(x):
  return 1.0 / (1.0 + np.exp(-x))


def numpy_lstm_classifier(params, x, step_features):
  """A plain NumPy stacked LSTM (gate order i, f, g, o), written independently of the model."""
  b = x.shape[0]
  seq = x.reshape(b, -1, step_features)  # [B, T, F]
  n_layers = len([k for k in params if k.startswith("lstm_")])
  for layer in range(n_layers):
    p = {k: np.asarray(v, np.float64) for k, v in params[f"lstm_{layer}"].items()}
    hidden = p["w_rec"].shape[0]
    h = np.zeros((b, hidden))
    c = np.zeros((b, hidden))
    outputs = []
    for t in range(seq.shape[1]):
      z = seq[:, t] @ p["w_in"] + h @ p["w_rec"] + p["bias"]
      i = _sigmoid(z[:, :hidden])
      f = _sigmoid(z[:, hidden:2 * hidden])
      g = np.tanh(z[:, 2 * hidden:3 * hidden])
      o = _sigmoid(z[:, 3 * hidden:])
      c = f * c + i * g
      h = o * np.tanh(c)
      outputs.append(h)
    seq = np.stack(outputs, axis=1)
  head = {k: np.asarray(v, np.float64) for k, v in params["head"].items()}
  return seq[:, -1] @ head["kernel"] + head["bias"]


def test_lstm_classifier_matches_numpy_reference():
  model = models.LSTMClassifier(hidden=12, layers=3, step_features=4)
  x = np.random.default_rng(0).normal(size=(7, 20)).astype(np.float32)  # 5 steps x 4
  params = model.init(jax.random.PRNGKey(1), jnp.asarray(x))["params"]
  # Perturb the biases so every parameter, not just the initial forget bias, is exercised.
  params = jax.tree.map(lambda p: p + 0.1 * jax.random.normal(jax.random.PRNGKey(2), p.shape),
                        params)
  got = np.asarray(model.apply({"params": params}, jnp.asarray(x)))
  want = numpy_lstm_classifier(jax.device_get(params), x.astype(np.float64), 4)
  np.testing.assert_allclose(got, want, rtol=2e-4, atol=2e-5)


def test_forget_gate_bias_starts_at_one():
  model = models.LSTMClassifier(hidden=8, layers=1, step_features=2)
  params = model.init(jax.random.PRNGKey(0), jnp.zeros((1, 6)))["params"]
  bias = np.asarray(params["lstm_0"]["bias"])
  np.testing.assert_array_equal(bias[8:16], 1.0)
  np.testing.assert_array_equal(np.r_[bias[:8], bias[16:]], 0.0)


def test_autoencoder_shapes_and_eval_mode_numerics():
  model = models.Autoencoder(hidden=(32, 16), latent=4, out_dim=10, slope=0.2)
  x = np.random.default_rng(0).normal(size=(6, 10)).astype(np.float32)
  variables = model.init(jax.random.PRNGKey(0), jnp.asarray(x), train=False)
  recon, z = model.apply(variables, jnp.asarray(x), train=False)
  assert recon.shape == (6, 10) and z.shape == (6, 4)
  # Eval-mode encoder by hand: Dense -> BatchNorm(running stats) -> LeakyReLU, twice, then Dense.
  p, s = jax.device_get(variables["params"])["encoder"], jax.device_get(variables["batch_stats"])
  s = s["encoder"]
  h = x.astype(np.float64)
  for i in range(2):
    h = h @ p[f"Dense_{i}"]["kernel"] + p[f"Dense_{i}"]["bias"]
    bn, st = p[f"BatchNorm_{i}"], s[f"BatchNorm_{i}"]
    h = (h - st["mean"]) / np.sqrt(st["var"] + 1e-5) * bn["scale"] + bn["bias"]
    h = np.where(h > 0, h, 0.2 * h)
  want = h @ p["Dense_2"]["kernel"] + p["Dense_2"]["bias"]
  np.testing.assert_allclose(np.asarray(z), want, rtol=1e-4, atol=1e-5)
  np.testing.assert_allclose(np.asarray(model.apply(variables, jnp.asarray(x),
                                                    method=models.Autoencoder.encode)), want,
                             rtol=1e-4, atol=1e-5)


def _classifier_loss(model, params, x, y):
  logits = model.apply({"params": params}, x)
  return -jnp.mean(jax.nn.log_softmax(logits)[jnp.arange(y.size), y])


def test_fused_backward_equals_scan_autodiff():
  x = jnp.asarray(np.random.default_rng(1).normal(size=(9, 24)), jnp.float32)
  y = jnp.asarray(np.random.default_rng(2).integers(0, 2, 9))
  fused = models.LSTMClassifier(hidden=10, layers=3, step_features=6, fused_backward=True)
  plain = models.LSTMClassifier(hidden=10, layers=3, step_features=6, fused_backward=False)
  params = fused.init(jax.random.PRNGKey(0), x)["params"]
  g_fused = jax.grad(lambda p: _classifier_loss(fused, p, x, y))(params)
  g_plain = jax.grad(lambda p: _classifier_loss(plain, p, x, y))(params)
  for a, b in zip(jax.tree.leaves(g_fused), jax.tree.leaves(g_plain)):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-4, atol=1e-6)
  # And under vmap over replicas, as training runs it.
  stacked = jax.tree.map(lambda p: jnp.stack([p, 0.5 * p]), params)
  gv = jax.vmap(jax.grad(lambda p: _classifier_loss(fused, p, x, y)))(stacked)
  g1 = jax.grad(lambda p: _classifier_loss(plain, p, x, y))(jax.tree.map(lambda p: 0.5 * p, params))
  for a, b in zip(jax.tree.leaves(gv), jax.tree.leaves(g1)):
    np.testing.assert_allclose(np.asarray(a)[1], np.asarray(b), rtol=1e-4, atol=1e-6)


def test_bfloat16_matmuls_stay_close_to_float32():
  x = jnp.asarray(np.random.default_rng(3).normal(size=(16, 32)), jnp.float32)
  f32 = models.LSTMClassifier(hidden=32, layers=3, step_features=8)
  bf16 = models.LSTMClassifier(hidden=32, layers=3, step_features=8, matmul_dtype="bfloat16")
  params = f32.init(jax.random.PRNGKey(0), x)["params"]
  a = np.asarray(f32.apply({"params": params}, x))
  b = np.asarray(bf16.apply({"params": params}, x))
  assert b.dtype == np.float32
  np.testing.assert_allclose(b, a, atol=3e-2)
  assert np.abs(b - a).max() > 0  # it really computed in lower precision
