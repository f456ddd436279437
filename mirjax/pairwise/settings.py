"""What the pairwise family reads of a config, resolved once (`pairwise.Family.from_config`)."""

import dataclasses

import flax.linen as nn
import ml_collections

from mirjax.pairwise import models


@dataclasses.dataclass(frozen=True)
class Settings:
  """Each stage's own section, and the two modules they build."""
  ae: ml_collections.ConfigDict  # config.ae: the autoencoder and how it trains
  classifier: ml_collections.ConfigDict  # config.classifier: how stage 2 trains
  net: nn.Module  # stage 2's module, from its architecture section (config.lstm / config.mlp)
  train: ml_collections.ConfigDict  # config.train: devices and layout
  chunk: int  # pairs scored per compiled call (config.predict.chunk)

  @classmethod
  def from_config(cls, config: ml_collections.ConfigDict) -> "Settings":
    model = config.classifier.model
    return cls(config.ae, config.classifier,
               models.classifier(model, config.lstm if model == "lstm" else config.mlp),
               config.train, config.predict.chunk)

  def autoencoder(self, in_dim: int) -> models.Autoencoder | None:
    return models.autoencoder(self.ae, in_dim)
