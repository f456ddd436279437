"""Flax modules: the feature autoencoder and the stacked-LSTM classifier.

Parameters are plain pytrees (`module.init` / `module.apply`), so a leading replica axis over
folds, seeds or sweep points is just `jax.vmap`.
"""

import functools
from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from mirjax import graph_features
from mirjax.kernels import lstm as kernels_lstm


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


# ----------------------------------------------------------------------------- LSTM matmuls
# The recurrence h_t, c_t = cell(x_proj_t + h_{t-1} @ w_rec, c_{t-1}) with a hand-written backward
# pass. Autodiff of `lax.scan` accumulates dL/dw_rec inside the backward loop: T small
# [H, B] x [B, 4H] matmuls. Here the backward loop only propagates dh and dc, and the weight
# gradient is one [H, T*B] x [T*B, 4H] matmul afterwards. Same math, larger GEMM.
#
# `dtype` is the matmul input type: float32, or bfloat16 (twice the GEMM rate on CPUs with
# AVX-512 BF16, and on accelerators). Products always accumulate in float32; gates, cell state and
# gradients between matmuls stay float32. The backward GEMMs, written out here (`project` for the
# input projection, `_recurrence_bwd`), round their inputs to `dtype` too, as the forward ones do.
# Their transposed operands are cast and materialized once (`_materialized`): XLA CPU runs a dot
# with a transposed operand by copying it first, which for w_rec.T happened inside the time loop,
# once per step; hoisted, the per-step bfloat16 dot also stays bfloat16. XLA still upcasts the
# bfloat16 GEMMs after the loops (whose transposed operand the barrier does not protect) to float32:
# measured, and why bfloat16 gains only 4-10 % here.

def _mm(a, b, dtype):
  return jnp.matmul(a.astype(dtype), b.astype(dtype), preferred_element_type=jnp.float32)


def _materialized(a, dtype):
  """`a` cast to the matmul type and computed here, not sunk into a loop that reads it."""
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
  """The same gates from one sigmoid over all of z (its g quarter unused). Why: in a forward pass
  without gradient (scoring) XLA CPU emitted the sliced form's cell-state fusion as scalar code; this
  form it vectorizes, 1.6x faster (BUILD.md, "Where an epoch's time goes"). Training, whose sliced
  form is vectorized already, keeps `_gates`: this one would only add work there."""
  h = z.shape[-1] // 4
  s = jax.nn.sigmoid(z)
  return s[..., :h], s[..., h:2 * h], jnp.tanh(z[..., 2 * h:3 * h]), s[..., 3 * h:]


def _forward(x_proj, w_rec, dtype, gates=_gates):
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


class LSTMLayer(nn.Module):
  """One LSTM layer over a time-major sequence [T, B, F] → hidden states [T, B, H].

  The input projection of all T steps is one [T*B, F] x [F, 4H] matmul outside the recurrence;
  the four gates share one fused [H, 4H] recurrent matmul per step inside `lax.scan`.
  """
  hidden: int
  fused_backward: bool = True  # the hand-written backward pass above; False: scan autodiff
  matmul_dtype: str = "float32"  # or "bfloat16"
  backend: str = "xla"  # or "onednn": the whole layer as one oneDNN call (mirjax/kernels/lstm.py)

  @nn.compact
  def __call__(self, xs):
    h = self.hidden
    dtype = jnp.dtype(self.matmul_dtype)
    w_in = self.param("w_in", nn.initializers.glorot_uniform(), (xs.shape[-1], 4 * h))
    w_rec = self.param("w_rec", nn.initializers.orthogonal(), (h, 4 * h))
    bias = self.param("bias", _lstm_bias_init, (4 * h,))
    if self.backend == "onednn":
      return kernels_lstm.lstm_layer(xs, w_in, w_rec, bias, dtype)
    if self.fused_backward:
      return recurrence(project(xs, w_in, dtype) + bias, w_rec, dtype)
    return _forward(_mm(xs, w_in, dtype) + bias, w_rec, dtype)[0]


class MLPClassifier(nn.Module):
  """Dense + ReLU for each hidden width, then Dense(2). hidden=() is logistic regression."""
  hidden: Sequence[int]

  @nn.compact
  def __call__(self, x):
    for width in self.hidden:
      x = nn.relu(nn.Dense(width)(x))
    return nn.Dense(2, name="head")(x)


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


# ----------------------------------------------------------------------------- from a config

def autoencoder(cfg, in_dim: int) -> Autoencoder:
  """The stage-1 autoencoder of `cfg.ae` for `in_dim` pair features."""
  return Autoencoder(hidden=tuple(cfg.ae.hidden), latent=cfg.ae.latent, out_dim=in_dim,
                     slope=cfg.ae.leaky_slope)


def classifier(cfg) -> nn.Module:
  """The stage-2 model of `cfg.classifier.model`: the paper's LSTM, or a baseline on the same
  inputs. ('distance' trains nothing and is scored without a model.)"""
  model = cfg.classifier.model
  if model == "lstm":
    return LSTMClassifier(hidden=cfg.lstm.hidden, layers=cfg.lstm.layers,
                          step_features=cfg.lstm.step_features,
                          fused_backward=cfg.lstm.fused_backward,
                          matmul_dtype=cfg.lstm.matmul_dtype, backend=cfg.lstm.backend)
  if model == "mlp":
    return MLPClassifier(tuple(cfg.mlp.hidden))
  if model == "logistic":
    return MLPClassifier(())
  raise ValueError(f"config.classifier.model={model!r} has no trained model.")


