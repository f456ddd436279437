"""Orbax checkpoints of a replica-stacked train state, with fall-back past a damaged latest step.

Orbax finalizes a step only after all its files are written (temporary directory, then rename), so
an interrupted save never shows up as a step. A step damaged afterwards (disk error, a file removed)
fails to restore; we then warn and try the step before it.
"""

import os

import jax
import orbax.checkpoint as ocp
from absl import logging


class ReplicaCheckpoints:
  """Saves and restores one stage's state pytree, keyed by the number of completed epochs."""

  def __init__(self, directory: str, keep: int):
    self.directory = os.path.abspath(directory)
    self._manager = ocp.CheckpointManager(
        self.directory,
        options=ocp.CheckpointManagerOptions(max_to_keep=keep, create=True,
                                             enable_async_checkpointing=False))

  def steps(self) -> list[int]:
    return sorted(self._manager.all_steps())

  def restore_latest(self, template=None):
    """Returns (state, epoch) of the newest restorable step, or (template, 0) if there is none.

    With a template the restored pytree must match its structure, shapes and dtypes; without one
    it is restored as saved.
    """
    abstract = None if template is None else jax.tree.map(ocp.utils.to_shape_dtype_struct, template)
    for step in reversed(self.steps()):
      try:
        state = self._manager.restore(step, args=ocp.args.StandardRestore(abstract))
      except Exception as e:  # orbax raises many types for damaged files; all mean "unusable"
        logging.warning("checkpoint %s/%d cannot be restored (%s: %s); falling back to the "
                        "previous one.", self.directory, step, type(e).__name__, e)
        continue
      return state, step
    return template, 0

  def save(self, step: int, state) -> None:
    self._manager.save(step, args=ocp.args.StandardSave(state), force=True)

  def close(self) -> None:
    self._manager.wait_until_finished()
    self._manager.close()
