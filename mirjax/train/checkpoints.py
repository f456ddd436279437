"""Orbax checkpoints of a replica-stacked train state, surviving a damaged newest step.

Orbax finalizes a step only after all its files are written (temporary directory, then rename), so
an interrupted save never shows up as a step. A step damaged afterwards (disk error, a file removed)
fails to restore. Training then deletes it, with one warning line, and resumes from the step before:
the deleted step is re-saved when training reaches it again (keeping it would make that save fail,
and every rerun with it). Read-only use (scoring a finished run) never deletes: it skips the step.
"""

import logging as std_logging
import os
import shutil
import sys

import jax
import orbax.checkpoint as ocp
from absl import logging

from mirjax import cluster
from mirjax.errors import MirjaxError


def _without_closed_loop_reports(hook):
  """sys.unraisablehook, less the reports of TensorStore's reads that complete after a damaged
  step failed to restore and call back into the asyncio loop orbax has closed meanwhile: harmless
  (the step is reported and skipped), but each printed a traceback, dozens per damaged step."""
  def quiet(unraisable):
    value = unraisable.exc_value
    if isinstance(value, RuntimeError) and str(value) == "Event loop is closed":
      return
    hook(unraisable)
  return quiet


sys.unraisablehook = _without_closed_loop_reports(sys.unraisablehook)
_RESTORED_FROM: set[str] = set()  # every checkpoint directory whose steps a restore has read


class _SiblingReadFailures(std_logging.Filter):
  """Drops asyncio's 'Task/Future exception was never retrieved' reports of the other reads of a
  damaged step: orbax stops at the first failed read, and the rest are logged, with tracebacks, when
  their tasks are collected (1 run in 4 of the damaged-step test). The step itself is reported once,
  by `_discard`."""

  def filter(self, record: std_logging.LogRecord) -> bool:
    if not str(record.msg).startswith(("Task exception was never retrieved",
                                       "Future exception was never retrieved")):
      return True
    error = str(record.exc_info[1]) if record.exc_info else ""
    return not any(directory in error for directory in _RESTORED_FROM)


std_logging.getLogger("asyncio").addFilter(_SiblingReadFailures())


def _first_line(e: Exception, limit: int = 160) -> str:
  """An exception as one short line: orbax/TensorStore messages run to dozens of lines."""
  text = (str(e).strip().splitlines() or [""])[0].split(" See full TensorStore details")[0]
  return f"{type(e).__name__}: {text[:limit]}{'…' if len(text) > limit else ''}"


class ReplicaCheckpoints:
  """Saves and restores one stage's state pytree, keyed by the number of completed epochs.

  read_only=True opens an existing directory without creating, cleaning or deleting anything (a
  workdir on a read-only disk, or one whose run is scored while it is kept as a record).
  """

  def __init__(self, directory: str, keep: int = 1, read_only: bool = False):
    self.directory = os.path.abspath(directory)
    self.read_only = read_only
    self._manager = ocp.CheckpointManager(
        self.directory,
        options=ocp.CheckpointManagerOptions(max_to_keep=keep, create=not read_only,
                                             read_only=read_only,
                                             enable_async_checkpointing=False))

  def steps(self) -> list[int]:
    return sorted(self._manager.all_steps())

  def restore_latest(self, template=None):
    """Returns (state, epoch) of the newest restorable step, or (template, 0) if there is none.

    With a template the restored pytree must match its structure, shapes and dtypes; without one
    it is restored as saved. Unrestorable newer steps are deleted (skipped when read-only).
    """
    abstract = None if template is None else jax.tree.map(ocp.utils.to_shape_dtype_struct, template)
    _RESTORED_FROM.add(self.directory)
    for step in reversed(self.steps()):
      try:
        state = self._manager.restore(step, args=ocp.args.StandardRestore(abstract))
      except Exception as e:  # orbax raises many types for damaged files; all mean "unusable"
        self._discard(step, e)
        continue
      return state, step
    return template, 0

  def _discard(self, step: int, error: Exception) -> None:
    path = os.path.join(self.directory, str(step))
    if self.read_only:
      logging.warning("checkpoint %s cannot be restored (%s); trying the one before.", path,
                      _first_line(error))
      return
    logging.warning("checkpoint %s cannot be restored (%s); deleted it, resuming from the one "
                    "before.", path, _first_line(error))
    try:  # every process (orbax deletes on process 0, after a barrier all of them reach)
      self._manager.delete(step)
    except Exception:  # the step may be too damaged for orbax to delete it
      if cluster.is_writer():
        shutil.rmtree(path, ignore_errors=True)
    self._manager.reload()

  def save(self, step: int, state) -> None:
    self._manager.save(step, args=ocp.args.StandardSave(state), force=True)

  def close(self) -> None:
    if not self.read_only:
      self._manager.wait_until_finished()
    self._manager.close()


def restore_finished(directory: str, epochs: int) -> dict:
  """The finished state of one stage, read-only; raises MirjaxError naming what was found."""
  if not os.path.isdir(directory):
    raise MirjaxError(f"{directory} does not exist: this workdir has no trained models. Run "
                      "--mode=train with the same --config and --workdir first.")
  ckpt = ReplicaCheckpoints(directory, read_only=True)
  try:
    state, step = ckpt.restore_latest()
    if step != epochs:
      raise MirjaxError(
          f"{directory} has no restorable checkpoint of a finished run (newest restorable epoch "
          f"{step} of {epochs}; steps on disk: {ckpt.steps()}). Finish it with --mode=train and "
          "the same --config and --workdir.")
    return state
  finally:
    ckpt.close()
