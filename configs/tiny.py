"""A seconds-long end-to-end run on synthetic data (no input files): for tests and smoke checks.

Launch:
  python launch.py --config=configs/tiny.py --workdir=/tmp/mirjax-tiny
"""

from mirjax.config import default_config


def get_config():
  config = default_config()
  config.data.source = "synthetic"
  config.data.dim = 24  # 2*24 + latent 8 = 56 inputs = 7 steps x 8
  config.data.synthetic.n_mirna = 40
  config.data.synthetic.n_gene = 30
  config.data.synthetic.n_clusters = 4
  config.data.synthetic.p_within = 0.4
  config.ae.hidden = (32, 16)
  config.ae.latent = 8
  config.ae.epochs = 3
  config.ae.batch_size = 32
  config.lstm.hidden = 16
  config.lstm.step_features = 8
  config.classifier.epochs = 4
  config.classifier.batch_size = 32
  config.classifier.val_fraction = 0.1
  config.train.checkpoint_every = 2
  return config
