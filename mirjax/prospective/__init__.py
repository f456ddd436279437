"""The prospective model: who will be validated next, learned from earlier cuts of the training
records (features.py: what a pair looks like before it is validated; model.py: the MLP and its two
scores; stage.py: its inner windows and replica-parallel training; evaluate.py: every split beside the
record baselines; predict.py: all pairs of a universe, and queries)."""
