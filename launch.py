"""Runs mirjax: `python launch.py --config=configs/paper.py --workdir=runs/paper`.

Thin by design: parses flags and hands the locked config to `mirjax.experiment.run`.
Any config field can be overridden, e.g. `--config.data.negatives.threshold=3.15`.
"""

import ast
import os
import traceback

from absl import app, flags, logging
from ml_collections import config_flags

from mirjax import cluster, console, ranking, workdir
from mirjax import config as config_lib
from mirjax.errors import MirjaxError

_CONFIG = config_flags.DEFINE_config_file("config", None, "Path to a configs/*.py file.",
                                          lock_config=True)
_WORKDIR = flags.DEFINE_string("workdir", None, "Directory for every output of the run.")
_MODE = flags.DEFINE_enum(
    "mode", "train", workdir.MODES,
    "train: dataset + cross-validated training (with protocols.universe: every prospective "
    "protocol); dataset: data stage only; predict: score every pair (the grid with the trained "
    "fold models; a universe with a model fit on all records); query: rank from the predictions.")
_MIRNA = flags.DEFINE_string("mirna", "", "query/predict: list the top genes of this miRNA.")
_GENE = flags.DEFINE_string("gene", "", "query/predict: list the top miRNAs of this gene "
                            "(with --mirna: score that one pair).")
_TOP = flags.DEFINE_integer("top", ranking.Query.top, "query/predict: how many rows to list.",
                            lower_bound=1)
_INCLUDE_KNOWN = flags.DEFINE_bool(
    "include_known", False, "query/predict: rank all pairs, not only those with no miRTarBase "
    "record (alone: the top pairs overall).")
_FORMAT = flags.DEFINE_enum("format", "table", ranking.FORMATS,
                            "query (and predict with --gene/--mirna): how the answer is printed.")
_COORDINATOR = flags.DEFINE_string(
    "coordinator", os.environ.get("JAX_COORDINATOR_ADDRESS", ""),
    "Several processes (one per host): process 0's HOST:PORT; every process runs the same command "
    "with its own --process_id (BUILD.md, 'Several hosts').")
_NUM_PROCESSES = flags.DEFINE_integer("num_processes", 1, "Processes in the run.", lower_bound=1)
_PROCESS_ID = flags.DEFINE_integer("process_id", 0, "This process's index, 0 .. num_processes-1.",
                                   lower_bound=0)
_HEARTBEAT = flags.DEFINE_integer("heartbeat_s", 30, "A process silent this long is taken as dead "
                                  "and the others stop.", lower_bound=5)
_QUESTION = (_MIRNA, _GENE, _TOP, _INCLUDE_KNOWN, _FORMAT)  # flags that ask a question
flags.mark_flags_as_required(["config", "workdir"])


def _unquoted(text: str) -> str:
  """ml_collections nests its message in quoted reprs ("'\\'field\\'\\nDid you mean...'")."""
  while len(text) > 1 and text[0] == text[-1] and text[0] in "'\"":
    try:
      text = ast.literal_eval(text)
    except (ValueError, SyntaxError):
      break
  return text


def _config_path(argv) -> str | None:
  """The --config file as given (`--config=F`, `--config F`; ml_collections' `F:args` suffix off)."""
  for i, arg in enumerate(argv[1:], 1):
    if arg.startswith("--config="):
      return arg.split("=", 1)[1].split(":", 1)[0]
    if arg == "--config" and i + 1 < len(argv):
      return argv[i + 1].split(":", 1)[0]
  return None


def _config_file_problem(e: Exception, argv) -> str | None:
  """What went wrong in the --config file itself (absl loads it while parsing the flags), in one
  line with its line number; None for an error raised elsewhere."""
  path = _config_path(argv)
  if path is None:
    return None
  real, seen = os.path.realpath(path), set()
  while e is not None and id(e) not in seen:  # absl re-raises the file's own error as a flags.Error
    seen.add(id(e))
    if isinstance(e, SyntaxError) and e.filename and os.path.realpath(e.filename) == real:
      return f"line {e.lineno}: {e.msg}"
    if isinstance(e, AttributeError) and "get_config" in str(e):
      return "it defines no get_config() (see configs/*.py)"
    line = next((frame.lineno for frame in reversed(traceback.extract_tb(e.__traceback__))
                 if os.path.realpath(frame.filename) == real), None)
    if line is not None:
      detail = (str(e).strip().splitlines() or [""])[0]
      return f"line {line}: {type(e).__name__}: {detail}"
    e = e.__cause__ or e.__context__
  return None


