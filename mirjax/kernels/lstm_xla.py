"""The LSTM of XLA ops: one layer's input projection and recurrence, with a hand-written backward.

Autodiff of `lax.scan` accumulates dL/dw_rec inside the backward loop: T small [H, B] x [B, 4H]
matmuls. Here the backward loop only propagates dh and dc, and the weight gradient is one
[H, T*B] x [T*B, 4H] matmul afterwards: same math, a larger GEMM. `dtype` is the matmul input type
(float32 or bfloat16); products accumulate in float32, and gates, cell state and gradients between
matmuls stay float32. The oneDNN twin of `lstm_layer` is `kernels/lstm_onednn.py`.
"""

import functools

import jax
import jax.numpy as jnp

def _mm(a, b, dtype):
  return jnp.matmul(a.astype(dtype), b.astype(dtype), preferred_element_type=jnp.float32)


def _materialized(a, dtype):
  """`a` cast to the matmul type and computed here, not sunk into a loop that reads it: XLA CPU
  copies a dot's transposed operand first, which for w_rec.T happened once per time step."""
  return jax.lax.optimization_barrier(a.astype(dtype))


@functools.partial(jax.custom_vjp, nondiff_argnums=(2,))
def project(xs, w, dtype=jnp.float32):
  """xs [T, B, F] @ w [F, 4H]: the input projection of all time steps as one GEMM (float32)."""
  return _mm(xs, w, dtype)


def _project_fwd(xs, w, dtype):
  return _mm(xs, w, dtype), (xs, w)


def _project_bwd(dtype, res, ct):
  xs, w = res
  t, b, f = xs.shape
  ct = ct.reshape(t * b, -1)
  dx = _mm(ct, _materialized(w.T, dtype), dtype).reshape(xs.shape)
  dw = _mm(_materialized(xs.reshape(t * b, f).T, dtype), ct, dtype)
  return dx, dw


project.defvjp(_project_fwd, _project_bwd)


def _gates(z):
  i, f, g, o = jnp.split(z, 4, axis=-1)
  return jax.nn.sigmoid(i), jax.nn.sigmoid(f), jnp.tanh(g), jax.nn.sigmoid(o)


def _gates_one_sigmoid(z):
  """The same gates from one sigmoid over all of z (its g quarter unused): without a gradient
  (scoring) XLA CPU emits the sliced form's cell-state fusion as scalar code and vectorizes this
  one (1.6x faster). Training, whose sliced form is vectorized already, keeps `_gates`."""
  h = z.shape[-1] // 4
  s = jax.nn.sigmoid(z)
  return s[..., :h], s[..., h:2 * h], jnp.tanh(z[..., 2 * h:3 * h]), s[..., 3 * h:]


def _forward(x_proj, w_rec, dtype, gates=None):
  gates = gates or _gates  # looked up at call time (benchmarks/epoch_profile.py swaps it)
  zeros = jnp.zeros(x_proj.shape[1:-1] + (w_rec.shape[0],), jnp.float32)

  def step(carry, xp):
    h, c = carry
    i, f, g, o = gates(xp + _mm(h, w_rec, dtype))
    c = f * c + i * g
    h = o * jnp.tanh(c)
    return (h, c), (h, c, i, f, g, o)
  _, saved = jax.lax.scan(step, (zeros, zeros), x_proj)
  return saved


@functools.partial(jax.custom_vjp, nondiff_argnums=(2,))
def recurrence(x_proj, w_rec, dtype=jnp.float32):
  """Hidden states [T, B, H] of the LSTM recurrence (gate order i, f, g, o), zero initial state."""
  return _forward(x_proj, w_rec, dtype, _gates_one_sigmoid)[0]  # no gradient: scoring


def _recurrence_fwd(x_proj, w_rec, dtype):
  saved = _forward(x_proj, w_rec, dtype)
  return saved[0], (saved, w_rec)


def _recurrence_bwd(dtype, res, dhs):
  (hs, cs, i, f, g, o), w_rec = res
  zeros = jnp.zeros_like(hs[0])
  h_prev = jnp.concatenate([zeros[None], hs[:-1]])
  c_prev = jnp.concatenate([zeros[None], cs[:-1]])
  w_rec_t = _materialized(w_rec.T, dtype)  # once, outside the time loop

  def step(carry, t):
    dh_next, dc_next = carry
    dh_t, c_t, cp_t, i_t, f_t, g_t, o_t = t
    dh = dh_t + dh_next
    tc = jnp.tanh(c_t)
    dc = dc_next + dh * o_t * (1 - tc * tc)
    dz = jnp.concatenate([dc * g_t * i_t * (1 - i_t), dc * cp_t * f_t * (1 - f_t),
                          dc * i_t * (1 - g_t * g_t), dh * tc * o_t * (1 - o_t)], axis=-1)
    return (_mm(dz, w_rec_t, dtype), dc * f_t), dz
  _, dz = jax.lax.scan(step, (zeros, zeros), (dhs, cs, c_prev, i, f, g, o), reverse=True)
  t, b, h = h_prev.shape
  dw = _mm(_materialized(h_prev.reshape(t * b, h).T, dtype), dz.reshape(t * b, -1), dtype)
  return dz, dw


recurrence.defvjp(_recurrence_fwd, _recurrence_bwd)


def lstm_layer(xs, w_in, w_rec, bias, dtype, fused_backward: bool = True):
  """Hidden states [T, B, H] of one LSTM layer over xs [T, B, F] (zero initial state, gate order
  i, f, g, o); fused_backward=False differentiates the scan by autodiff instead."""
  if fused_backward:
    return recurrence(project(xs, w_in, dtype) + bias, w_rec, dtype)
  return _forward(_mm(xs, w_in, dtype) + bias, w_rec, dtype)[0]
