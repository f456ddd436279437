"""What mirjax knows of a node apart from its edges: what a new miRNA or gene still has.

A node with no training edges (cold start) can only be scored from its content:
- its embedding vectors: the SG embeddings, or with data.sequence_embeddings the SG and sequence (S)
  embeddings side by side, each scaled to unit length per node, so that neither table dominates a
  cosine similarity by its scale. Per node only: a statistic over nodes would mix a test fold's new
  nodes into what training sees (models and baselines standardize over training nodes themselves);
- for a miRNA, its miRBase name. miRBase gives mature miRNAs of one seed family one number, told
  apart by letters or copy numbers (hsa-miR-19a-3p, hsa-miR-19b-3p; hsa-let-7a-5p ... hsa-let-7i-5p),
  and the arm suffix names the strand, which carries a different seed. The seed picks the targets,
  so miRNAs of the same number and arm share targets. A name outside that pattern has no family;
- with data.side_graph, its miRTarBase interactions outside the grid (tables.SideGraph), as counts
  shared with the other grid nodes. These are edges, not content: a new node has no known
  interaction anywhere, so the graph model and the baselines use a node's side counts only while it
  has edges in their input graph (graph_features.side_grams).
"""

import re
from typing import NamedTuple

import numpy as np

# (species-)(miR|let|lin)-NUMBER..., with an optional -5p/-3p arm at the end.
_MIRBASE = re.compile(r"^(?:[a-z]{3}-)?(miR|let|lin)-(\d+)")
_ARM = re.compile(r"-(5p|3p)$")


class NodeContent(NamedTuple):
  """The graph model's node inputs (a pytree of arrays, so it passes through jit and vmap)."""
  mirna: np.ndarray  # float32 [n_mirna, d]
  gene: np.ndarray  # float32 [n_gene, d]
  mirna_family: np.ndarray  # float32 [n_mirna, n_mirna]: 1 for two miRNAs of one family, 0 diagonal
  mirna_side: np.ndarray | None = None  # float32 [n_mirna, n_mirna]: SideGraph.mirna_gram
  gene_side: np.ndarray | None = None  # float32 [n_gene, n_gene]: SideGraph.gene_gram


def mirna_family(name: str) -> str | None:
  """'miR-19/3p' for hsa-miR-19b-3p, 'let-7/5p' for hsa-let-7a-5p; None if not a miRBase name."""
  match = _MIRBASE.match(name)
  if match is None:
    return None
  arm = _ARM.search(name)
  return f"{match.group(1)}-{match.group(2)}/{arm.group(1) if arm else ''}"


def same_family(names) -> np.ndarray:
  """float32 [n, n]: 1 where two different miRNAs have one family (mirna_family)."""
  keys = [mirna_family(n) for n in names]
  same = np.array([[a is not None and a == b for b in keys] for a in keys], np.float32)
  np.fill_diagonal(same, 0.0)
  return same


def _unit(v: np.ndarray) -> np.ndarray:
  return v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)


def vectors(embedding: np.ndarray, sequence: np.ndarray | None) -> np.ndarray:
  """The content vectors of one side: the SG embedding alone, or both tables, each row scaled to
  unit length."""
  if sequence is None:
    return np.asarray(embedding, np.float32)
  return np.concatenate([_unit(embedding), _unit(sequence)], 1).astype(np.float32)


def node_content(ds) -> NodeContent:
  """The content of every node of a mirjax.data.dataset.Dataset."""
  side_m, side_g = (ds.side.mirna_gram, ds.side.gene_gram) if ds.side is not None else (None, None)
  return NodeContent(vectors(ds.mirna_vectors, ds.mirna_sequence),
                     vectors(ds.gene_vectors, ds.gene_sequence), same_family(ds.mirna_names),
                     side_m, side_g)
