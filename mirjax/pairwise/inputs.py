"""The classifier's input: `[pair features | autoencoder latent code]`, optionally standardized.

Shared by training and inference, so a restored model sees exactly the inputs it was trained on.
"""

import jax
import jax.numpy as jnp
import numpy as np

from mirjax.pairwise import models, replicas


def latent_codes(model: models.Autoencoder | None, params, batch_stats, x: jax.Array,
                 n_replicas: int) -> jax.Array:
  """Every replica's latent codes of all rows of x: [n_replicas, n, latent]; width 0 without an
  autoencoder (the `ae.enabled=False` ablation), so the classifier reads the pair features only."""
  if model is None:
    return jnp.zeros((n_replicas, x.shape[0], 0))

  def one(p, stats):
    return model.apply({"params": p, "batch_stats": stats}, x, method=models.Autoencoder.encode)
  return jax.jit(jax.vmap(one))(params, batch_stats)


def classifier_inputs(pair_x, latent, mean, std):
  """`[pair | latent]`, standardized (the statistics are 0 and 1 when standardizing is off)."""
  return (jnp.concatenate([pair_x, latent], axis=-1) - mean) / std


def input_stats(x_all: jax.Array, latent: jax.Array, fit_idx: np.ndarray, standardize: bool):
  """Per-replica mean and std of the classifier inputs over that replica's fit rows only."""
  def one(lat, rows):
    x = jnp.concatenate([x_all[rows], lat[rows]], axis=-1)
    return x.mean(0), x.std(0) + 1e-6
  if not standardize:
    shape = (latent.shape[0], x_all.shape[1] + latent.shape[2])
    return jnp.zeros(shape), jnp.ones(shape)
  return jax.jit(jax.vmap(one))(latent, jnp.asarray(fit_idx))


def classifier_features(classifier, x: jax.Array, reps: replicas.Replicas, ae, ae_params,
                        batch_stats, stage: str):
  """What stage 2 reads, per replica: (latent codes [R, n, L], its fit/val split, input mean and
  std [R, width]), by the `classifier` section's val_fraction and standardize. Training and
  `scoring.TrainedReplicas.build` both call this, so a restored model is scored on exactly the
  inputs it was trained on."""
  latent = latent_codes(ae, ae_params, batch_stats, x, len(reps))
  split = replicas.monitoring_split(reps, classifier.val_fraction, stage)
  mean, std = input_stats(x, latent, split.fit, classifier.standardize)
  return latent, split, mean, std