class GraphScorer(nn.Module):
  """Scores every pair of the grid at once: [n_mirna, n_gene] log-odds.

  score = w·f + MLP(f) + <e_mirna, e_gene>, where f are the pair's graph features
  (mirjax/graph_features.py, computed from the input graph) and e a node's learned ID embedding plus a
  linear projection of its SG embedding, averaged over `layers` LightGCN propagations through the
  input graph. The linear part starts as EASE (weight 1 on the first EASE pair of features), so
  training begins from the strongest baseline and learns what to add to it; the projection is what
  still represents a node that has no edges (cold start).
  With cold_head, a pair one of whose nodes has no edges in the input graph is scored by a second
  linear + MLP head on the same features instead: what predicts an edge of a new node (its
  content, its partner's degree) is not what predicts a held-out edge between known nodes, and
  one set of weights for both fits neither (measured: README). With graph.degree_prior it starts
  as the sum of the two (standardized) imputed log degrees, a known node's or a new node's as its
  content predicts it: close to the content_degree baseline's ranking, which it then learns to add
  to (measured, one seed, against a head that starts from zero: AUC both new 0.5563 -> 0.5619, new
  gene 0.6462 -> 0.6465, new miRNA 0.7434 -> 0.7449, pairs unchanged).
  """
  n_mirna: int
  n_gene: int
  hidden: int  # width of the MLP on the features (0: none)
  dim: int  # embedding width (0: no embeddings)
  layers: int
  ids: bool = True
  project: bool = True
  cold_head: bool = False
  degree_prior: bool = False  # the features end with the imputed log degrees (graph.degree_prior)

  def _head(self, feats, kernel_init, prefix: str):
    s = nn.Dense(1, kernel_init=kernel_init, name=f"{prefix}linear")(feats)[..., 0]
    if self.hidden:
      h = nn.relu(nn.Dense(self.hidden, name=f"{prefix}mlp_hidden")(feats))
      s = s + nn.Dense(1, kernel_init=nn.initializers.zeros, name=f"{prefix}mlp_out")(h)[..., 0]
    return s

  @nn.compact
  def __call__(self, feats, adjacency, content):
    def starts_as_ease(key, shape, dtype=jnp.float32):
      del key
      return jnp.zeros(shape, dtype).at[:2].set(1.0)
    s = self._head(feats, starts_as_ease, "")
    if self.dim:
      small = nn.initializers.normal(0.01)
      em = jnp.zeros((self.n_mirna, self.dim))
      eg = jnp.zeros((self.n_gene, self.dim))
      if self.ids:
        em = em + self.param("mirna_ids", small, (self.n_mirna, self.dim))
        eg = eg + self.param("gene_ids", small, (self.n_gene, self.dim))
      if self.project:
        em = em + nn.Dense(self.dim, use_bias=False, kernel_init=small,
                           name="project_mirna")(content.mirna)
        eg = eg + nn.Dense(self.dim, use_bias=False, kernel_init=small,
                           name="project_gene")(content.gene)
      zm, zg, sum_m, sum_g = em, eg, em, eg
      for _ in range(self.layers):
        zm, zg = adjacency @ zg, adjacency.T @ zm
        sum_m, sum_g = sum_m + zm, sum_g + zg
      s = s + (sum_m @ sum_g.T) / (self.layers + 1) ** 2
    if self.cold_head:
      known = (adjacency.sum(1) > 0)[:, None] & (adjacency.sum(0) > 0)[None, :]
      # features standardized (they are far apart in scale, and the cold head starts from zero
      # rather than from EASE) by statistics of the pairs between nodes with edges only: a new
      # node's pairs, a test fold's among them, never shape them
      z = graph_features.standardized(feats, known[..., None].astype(feats.dtype), (0, 1), 1e-6)
      def starts_as_degrees(key, shape, dtype=jnp.float32):
        del key  # the last two features are the imputed log degrees (graph_features.features)
        return jnp.zeros(shape, dtype).at[-2:].set(1.0 if self.degree_prior else 0.0)
      s = jnp.where(known, s, self._head(z, starts_as_degrees, "cold_"))
    return s


def graph_scorer(cfg, n_mirna: int, n_gene: int) -> GraphScorer:
  g = cfg.graph
  return GraphScorer(n_mirna, n_gene, g.hidden, g.dim, g.layers, g.ids, g.project, g.cold_head,
                     g.degree_prior > 0)


def graph_log_odds(net: GraphScorer, cfg, params, x, content):
  """[n_mirna, n_gene] log-odds of every pair given the input graph x (float 0/1) and the nodes'
  content (mirjax/data/content.NodeContent)."""
  return net.apply({"params": params}, graph_inputs(cfg, x, content),
                   graph_features.normalized_adjacency(x), content)


def graph_inputs(cfg, x, content):
  """The graph model's pair features of input graph x, as `cfg.graph` chooses them."""
  g = cfg.graph
  return graph_features.features(x, content, ease_lambdas=tuple(g.ease_lambdas), cf=g.cf,
                                 cross_lambda=g.cross_lambda, rp3_beta=g.rp3_beta,
                                 content_knn=g.content, content_k=g.content_k,
                                 degree_prior=g.degree_prior, families=g.families,
                                 zscore=g.zscore)
