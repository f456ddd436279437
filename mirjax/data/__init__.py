"""Inputs, dataset construction and cross-validation folds."""
