"""Flax modules: the feature autoencoder and the stacked-LSTM classifier.

Parameters are plain pytrees (`module.init` / `module.apply`), so a leading replica axis over
folds, seeds or sweep points is just `jax.vmap`.
"""

from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp


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
  """One LSTM layer over a time-major sequence [T, B, F] → hidden states [T, B, H].

  The input projection of all T steps is one [T*B, F] x [F, 4H] matmul outside the recurrence;
  the four gates share one fused [H, 4H] recurrent matmul per step inside `lax.scan`.
  """
  hidden: int

  @nn.compact
  def __call__(self, xs):
    h = self.hidden
    w_in = self.param("w_in", nn.initializers.glorot_uniform(), (xs.shape[-1], 4 * h))
    w_rec = self.param("w_rec", nn.initializers.orthogonal(), (h, 4 * h))
    bias = self.param("bias", _lstm_bias_init, (4 * h,))
    x_proj = xs @ w_in + bias

    def step(carry, xp):
      h_prev, c_prev = carry
      i, f, g, o = jnp.split(xp + h_prev @ w_rec, 4, axis=-1)
      c = jax.nn.sigmoid(f) * c_prev + jax.nn.sigmoid(i) * jnp.tanh(g)
      h_new = jax.nn.sigmoid(o) * jnp.tanh(c)
      return (h_new, c), h_new

    zeros = jnp.zeros(xs.shape[1:-1] + (h,), x_proj.dtype)
    _, hs = jax.lax.scan(step, (zeros, zeros), x_proj)
    return hs


class LSTMClassifier(nn.Module):
  """Reads a [B, D] vector as D/step_features steps of step_features; stacked LSTMs; 2 logits."""
  hidden: int
  layers: int
  step_features: int

  @nn.compact
  def __call__(self, x):
    xs = x.reshape(x.shape[0], -1, self.step_features).swapaxes(0, 1)  # [T, B, F]
    for i in range(self.layers):
      xs = LSTMLayer(self.hidden, name=f"lstm_{i}")(xs)
    return nn.Dense(2, name="head")(xs[-1])
