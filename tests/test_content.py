"""Node content: miRBase families from names, and the content vectors of each side."""

import numpy as np

from mirjax.data import content


def test_mirna_family_reads_mirbase_names():
  assert content.mirna_family("hsa-miR-19a-3p") == content.mirna_family("hsa-miR-19b-3p")
  assert content.mirna_family("hsa-miR-19b-3p") != content.mirna_family("hsa-miR-19b-5p")
  assert content.mirna_family("hsa-let-7a-5p") == content.mirna_family("hsa-let-7i-5p") == "let-7/5p"
  assert content.mirna_family("hsa-miR-548a-5p") == content.mirna_family("hsa-miR-548ay-5p")
  assert content.mirna_family("hsa-miR-7-1-5p") == content.mirna_family("hsa-miR-7-5p")
  assert content.mirna_family("hsa-miR-8485") == "miR-8485/"
  assert content.mirna_family("hsa-miR-1") != content.mirna_family("hsa-miR-19a")
  assert content.mirna_family("hsa-miR-syn-3") is None and content.mirna_family("VAV3") is None


def test_same_family_is_symmetric_with_an_empty_diagonal():
  names = ["hsa-miR-19a-3p", "hsa-miR-19b-3p", "hsa-miR-syn-1", "hsa-miR-syn-2", "hsa-miR-20a-5p"]
  same = content.same_family(names)
  np.testing.assert_array_equal(same, same.T)
  assert same[0, 1] == 1 and same.sum() == 2  # unnamed miRNAs are no family of each other


def test_vectors_stack_both_tables_per_node():
  """Both tables at unit length per node; no statistic over nodes, so a node's vector does not
  depend on which other nodes exist (a test fold's new nodes cannot shape training's)."""
  rng = np.random.default_rng(0)
  sg, s = rng.normal(5, 3, (10, 4)), rng.normal(-2, 100, (10, 3))
  np.testing.assert_array_equal(content.vectors(sg, None), sg.astype(np.float32))
  v = content.vectors(sg, s)
  assert v.shape == (10, 7) and v.dtype == np.float32
  np.testing.assert_allclose(np.linalg.norm(v[:, :4], axis=1), 1, rtol=1e-5)
  np.testing.assert_allclose(np.linalg.norm(v[:, 4:], axis=1), 1, rtol=1e-5)
  np.testing.assert_allclose(content.vectors(sg[:4], s[:4]), v[:4], rtol=1e-6)
