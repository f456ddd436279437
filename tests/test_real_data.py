"""The SG-LSTM-core dataset rebuilt from the real inputs. Skipped without MIRJAX_DATA_DIR."""

import os

import numpy as np
import pandas as pd
import pytest

from mirjax import config as config_lib
from mirjax.data import content, dataset


def _data_config(real_data_dir, **negatives):
  c = config_lib.default_config()
  c.data.dir = real_data_dir
  c.data.fetch = False
  c.data.negatives.update(negatives)
  return c.data


def test_exact_counts_and_threshold(real_data_dir):
  ds = dataset.build_dataset(_data_config(real_data_dir))
  r = ds.report
  assert (r["n_mirna"], r["n_gene"], r["n_grid_pairs"]) == (383, 318, 121794)
  assert r["n_positive"] == 15540 and r["n_pairs_with_any_record"] == 15552
  assert r["threshold"] == pytest.approx(3.237, abs=5e-4)
  assert r["n_negative"] == 15540 and ds.folds.shape == (5, 6216)
  assert r["n_left_out_for_equal_folds"] == 0
  assert all(f["checksum_verified"] for f in r["files"].values())


def test_positives_match_the_derived_pair_list(real_data_dir):
  derived = pd.read_csv(os.path.join(real_data_dir, "derived_sglstm_core_mti_pairs.csv"))
  ds = dataset.build_dataset(_data_config(real_data_dir))
  ours = {(ds.mirna_names[i], ds.gene_names[j]) for i, j in ds.pairs[ds.labels == 1]}
  theirs = set(map(tuple, derived.loc[derived.functional == 1, ["miRNA", "gene"]].to_numpy()))
  assert ours == theirs
  recorded = set(map(tuple, derived[["miRNA", "gene"]].to_numpy()))
  negs = {(ds.mirna_names[i], ds.gene_names[j]) for i, j in ds.pairs[ds.labels == 0]}
  assert not negs & recorded


def test_random_strategy_counts(real_data_dir):
  r = dataset.build_dataset(_data_config(real_data_dir, strategy="random")).report
  assert r["n_candidates"] == 121794 - 15552 and r["n_negative"] == 15540


def test_paper_threshold_with_band(real_data_dir):
  ds = dataset.build_dataset(_data_config(real_data_dir, threshold=3.15, band=0.05))
  r = ds.report
  assert r["threshold"] == 3.15 and r["n_dropped_by_band"] > 0
  assert (ds.dissimilarity[tuple(ds.pairs[ds.labels == 0].T)] >= 3.2).all()


def test_sequence_embeddings_align_with_the_grid_and_do_not_change_the_data(real_data_dir):
  """data.sequence_embeddings reads the S tables (checksummed), one row per grid node, and changes
  nothing else: the same pairs, labels and folds."""
  config = _data_config(real_data_dir)
  plain = dataset.build_dataset(config)
  config.sequence_embeddings = True
  ds = dataset.build_dataset(config)
  assert ds.mirna_sequence.shape == (383, 128) and ds.gene_sequence.shape == (318, 128)
  assert plain.mirna_sequence is None
  assert (ds.pairs == plain.pairs).all() and (ds.folds == plain.folds).all()
  assert ds.report["files"]["gene_sequence_embeddings"]["checksum_verified"]
  families = content.same_family(ds.mirna_names)
  i = ds.mirna_names.index("hsa-miR-19a-3p")
  assert families[i, ds.mirna_names.index("hsa-miR-19b-3p")] == 1


def test_the_whole_universe_and_its_temporal_split(real_data_dir):
  """miRTarBase 7.0 as the whole universe: its counts, the sequences' coverage and the main cut."""
  from mirjax.data import mirtarbase, protocols, universe
  c = config_lib.default_config()
  c.data.dir, c.data.fetch = real_data_dir, False
  u = universe.build("whole", c.data)
  assert u.shape == (2599, 15051) and u.mirna_in.all() and u.gene_in.all()
  pairs = mirtarbase.pairs_of(u.records)
  assert int(pairs.functional.sum()) == 380257
  report = u.content.report
  assert report["mirna_names"] == {"exact": 2548, "arm": 12, "none": 39}
  assert report["genes_with_utr"] > 14_500 and report["target_list_mirnas"]["targetscan"] > 600
  c.protocols.protocols, c.protocols.cuts = ("temporal",), (25_000_000,)
  (split,) = protocols.splits(u, c.protocols)
  # the 55,914 pairs first functional after the cut, less 20 with a non-functional record
  # before it (they are neither test positives nor negatives here)
  assert len(split.positives) == 55_894 and len(split.negatives) == 5 * 55_894
  assert (u.records.pmid[split.train] < 25_000_000).all()
  # every model input varies over the training rows: a constant one has no learned meaning, yet
  # standardized by its near-zero spread it sends other pairs' scores anywhere
  from mirjax.prospective import features, stage
  c.prospective.windows = 1
  x = stage.window_examples(u, split, features.SequenceStats(u).of_records(split.train),
                            c.prospective, np.random.default_rng(0)).x
  assert not [n for n, spread in zip(features.Features.names(), np.ptp(x, 0)) if spread == 0]
