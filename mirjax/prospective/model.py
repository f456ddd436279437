"""The prospective model: which evidence, if any, will validate a pair next.

An MLP on a pair's features (mirjax/prospective/features.py) with three outputs: no validation, a
strong (low-throughput) one, a CLIP or other high-throughput one. It reads standardized inputs (the
statistics of its own training rows). Two scores come from it: `all` = log((p_strong + p_ht)/p_none),
the odds of any future validation, and `strong` = log(p_strong/p_none), of a reporter-, western- or
qPCR-type one.

The strong class is weighted `strong_weight` times in the loss (it is rare), which multiplies the
network's strong odds by that weight. The scores divide it out again: otherwise `all` would count a
strong validation as `strong_weight` times as likely as it is and rank a gene's candidates by the
miRNAs' low-throughput attention rather than by who any new study finds (chosen on the inner split:
docs/reports/prospective.md). `strong` only shifts by a constant.
"""

import jax
import jax.numpy as jnp

from mirjax.pairwise.models import MLPClassifier

CLASSES = ("none", "strong", "high_throughput")
SCORES = ("all", "strong")


def pair_mlp(hidden) -> MLPClassifier:
  """The network: ReLU layers of `hidden` widths, one logit per class."""
  return MLPClassifier(tuple(hidden), len(CLASSES))


def log_odds(logits: jax.Array, strong_weight: float) -> dict:
  """{'all', 'strong'}: the model's two scores from its class logits [..., 3], the strong class's
  loss weight divided out."""
  logp = jax.nn.log_softmax(logits)
  strong = logp[..., 1] - jnp.log(strong_weight)
  return {"all": jnp.logaddexp(strong, logp[..., 2]) - logp[..., 0],
          "strong": strong - logp[..., 0]}
