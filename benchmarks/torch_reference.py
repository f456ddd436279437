"""The obvious PyTorch implementation of the classifier, for comparison: `nn.LSTM(num_layers=3)`.

Same architecture and sizes as mirjax's classifier (inputs read as steps x features, last hidden
state -> Linear(2)), same optimizer (Adam) and loss (cross-entropy), trained in a plain Python loop.
torch is a benchmark-only dependency (requirements-bench.txt).
"""

import numpy as np
import torch
from torch import nn


class TorchLSTMClassifier(nn.Module):

  def __init__(self, step_features: int, hidden: int, layers: int):
    super().__init__()
    self.lstm = nn.LSTM(step_features, hidden, num_layers=layers, batch_first=True)
    self.head = nn.Linear(hidden, 2)
    self.step_features = step_features

  def forward(self, x):
    out, _ = self.lstm(x.view(x.shape[0], -1, self.step_features))
    return self.head(out[:, -1])


def make_epoch(*, n_samples: int, in_dim: int, step_features: int, hidden: int, layers: int,
               batch_size: int, seed: int = 0):
  """Returns `epoch()`: one shuffled pass of full batches over random data; and samples per call."""
  torch.manual_seed(seed)
  rng = np.random.default_rng(seed)
  x = torch.from_numpy(rng.normal(size=(n_samples, in_dim)).astype(np.float32))
  y = torch.from_numpy(rng.integers(0, 2, n_samples))
  model = TorchLSTMClassifier(step_features, hidden, layers)
  opt = torch.optim.Adam(model.parameters(), lr=1e-3)
  loss_fn = nn.CrossEntropyLoss()
  n_batches = n_samples // batch_size

  def epoch():
    perm = torch.randperm(n_samples)
    for b in range(n_batches):
      idx = perm[b * batch_size:(b + 1) * batch_size]
      opt.zero_grad(set_to_none=True)
      loss = loss_fn(model(x[idx]), y[idx])
      loss.backward()
      opt.step()
    return loss.item()

  return epoch, n_batches * batch_size
