"""The prospective model: which evidence, if any, will validate a pair next.

An MLP on a pair's features (mirjax/prospective/features.py) with three outputs: no validation, a
strong (low-throughput) one, a CLIP or other high-throughput one. It reads standardized inputs (the
statistics of its own training rows). Two scores come from it: `all` = log((p_strong + p_ht)/p_none),
the odds of any future validation, and `strong` = log(p_strong/p_none), of a reporter-, western- or
qPCR-type one.
"""

import jax
import jax.numpy as jnp

from mirjax.pairwise.models import MLPClassifier

CLASSES = ("none", "strong", "high_throughput")
SCORES = ("all", "strong")


def pair_mlp(hidden) -> MLPClassifier:
  """The network: ReLU layers of `hidden` widths, one logit per class."""
  return MLPClassifier(tuple(hidden), len(CLASSES))


def log_odds(logits: jax.Array) -> dict:
  """{'all', 'strong'}: the model's two scores from its class logits [..., 3]."""
  logp = jax.nn.log_softmax(logits)
  return {"all": jnp.logaddexp(logp[..., 1], logp[..., 2]) - logp[..., 0],
          "strong": logp[..., 1] - logp[..., 0]}
