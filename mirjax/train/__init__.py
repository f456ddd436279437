"""Training: the replica-parallel epoch loop, the stages, checkpoints and the metrics log."""
