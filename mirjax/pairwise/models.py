"""The pairwise family's Flax modules: the feature autoencoder and the classifiers of a pair's
features (the paper's stacked LSTM, an MLP, logistic regression).

Parameters are plain pytrees (`module.init` / `module.apply`), so a leading replica axis over
folds, seeds or sweep points is just `jax.vmap`. Each module is built from its own config section.
"""

from typing import Sequence

import flax.linen as nn
import jax.numpy as jnp
import ml_collections

from mirjax.kernels import lstm_onednn, lstm_xla


class MLPStack(nn.Module):
  """Dense → BatchNorm → LeakyReLU for each hidden width, then a linear Dense to `out`."""
  hidden: Sequence[int]
  out: int
  slope: float

  @nn.compact
  def __call__(self, x, train: bool):
    for width in self.hidden:
      x = nn.Dense(width)(x)
      x = nn.BatchNorm(use_running_average=not train, momentum=0.9)(x)
      x = nn.leaky_relu(x, self.slope)
    return nn.Dense(self.out)(x)


class Autoencoder(nn.Module):
  """3 Dense encoder layers to a `latent`-dim code, 3 mirrored Dense decoder layers back.

  With hidden=(128, 64), latent=16 and 256-dim input: 256→128→64→16→64→128→256.
  """
  hidden: Sequence[int]
  latent: int
  out_dim: int
  slope: float = 0.01

  def setup(self):
    self.encoder = MLPStack(tuple(self.hidden), self.latent, self.slope)
    self.decoder = MLPStack(tuple(self.hidden)[::-1], self.out_dim, self.slope)

  def __call__(self, x, train: bool):
    z = self.encoder(x, train)
    return self.decoder(z, train), z

  def encode(self, x):
    return self.encoder(x, train=False)


def _lstm_bias_init(key, shape, dtype=jnp.float32):
  """Zero bias except 1 on the forget gate (gate order i, f, g, o), as Keras' unit_forget_bias."""
  del key
  hidden = shape[0] // 4
  return jnp.zeros(shape, dtype).at[hidden:2 * hidden].set(1.0)


class LSTMLayer(nn.Module):
  """One LSTM layer over a time-major sequence [T, B, F] → hidden states [T, B, H]: the input
  projection of all T steps as one matmul, the recurrence in `lax.scan` (kernels/lstm_xla.py), or
  the whole layer as one oneDNN call (kernels/lstm_onednn.py)."""
  hidden: int
  fused_backward: bool = True  # the hand-written backward pass; False: scan autodiff
  matmul_dtype: str = "float32"  # or "bfloat16"
  backend: str = "xla"  # or "onednn"

  @nn.compact
  def __call__(self, xs):
    h = self.hidden
    dtype = jnp.dtype(self.matmul_dtype)
    w_in = self.param("w_in", nn.initializers.glorot_uniform(), (xs.shape[-1], 4 * h))
    w_rec = self.param("w_rec", nn.initializers.orthogonal(), (h, 4 * h))
    bias = self.param("bias", _lstm_bias_init, (4 * h,))
    if self.backend == "onednn":
      return lstm_onednn.lstm_layer(xs, w_in, w_rec, bias, dtype)
    return lstm_xla.lstm_layer(xs, w_in, w_rec, bias, dtype, self.fused_backward)


class MLPClassifier(nn.Module):
  """Dense + ReLU for each hidden width, then Dense(outputs). hidden=() is logistic regression."""
  hidden: Sequence[int]
  outputs: int = 2

  @nn.compact
  def __call__(self, x):
    for width in self.hidden:
      x = nn.relu(nn.Dense(width)(x))
    return nn.Dense(self.outputs, name="head")(x)


class LSTMClassifier(nn.Module):
  """Reads a [B, D] vector as D/step_features steps of step_features; stacked LSTMs; 2 logits."""
  hidden: int
  layers: int
  step_features: int
  fused_backward: bool = True
  matmul_dtype: str = "float32"
  backend: str = "xla"

  @nn.compact
  def __call__(self, x):
    xs = x.reshape(x.shape[0], -1, self.step_features).swapaxes(0, 1)  # [T, B, F]
    for i in range(self.layers):
      xs = LSTMLayer(self.hidden, self.fused_backward, self.matmul_dtype, self.backend,
                     name=f"lstm_{i}")(xs)
    return nn.Dense(2, name="head")(xs[-1])


def autoencoder(ae: ml_collections.ConfigDict, in_dim: int) -> Autoencoder | None:
  """The stage-1 autoencoder of section `ae` for `in_dim` pair features (None: disabled)."""
  if not ae.enabled:
    return None
  return Autoencoder(hidden=tuple(ae.hidden), latent=ae.latent, out_dim=in_dim,
                     slope=ae.leaky_slope)


def classifier(model: str, section: ml_collections.ConfigDict) -> nn.Module:
  """Stage 2: `model` ('lstm', 'mlp', 'logistic') built from its own section (`lstm`, `mlp`)."""
  if model == "lstm":
    return LSTMClassifier(**section)
  return MLPClassifier(tuple(section.hidden) if model == "mlp" else ())
