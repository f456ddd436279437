"""mirjax: fold-parallel JAX/Flax models for microRNA–gene association prediction."""

__version__ = "0.1.0"
