"""Evaluation: classification metrics, ranking metrics, baselines and cross-validation results."""