def parse_flags(argv):
  """Like absl's parser, but a config file that fails to load, or an override of a field the config
  lacks, gets a plain message."""
  try:
    return flags.FLAGS(argv)
  except Exception as e:  # pylint: disable=broad-except
    problem = _config_file_problem(e, argv)
    if problem:
      raise SystemExit(f"error: --config={_config_path(argv)} cannot be loaded: {problem}") from None
    if isinstance(e, (AttributeError, KeyError)):
      lines = [line.strip() for line in _unquoted(str(e.args[0] if e.args else e)).splitlines()]
      field = "; ".join([lines[0] if lines[0][:1] in "'\"" else repr(lines[0])] + lines[1:])
      overrides = [a for a in argv[1:] if a.startswith("--config.")]
      raise SystemExit(f"error: the config has no field {field} (overrides given: "
                       f"{' '.join(overrides)}). All fields and their defaults are in "
                       "mirjax/config.py.") from None
    if isinstance(e, flags.Error):
      raise SystemExit(f"error: {e}\nPass --helpfull to list the flags.") from None
    raise


def loaded_config():
  """The --config, loaded; a file that is missing or fails to load is one line, not a traceback."""
  try:
    config = _CONFIG.value
    config.keys()  # ml_collections loads the file lazily: a failed load raises here
  except OSError as e:
    cause = e.__cause__ or e
    detail = [line.strip() for line in str(cause).splitlines() if line.strip()][-1]
    raise SystemExit(f"error: --config={config_flags.get_config_filename(flags.FLAGS['config'])} "
                     f"cannot be loaded: {detail}") from None
  try:
    config_lib.check_fields(config)  # a file may set any name; overrides are checked already
  except MirjaxError as e:
    raise SystemExit(f"error: --config={config_flags.get_config_filename(flags.FLAGS['config'])}: "
                     f"{e}") from None
  return config


def _check_question(mode: str) -> None:
  """The flags that ask a question are refused in a mode that answers none: without --mode=query a
  finished run's workdir would be trained (or evaluated) again and its record rewritten."""
  given = [f"--{flag.name}" for flag in _QUESTION if flag.present]
  if given and mode not in ("query", "predict"):
    raise SystemExit(f"error: {' '.join(given)} ask a question, which --mode={mode} does not "
                     "answer; add --mode=query (or --mode=predict).")
  empty = [f"--{flag.name}" for flag in (_MIRNA, _GENE) if flag.present and not flag.value.strip()]
  if empty:  # else the grid would quietly answer another question: its top pairs overall
    raise SystemExit(f"error: {' '.join(empty)} names nothing; give a name, or leave it out.")


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  logging.get_absl_handler().python_handler.addFilter(console.ProgressOnly())
  config = loaded_config()
  _check_question(_MODE.value)
  directory = os.path.expanduser(_WORKDIR.value)  # `--workdir=~/x`: the shell leaves ~ as it is
  processes = cluster.Cluster(_COORDINATOR.value, _NUM_PROCESSES.value, _PROCESS_ID.value,
                              _HEARTBEAT.value)
  try:
    query = ranking.Query(mirna=_MIRNA.value, gene=_GENE.value, top=_TOP.value,
                          include_known=_INCLUDE_KNOWN.value)
    if _MODE.value == "query" and config.protocols.universe:
      # experiment.run answers it the same way, but importing it imports JAX and the models first
      from mirjax.prospective import query as universe_query
      universe_query.run(config, directory, query, _FORMAT.value)
      return
    from mirjax import experiment  # JAX and the models: only modes that need them import them
    experiment.run(config, directory, _MODE.value, query, processes, _FORMAT.value)
    cluster.finish()
  except MirjaxError as e:  # a user-facing problem: say it once, plainly, no traceback
    _stop(f"error: {e}", processes)
  except KeyboardInterrupt:
    if not processes.distributed:  # checkpoints are written atomically: the same command resumes
      raise SystemExit("interrupted: rerun the same command (training resumes from its newest "
                       "checkpoint).") from None
    # At once, with sockets closed: JAX's shutdown barrier would hold the peers for minutes.
    _stop(processes.stopped("interrupted"), processes)
  except Exception as e:  # a peer gone (gloo reports its socket closed), or any other failure
    if not processes.distributed:
      raise
    traceback.print_exc()  # for a real bug; the one line below stays last
    detail = (str(e).strip().splitlines() or [type(e).__name__])[0][:300]
    _stop(processes.stopped(detail), processes)


def _stop(message: str, processes: cluster.Cluster) -> None:
  """Exits with one line (a process of several: at once, cluster.exit_now)."""
  if not processes.distributed:
    raise SystemExit(message)
  cluster.exit_now(message)


if __name__ == "__main__":
  app.run(main, flags_parser=parse_flags)
