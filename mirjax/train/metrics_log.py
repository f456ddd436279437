"""The run's per-epoch metrics as JSON lines (`metrics.jsonl`), one row per stage, epoch and replica.

On resume, rows of epochs after the restored checkpoint are dropped (they will be run again), so
the file always describes exactly one uninterrupted history.
"""

import json
import os

from mirjax import atomic, cluster


class MetricsLog:

  def __init__(self, path: str):
    self.path = path

  def rows(self) -> list[dict]:
    if not os.path.exists(self.path):
      return []
    with open(self.path, encoding="utf-8") as f:
      lines = [line for line in f if line.strip()]
    rows = [json.loads(line) for line in lines[:-1]]
    try:
      rows += [json.loads(line) for line in lines[-1:]]
    except json.JSONDecodeError:  # the run was killed while appending its last row
      pass
    return rows

  def truncate(self, stage: str, last_epoch: int) -> None:
    """Keeps rows of other stages, and of `stage` up to and including `last_epoch`."""
    kept = [r for r in self.rows() if r["stage"] != stage or r["epoch"] <= last_epoch]
    atomic.write_text(self.path, "".join(json.dumps(r) + "\n" for r in kept))

  def append(self, rows: list[dict]) -> None:
    if not cluster.is_writer():
      return
    with open(self.path, "a", encoding="utf-8") as f:
      f.write("".join(json.dumps(r) + "\n" for r in rows))
      f.flush()
