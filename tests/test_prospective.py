"""The prospective protocols on a synthetic universe: no test-period record in any training role, the
Woodbury EASE equals the direct one, and a whole run (train, predict, query) end to end."""

import contextlib
import dataclasses
import gzip
import io
import json
import os
import shutil
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest
import scipy.sparse

from conftest import ROOT
from mirjax import config as config_lib
from mirjax import experiment, ranking, rng
from mirjax import workdir as workdir_lib
from mirjax.data import keysets, mirtarbase, protocols, sequences, sources, synthetic_universe
from mirjax.data import universe as universe_lib
from mirjax.evaluation import baselines, record_baselines
from mirjax.prospective import features, shift, stage
from mirjax.train import loop

SMALL = {"protocols.cuts": (20_000_000, 24_000_000), "protocols.end": 29_000_000,
         "protocols.folds": 2, "prospective.windows": 2, "prospective.window": 2_000_000,
         "prospective.epochs": 3, "prospective.batch_size": 16, "protocols.ranking_genes": 50,
         "protocols.bootstrap": 10}


@pytest.fixture(scope="module")
def files(tmp_path_factory):
  directory = tmp_path_factory.mktemp("universe_inputs")
  synthetic_universe.write_files(str(directory))
  return str(directory)


def _config(files, **overrides):
  c = config_lib.default_config()
  c.protocols.universe = "whole"
  c.data.dir, c.data.fetch, c.data.verify_checksums = files, False, False
  return config_lib.override(c, {**SMALL, **overrides})


@pytest.fixture(scope="module")
def universe(files):
  c = _config(files)
  return universe_lib.build("whole", c.data), c


def test_evidence_classes():
  assert mirtarbase.record_class("Luciferase reporter assay//Microarray") == mirtarbase.STRONG
  assert mirtarbase.record_class("PAR-CLIP") == mirtarbase.CLIP
  assert mirtarbase.record_class("HITS-CLIP//Microarray") == mirtarbase.CLIP
  assert mirtarbase.record_class("Microarray//pSILAC") == mirtarbase.OTHER_HT
  assert mirtarbase.record_class("Western blot;qRT-PCR") == mirtarbase.STRONG
  assert mirtarbase.record_class("IlluminaExpressionArrays") == mirtarbase.OTHER_HT


def test_woodbury_ease_equals_the_direct_one():
  rng_ = np.random.default_rng(0)
  x = rng_.random((30, 200)) < 0.1
  graph = record_baselines.Graph.of(scipy.sparse.csr_matrix(x))
  got = record_baselines.ease_gene_side(graph, 20.0)
  np.testing.assert_allclose(got, baselines._ease_columns(x.astype(float), 20.0), atol=1e-5)
  got = record_baselines.ease_mirna_side(graph, 7.0)
  np.testing.assert_allclose(got, baselines._ease_columns(x.T.astype(float), 7.0).T, atol=1e-5)


@pytest.mark.parametrize("n", [0, 1, 7, 100_000])
def test_keysets_equal_numpys_set_routines(n):
  draw = np.random.default_rng(n)
  a = draw.integers(0, 3 * n + 1, n)
  b = draw.integers(0, 3 * n + 1, n // 2 + 1)
  assert np.array_equal(keysets.unique(a), np.unique(a))
  assert keysets.unique(a).dtype == a.dtype
  assert np.array_equal(keysets.setdiff(a, b), np.setdiff1d(a, b))
  assert np.array_equal(keysets.union(a, b), np.union1d(a, b))
  assert np.array_equal(keysets.is_member(a, np.sort(b)), np.isin(a, b))
  assert not keysets.is_member(a, np.zeros(0, np.int64)).any()


@pytest.mark.parametrize("rank", [5, 30, 40])  # 30 and more: every vector of the 30-row graph
def test_svd_baseline_is_the_rank_r_reconstruction(rank):
  x = (np.random.default_rng(1).random((30, 200)) < 0.1).astype(float)
  u, s, vt = np.linalg.svd(x, full_matrices=False)
  want = (u[:, :rank] * s[:rank]) @ vt[:rank]
  got = record_baselines.svd_reconstruction(
      record_baselines.Graph.of(scipy.sparse.csr_matrix(x)), rank)
  np.testing.assert_allclose(got, want, atol=1e-5)


def test_splits_test_only_what_training_never_saw(universe):
  u, c = universe
  r = u.records
  recorded = np.unique(r.pair)
  for split in protocols.splits(u, c.protocols):
    assert len(split.positives) and len(split.negatives) == round(5 * len(split.positives))
    seen = np.unique(r.pair[split.train])
    assert not np.isin(split.positives, seen).any()  # no record of a test pair is trained on
    assert not np.isin(split.negatives, recorded).any()  # never recorded anywhere
    m, g = np.divmod(np.r_[split.positives, split.negatives], u.shape[1])
    assert split.test_mirnas[m].all() and split.test_genes[g].all()
    if split.protocol == "temporal":
      t = c.protocols.cuts[split.index]
      assert r.pmid[split.train].max() < t and split.now == t
    if split.protocol == "papers":  # a held-out paper is wholly out
      assert not np.isin(r.pmid[~split.train], r.pmid[split.train]).any()
    if split.protocol.startswith("cold"):  # a new node has no training record at all
      side = r.mirna if split.protocol == "cold_mirna" else r.gene
      new = split.test_mirnas if split.protocol == "cold_mirna" else split.test_genes
      assert not new[side[split.train]].any()


def test_recency_degrees_by_brute_force(universe):
  """Recent and recency-decayed degrees equal a loop over each pair's first functional record: a
  partner counts once, dated by its first record; recent CLIP and strong records count records;
  node ages are quantiles among known nodes."""
  u, c = universe
  split = next(s for s in protocols.splits(u, c.protocols) if s.protocol == "temporal")
  recent = c.prospective.recent
  feats = features.Features(u, split.train, split.now,
                            features.SequenceStats(u).of_records(split.train), recent)
  r = u.records.select(split.train & u.records.functional)
  first = {}
  for m, g, pmid in zip(r.mirna, r.gene, r.pmid):
    first[m, g] = min(first.get((m, g), pmid), pmid)
  for side, axis in (("mirna", 0), ("gene", 1)):
    want_recent, want_decayed = np.zeros(u.shape[axis]), np.zeros(u.shape[axis])
    for pair, pmid in first.items():
      want_recent[pair[axis]] += pmid >= split.now - recent
      want_decayed[pair[axis]] += np.exp(-(split.now - pmid) / recent)
    got = getattr(feats, side)
    assert 0 < want_recent.max() < want_recent.sum()
    np.testing.assert_array_equal(got["recent_deg"], want_recent, err_msg=side)
    np.testing.assert_allclose(got["decayed_deg"], want_decayed, rtol=1e-5, err_msg=side)
    # recent records of one evidence class count records, not partners
    for evidence, name in ((mirtarbase.STRONG, "strong"), (mirtarbase.CLIP, "clip")):
      want = np.zeros(u.shape[axis])
      for node, pmid, e in zip((r.mirna, r.gene)[axis], r.pmid, r.evidence):
        want[node] += (e == evidence) and pmid >= split.now - recent
      assert want.sum() > 0, name
      np.testing.assert_array_equal(got[f"recent_{name}_records"], want, err_msg=f"{side} {name}")
    # read by the model relative to the mean over the present's known nodes, on the same scale in
    # every window
    idx = np.arange(u.shape[axis])
    pairs = (idx, np.zeros_like(idx)) if axis == 0 else (np.zeros_like(idx), idx)
    column = feats.gather(*pairs)[:, features.Features.names().index(f"{side}_recent_deg")]
    known = np.isin(idx, (r.mirna, r.gene)[axis])
    assert known.any() and (axis == 0 or not known.all())  # genes: not every node of the universe
    np.testing.assert_allclose(column, np.log1p(want_recent / want_recent[known].mean()),
                               rtol=1e-5, atol=1e-5, err_msg=side)
    # ages: the share of known nodes at most as old, by the first and the last functional record
    node = (r.mirna, r.gene)[axis]
    oldest = {n: (split.now - min(p for n2, p in zip(node, r.pmid) if n2 == n),
                  split.now - max(p for n2, p in zip(node, r.pmid) if n2 == n)) for n in set(node)}
    for which, k in (("age_first", 0), ("age_last", 1)):
      want = np.full(u.shape[axis], 0.0 if k == 0 else 1.0)
      for n, ages in oldest.items():
        want[n] = np.mean([(a[k] < ages[k]) + 0.5 * (a[k] == ages[k]) for a in oldest.values()]) + (
            0.5 / len(oldest))
      np.testing.assert_allclose(got[which], want, rtol=1e-6, err_msg=f"{side} {which}")


def test_input_shift_is_in_the_windows_positives_sd():
  x = np.random.default_rng(0).normal(size=(4000, 3))
  x[:, 2] = 1.0  # constant in the windows
  y = np.r_[np.ones(2000, int), np.zeros(2000, int)]
  x[y == 0, 0] += 50.0  # negatives do not count
  reference = shift.Reference.of(x, y)
  np.testing.assert_allclose(reference.shift(x[y > 0]), 0.0, atol=1e-12)
  test = x[y > 0] + np.array([2.0, -0.5, 0.03])
  got = reference.shift(test)
  np.testing.assert_allclose(got[:2], [2.0 / x[y > 0, 0].std(), -0.5 / x[y > 0, 1].std()])
  assert got[2] == pytest.approx(0.03 / shift.MIN_STD)
  assert list(shift.largest(dict(zip("abc", got)), 2)) == ["c", "a"]


def _training_view(u, split, stats, section, pairs):
  """Everything a split's model and baselines read, computed on the split."""
  ex = stage.window_examples(u, split, stats, section, rng.generator(0, "prospective_windows", 0))
  feats = features.Features(u, split.train, split.now, stats, section.recent)
  m, g = np.divmod(pairs, u.shape[1])
  scores = {name: f(m, g) for name, f in record_baselines.scorers(feats).items()}
  return ex, feats.gather(m, g), scores


def test_no_test_period_record_reaches_any_training_role(universe):
  """Recomputed on a table that holds only the split's training records (its test period and
  held-out papers deleted), the model's training rows, every feature and every baseline are the
  same: nothing outside training reaches them."""
  u, c = universe
  for split in protocols.splits(u, c.protocols):
    pairs = np.r_[split.positives, split.negatives]
    full = _training_view(u, split, features.SequenceStats(u).of_records(split.train),
                          c.prospective, pairs)
    kept = dataclasses.replace(u, records=u.records.select(split.train))
    everything = np.ones(split.train.sum(), bool)
    alone = _training_view(kept, dataclasses.replace(split, train=everything),
                           features.SequenceStats(kept).of_records(everything), c.prospective, pairs)
    np.testing.assert_array_equal(full[0].x, alone[0].x)
    np.testing.assert_array_equal(full[0].y, alone[0].y)
    np.testing.assert_array_equal(full[1], alone[1])
    for name in full[2]:
      np.testing.assert_array_equal(full[2][name], alone[2][name], err_msg=name)


def test_later_papers_move_no_input_of_a_temporal_split(universe, files, tmp_path):
  """The universe's nodes are those with a functional record anywhere in the table, later papers
  included. Rebuilt from a table cut at the split's present (every later record deleted, so fewer
  nodes), every feature of every pair of nodes known then, at the present and at an inner window's
  earlier one, and every baseline's score are the same: which nodes later papers add moves nothing."""
  _, c = universe
  now = min(c.protocols.cuts)
  mti = sources.SOURCES["mirtarbase"].filename
  table = pd.read_csv(os.path.join(files, mti), dtype=str, keep_default_na=False)
  pmid = table["References (PMID)"].astype(int)
  functional = table["Support Type"].str.startswith("Functional")
  later = set(table.loc[functional & (pmid >= now), "Target Gene"]) - set(
      table.loc[functional & (pmid < now), "Target Gene"])
  # a non-functional record before the present of a gene that only a later paper makes functional
  known_mirna, known_too = table.loc[functional & (pmid < now), "miRNA"].unique()[:2]
  extra = table[table["Target Gene"] == sorted(later)[0]].head(1).assign(**{
      "Support Type": "Non-Functional MTI", "References (PMID)": str(now - 1), "miRNA": known_mirna})
  # and a miRNA that only a later paper records, in a seed family of two known miRNAs
  mature_file = sources.SOURCES["mirbase_mature"].filename
  mature = sequences.read_mature(os.path.join(files, mature_file))
  seed = mature[known_mirna].sequence[:8]
  mature[known_too] = mature[known_too]._replace(sequence=seed + mature[known_too].sequence[8:])
  mature["hsa-miR-9999-5p"] = sequences.Mature("MIMAT9999999", seed + "ACGTACGTACGTAC")
  newcomer = table[functional & (table["miRNA"] == known_mirna)].head(1).assign(**{
      "miRNA": "hsa-miR-9999-5p", "References (PMID)": str(now + 1)})
  table = pd.concat([table, extra, newcomer])
  for kept, directory in ((table, tmp_path / "full"), (table[table["References (PMID)"].astype(int)
                                                             < now], tmp_path / "cut")):
    directory.mkdir()
    for name in os.listdir(files):
      shutil.copy(os.path.join(files, name), directory / name)
    kept.to_csv(directory / mti, index=False)
    with gzip.open(directory / mature_file, "wt") as f:
      f.writelines(f">{name} {m.accession} Homo sapiens\n{m.sequence.replace('T', 'U')}\n"
                   for name, m in mature.items())
  u = universe_lib.build("whole", _config(str(tmp_path / "full")).data)
  split = next(s for s in protocols.splits(u, c.protocols) if s.protocol == "temporal")
  assert split.now == now
  fam = u.content.seed_family
  newcomer_at, sibling_at = (list(u.records.mirnas).index(n) for n in ("hsa-miR-9999-5p", known_mirna))
  assert fam[newcomer_at] == fam[sibling_at] >= 0  # the family statistics are exercised
  assert fam[list(u.records.mirnas).index(known_too)] == fam[sibling_at]
  cut = universe_lib.build("whole", _config(str(tmp_path / "cut")).data)
  assert cut.shape[0] < u.shape[0] and cut.shape[1] < u.shape[1]  # later papers added nodes
  m, g = np.divmod(np.arange(cut.shape[0] * cut.shape[1]), cut.shape[1])
  full_m = pd.Index(u.records.mirnas).get_indexer(cut.records.mirnas)[m]  # the same pairs, by name
  full_g = pd.Index(u.records.genes).get_indexer(cut.records.genes)[g]
  assert (full_m >= 0).all() and (full_g >= 0).all()
  full_stats = features.SequenceStats(u).of_records(split.train)
  cut_stats = features.SequenceStats(cut).of_records(np.ones(len(cut.records.pmid), bool))
  for now in (split.now, split.now - c.prospective.window):
    full = features.Features(u, split.train & (u.records.pmid < now), now, full_stats,
                             c.prospective.recent)
    alone = features.Features(cut, cut.records.pmid < now, now, cut_stats, c.prospective.recent)
    np.testing.assert_allclose(full.gather(full_m, full_g), alone.gather(m, g), rtol=1e-5,
                               atol=1e-6)
    full_scores, cut_scores = record_baselines.scorers(full), record_baselines.scorers(alone)
    for name in full_scores:
      np.testing.assert_allclose(full_scores[name](full_m, full_g), cut_scores[name](m, g),
                                 rtol=1e-4, atol=1e-6, err_msg=name)


def _windows(u, split, section):
  return list(stage.inner_windows(u, split, section, rng.generator(0, "prospective_windows", 0)))


def test_cold_windows_hold_out_training_nodes_as_the_test_does(universe):
  """A cold split's windows are folds of its own training nodes, each held out with all its records
  at the split's present: they partition those nodes, read no held node's record and nothing outside
  training, and their positives pair a held node with a known one. So the test's new nodes sit
  inside the windows' positives (input shift), where time-cut windows never had a record-less node."""
  u, c = universe
  sequence_stats, r = features.SequenceStats(u), u.records
  for split in protocols.splits(u, c.protocols):
    if split.protocol not in stage.COLD:
      continue
    stats = sequence_stats.of_records(split.train)
    side = stage.COLD[split.protocol]
    node = (r.mirna, r.gene)[side]
    windows = _windows(u, split, c.prospective)
    assert len(windows) == c.prospective.windows
    held = np.stack([w[4] for w in windows])
    np.testing.assert_array_equal(held.sum(0), np.isin(np.arange(u.shape[side]),
                                                        node[split.train]))
    for _, read, later, now, new_nodes in windows:
      assert now == split.now and not (read & new_nodes[node]).any()
      assert not ((read | later) & ~split.train).any()
      np.testing.assert_array_equal(later, split.train & new_nodes[node])
    test = features.Features(u, split.train, split.now, stats, c.prospective.recent).gather(
        *np.divmod(split.positives, u.shape[1]))
    column = features.Features.names().index(("mirna", "gene")[side] + "_deg")
    shifts = {}
    for shaped in (True, False):
      section = c.prospective.copy_and_resolve_references()
      section.shaped_windows = shaped
      ex = stage.window_examples(u, split, stats, section, rng.generator(0, "prospective_windows", 0))
      shifts[shaped] = shift.Reference.of(ex.x, ex.y).shift(test)[column]
    assert abs(shifts[True]) < 0.5 < abs(shifts[False]), (split.label, shifts)


def test_papers_windows_hold_out_training_papers(universe):
  """A papers split's windows are folds of its own training papers at its present: every training
  paper is held out by exactly one window, which reads every other training record and nothing else;
  without shaped windows, the split gets time cuts."""
  u, c = universe
  r = u.records
  for split in protocols.splits(u, c.protocols):
    if split.protocol != "papers":
      continue
    windows = _windows(u, split, c.prospective)
    assert len(windows) == c.prospective.windows
    held = np.stack([w[2] for w in windows])
    np.testing.assert_array_equal(held.sum(0), split.train)
    for _, read, later, now, new_nodes in windows:
      assert now == split.now and new_nodes is None
      np.testing.assert_array_equal(read, split.train & ~later)
      assert not np.isin(r.pmid[read], r.pmid[later]).any()
    section = c.prospective.copy_and_resolve_references()
    section.shaped_windows = False
    assert [w[3] for w in _windows(u, split, section)] == [
        split.now - k * section.window for k in range(1, section.windows + 1)]


def _launch(files, workdir, *args):
  c = _config(files)
  flags = [f"--config.{k}={v!r}" if isinstance(v, tuple) else f"--config.{k}={v}"
           for k, v in SMALL.items()]
  return subprocess.run(
      [sys.executable, os.path.join(ROOT, "launch.py"), "--config=configs/whole.py",
       f"--workdir={workdir}", f"--config.data.dir={c.data.dir}", "--config.data.fetch=False",
       "--config.data.verify_checksums=False", *flags, *args], cwd=ROOT, capture_output=True,
      text=True, timeout=900)


def test_train_predict_query_end_to_end(files, tmp_path):
  w = tmp_path / "w"
  p = _launch(files, w)
  assert p.returncode == 0, p.stderr[-3000:]
  results = json.loads((w / "results.json").read_text())
  protocols_run = {s["protocol"] for s in results["splits"]}
  assert protocols_run == set(config_lib.default_config().protocols.protocols)
  board = (w / "leaderboard.md").read_text()
  assert "## temporal T=24.0M" in board and "within-study completion" in board
  for name in record_baselines.NAMES:
    assert f"| {name} |" in board
  metrics = pd.read_csv(w / "metrics.csv")
  assert set(metrics["subset"]) >= {"all", "strong", "clip"}
  assert json.loads((w / "config.json").read_text())["model_inputs"] == features.INPUTS
  for s in results["splits"]:  # every input's shift
    assert list(s["input_shift"]) == features.Features.names()
  assert board.count("Inputs furthest from the training windows") == len(results["input_shift"])
  assert (w / "splits.json").exists() and (w / "config.json").exists()
  assert results["device_memory"] is None  # the CPU keeps no device memory counts (a GPU does)
  p = _launch(files, w, "--mode=predict")
  assert p.returncode == 0, p.stderr[-3000:]
  table = pd.read_parquet(w / "predictions" / "all_pairs.parquet")
  u = json.loads((w / "splits.json").read_text())
  assert len(table) == u["n_mirna"] * u["n_gene"]
  assert sorted(table["rank"]) == list(range(1, len(table) + 1))
  assert (table.groupby("gene", observed=True)["rank_in_gene"].min() == 1).all()
  assert set(table["status"]) >= {"positive", "unknown"}
  unknown = table[table["status"] == "unknown"]
  others = table[table["status"] != "unknown"]  # no feature of theirs was out of training's range
  assert others["score_strong"].between(unknown["score_strong"].min() - 5,
                                        unknown["score_strong"].max() + 5).all()
  by_mirna = pd.read_parquet(w / "predictions" / "all_pairs_by_mirna.parquet")
  want = table.sort_values(["mirna", "rank"]).reset_index(drop=True)
  pd.testing.assert_frame_equal(by_mirna, want)
  top = config_lib.default_config().predict.top
  for by in ("gene", "mirna"):  # each node's top unknown candidates, best first
    got = pd.read_csv(w / "predictions" / f"top_by_{by}.csv")
    want = unknown.sort_values([by, "rank"]).groupby(by, observed=True).head(top)
    assert list(got["rank"]) == list(want["rank"])
  in_mirna = table.sort_values("rank").groupby("mirna", observed=True).cumcount() + 1
  assert (table["rank_in_mirna"] == in_mirna.loc[table.index]).all()
  codes = pd.factorize(table["gene"])[0]  # one block per gene, by rank within it
  assert (np.diff(codes) >= 0).all() and (np.diff(table["rank"])[np.diff(codes) == 0] > 0).all()
  assert (table["rank_in_gene"] == table.groupby("gene", observed=True).cumcount() + 1).all()
  records = pd.read_parquet(w / "predictions" / "records.parquet")
  functional = records.groupby(["mirna", "gene"], observed=True)["functional"].any()
  key = pd.MultiIndex.from_arrays([table["mirna"], table["gene"]])
  want = functional.reindex(key).map({True: "positive", False: "nonfunctional_record"})
  assert (table["status"].astype(str).to_numpy() == want.fillna("unknown").to_numpy()).all()
  positive = table["status"] == "positive"  # a positive's class over its functional records
  evidence = records[records["functional"]].groupby(["mirna", "gene"], observed=True)["evidence"].agg(
      lambda e: "strong" if (e == "strong").any() else "clip" if (e == "clip").all() else "other_ht")
  got = table.loc[positive, "evidence"].astype(str).to_numpy()
  assert (got == evidence.reindex(key[positive.to_numpy()]).to_numpy()).all()
  assert table.loc[~positive, "evidence"].isna().all()
  gene = table.loc[table["status"] == "positive", "gene"].iloc[0]
  t = time.time()
  p = _launch(files, w, "--mode=query", f"--gene={gene.lower()}", "--top=5", "--include_known")
  assert p.returncode == 0, p.stderr[-2000:]
  assert f"top 5 miRNAs for {gene} " in p.stdout and "records of the known pairs" in p.stdout
  assert "sites_8mer" in p.stdout and "reasons" in p.stdout
  nodes = json.loads((w / "predictions" / "nodes.json").read_text())
  entrez = nodes["entrez"][nodes["genes"].index(gene)]
  by_id = _launch(files, w, "--mode=query", f"--gene={entrez}", "--top=5", "--include_known")
  assert by_id.returncode == 0 and by_id.stdout == p.stdout, by_id.stderr[-2000:]
  damaged = tmp_path / "damaged"  # a partial copy: one line that says to predict again
  shutil.copytree(w, damaged)
  for name in ("nodes.json", "all_pairs.parquet"):
    path = damaged / "predictions" / name
    path.write_bytes(path.read_bytes()[:len(path.read_bytes()) // 2])
    p = _launch(files, damaged, "--mode=query", f"--gene={gene}")
    assert p.returncode != 0 and "Traceback" not in p.stderr, p.stderr[-2000:]
    assert f"{name} cannot be read" in p.stderr and "run --mode=predict again" in p.stderr
    (damaged / "predictions" / "nodes.json").write_bytes(
        (w / "predictions" / "nodes.json").read_bytes())
  p = _launch(files, w, "--mode=query", "--gene=999999999")
  assert p.returncode != 0 and "no gene of this universe" in p.stderr and "has the ID" in p.stderr
  (w / "predictions" / "nodes.json").write_text(json.dumps({"mirnas": nodes["mirnas"],
                                                            "genes": nodes["genes"]}))
  old = _launch(files, w, "--mode=query", f"--gene={entrez}")  # as an older predict wrote it
  assert old.returncode != 0 and "Traceback" not in old.stderr
  assert "lists no Entrez IDs" in old.stderr.strip().splitlines()[-1]
  p = _launch(files, w, "--mode=query", f"--gene={gene}", "--top=3", "--format=json")
  rows = json.loads(p.stdout, parse_constant=pytest.fail)["rows"]  # NaN is no JSON
  assert len(rows) == 3 and all(r["status"] == "unknown" and r["gene"] == gene for r in rows)
  with workdir_lib.lock(str(w), "train"), contextlib.redirect_stdout(io.StringIO()) as out:
    # the library's query reads only, like the command line's: a busy workdir still answers
    got = experiment.run(_config(files), str(w), "query", ranking.Query(gene=gene, top=3), fmt="csv")
  assert list(got["mirna"]) == [r["mirna"] for r in rows]
  assert list(pd.read_csv(io.StringIO(out.getvalue()))["mirna"]) == list(got["mirna"])
  p = _launch(files, w, "--mode=query", "--gene=TP53", "--format=csv")
  assert p.returncode != 0 and "gene 'TP53' is not in the grid" not in p.stderr
  assert "error: gene 'TP53' is not" in p.stderr and "Traceback" not in p.stderr
  assert time.time() - t < 120
  p = _launch(files, tmp_path / "predict_only", "--mode=predict")  # fits its own model: recorded
  assert p.returncode == 0, p.stderr[-3000:]
  header = json.loads((tmp_path / "predict_only" / "config.json").read_text())
  assert header["mode"] == "predict" and header["model_inputs"] == features.INPUTS
  header = json.loads((w / "config.json").read_text())  # as a run of older inputs recorded it
  (w / "config.json").write_text(json.dumps({**header, "model_inputs": features.INPUTS - 1}))
  p = _launch(files, w, "--mode=predict")
  errors = [line for line in p.stderr.splitlines() if line.startswith("error:")]
  assert p.returncode != 0 and "Traceback" not in p.stderr
  assert len(errors) == 1 and f"version {features.INPUTS - 1} of the prospective" in errors[0]


def test_splits_evaluated_in_threads_give_the_same_numbers(files, tmp_path):
  """Three splits at once (protocols.workers=3) and one at a time: every split's every
  measure and SE equal, in the same order."""
  got = []
  for workers in (1, 3):
    w = tmp_path / f"w{workers}"
    p = _launch(files, w, "--config.protocols.protocols=('temporal', 'papers')",
                f"--config.protocols.workers={workers}")
    assert p.returncode == 0, p.stderr[-3000:]
    got.append(json.loads((w / "results.json").read_text()))
  assert [s["label"] for s in got[0]["splits"]] == [s["label"] for s in got[1]["splits"]]
  assert got[0]["splits"] == got[1]["splits"] and got[0]["summary"] == got[1]["summary"]


def test_hit_at_20_ranks_each_test_genes_candidates():
  """Gene 3 has 5 new partners, gene 5 has 30; pair (45, 3) was recorded before, so it is no
  candidate. A perfect scorer finds 5 + 20 of 35; a constant one finds each gene's share of a
  random top 20 among its candidates (49 and 50)."""
  from mirjax.evaluation import prospective as measures
  shape = (50, 7)
  positives = np.sort(np.r_[np.arange(5) * 7 + 3, np.arange(10, 40) * 7 + 5]).astype(np.int64)
  negatives = np.array([47 * 7 + 1, 48 * 7 + 2], np.int64)
  split = protocols.Split("temporal", 0, "t", np.zeros(1, bool), 0, positives,
                          np.full(len(positives), mirtarbase.STRONG, np.int8), negatives,
                          np.ones(50, bool), np.ones(7, bool))
  recorded = np.sort(np.r_[positives, 45 * 7 + 3])
  keys_of = lambda m, g: m.astype(np.int64) * 7 + g  # noqa: E731
  scorers = {"perfect": lambda m, g: np.isin(keys_of(m, g), positives).astype(float),
             "flat": lambda m, g: np.zeros(len(m))}
  scored = measures.score_split(split, scorers, shape, recorded, 10, 0)
  assert set(scored) == {"all", "strong"} and list(scored["all"].ranked_genes) == [3, 5]
  got = measures.metrics_with_bootstrap(scored["all"], ("perfect",), 5, 0)
  assert got["perfect"]["hit@20"] == pytest.approx(25 / 35)
  assert got["flat"]["hit@20"] == pytest.approx((5 * 20 / 49 + 30 * 20 / 50) / 35)
  assert got["perfect"]["auc"] == 1.0 and got["flat"]["auc"] == 0.5


@pytest.mark.parametrize("values", [0, 150, 3, 12])
def test_weighted_auc_and_ap_by_brute_force(values):
  """Cluster-weighted AUC (pairs of a positive and a negative, ties counting half) and AP (precision
  at each distinct score, weighted by the positives it adds) against a loop over pairs and
  thresholds: for continuous scores (values=0) and 150 distinct values among 300 (cumulative sums
  over items, read at the groups that hold a positive), and for scores of 3 or 12 distinct values
  (a sparse product per tie group)."""
  from mirjax.evaluation import prospective as measures
  draw = np.random.default_rng(values)
  n, clusters = 300, 17
  labels = (draw.random(n) < 0.3).astype(np.int8)
  scores = draw.normal(size=n) + labels
  if values:
    scores = np.digitize(scores, np.quantile(scores, np.linspace(0, 1, values + 1)[1:-1]))
    assert len(np.unique(scores)) == values
  cluster = draw.integers(0, clusters, n)
  weights = np.r_[np.ones((1, clusters)), draw.poisson(1.0, (3, clusters)),
                  draw.random((1, clusters))].astype(np.float32)
  scores = scores.astype(float)
  auc, ap = measures._weighted_auc_ap(scores, np.argsort(-scores, kind="stable"), labels, weights,
                                      cluster)
  for b, w in enumerate(weights[:, cluster].astype(np.float64)):
    pos, neg = labels == 1, labels == 0
    above = (scores[pos][:, None] > scores[neg][None, :]) + 0.5 * (
        scores[pos][:, None] == scores[neg][None, :])
    want = (w[pos][:, None] * w[neg][None, :] * above).sum() / (w[pos].sum() * w[neg].sum())
    assert auc[b] == pytest.approx(want, rel=1e-9)
    want_ap = sum(w[pos & (scores == t)].sum() * w[pos & (scores >= t)].sum() / w[scores >= t].sum()
                  for t in np.unique(scores)) / w[pos].sum()
    assert ap[b] == pytest.approx(want_ap, rel=1e-9)


def test_bootstrap_se_leaves_out_resamples_without_a_positive():
  """With 2 positives on 2 genes, some resamples draw neither gene: their AUC and AUPR do not exist
  (not 0), so they enter no SE; the SE equals the one over the resamples that drew a positive."""
  from mirjax.evaluation import prospective as measures
  draw = np.random.default_rng(0)
  labels = np.r_[1, 1, np.zeros(40)].astype(np.int8)
  gene_of = np.r_[0, 1, draw.integers(2, 12, 40)]
  scores = {"model": draw.normal(size=42) + 2 * labels, "other": draw.normal(size=42)}
  scored = measures.Scored(labels, gene_of, scores, {k: np.ones(2) for k in scores}, np.ones(2),
                           np.array([0, 1]))
  out = measures.metrics_with_bootstrap(scored, ("model",), 400, 0)
  # the same resamples, by hand
  bootstrap = measures.rng.generator(0, "bootstrap", 99).poisson(1.0, (400, 12)).astype(np.float32)
  drawn = bootstrap[:, :2].sum(1) > 0
  assert 0 < (~drawn).sum() == out["_counts"]["degenerate_resamples"]
  diffs = []
  for w in bootstrap[drawn][:, gene_of].astype(np.float64):
    auc = {}
    for name, s in scores.items():
      pos, neg = labels == 1, labels == 0
      above = (s[pos][:, None] > s[neg][None, :]) + 0.5 * (s[pos][:, None] == s[neg][None, :])
      auc[name] = (w[pos][:, None] * w[neg][None, :] * above).sum() / (w[pos].sum() * w[neg].sum())
    diffs.append(auc["model"] - auc["other"])
  assert out["model"]["diff_se"]["other"]["auc"] == pytest.approx(np.std(diffs, ddof=1), rel=1e-4)


def test_rows_sort_by_score_within_nodes_and_count_within_nodes():
  """descending equals a stable argsort of minus the scores (ties, signed zeros, both signs);
  by_row_score orders each row of a grid, of either memory order, as that argsort of the row;
  position_in_run numbers each run of a sorted array from 1."""
  from mirjax.prospective import predict
  draw = np.random.default_rng(0)
  score = draw.normal(0, 3, 5_000).astype(np.float32)
  score[draw.integers(0, len(score), 500)] = 1.25  # many ties
  score[-8:] = [-0.0, 0.0, 7.5, 7.5, -2.0, -2.0, 0.0, -0.0]  # signed zeros tie, either way round
  np.testing.assert_array_equal(predict.descending(score), np.argsort(-score, kind="stable"))
  with pytest.raises(ValueError, match="1 non-finite"):
    predict.descending(np.r_[score, np.nan].astype(np.float32))
  grid = score.reshape(50, 100)
  for g in (grid, grid.T):
    got = predict.by_row_score(g)
    for row, want in zip(got, g):
      np.testing.assert_array_equal(row, np.argsort(-want, kind="stable"))
  np.testing.assert_array_equal(predict.position_in_run(np.array([3, 3, 5, 7, 7, 7])),
                                [1, 2, 1, 1, 2, 3])
  assert len(predict.position_in_run(np.zeros(0, int))) == 0


def test_query_path_imports_no_jax():
  """A universe's query must answer in well under 2 s: importing JAX alone takes about that long."""
  code = ("import sys; from mirjax.prospective import query; "
          "print(sorted(m for m in ('jax', 'flax', 'optax', 'orbax') if m in sys.modules))")
  p = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                     timeout=120)
  assert p.returncode == 0, p.stderr[-2000:]
  assert p.stdout.strip() == "[]"


def test_pooled_folds_are_weighted_by_their_positives():
  """A papers fold with 3 CLIP positives on two genes once decided the pooled hit@20 (0.667 against
  about 0.06 in the other folds): folds count by their test positives."""
  from mirjax.prospective import report

  def split(label, n, model, base, se):
    scorers = {"model": {"auc": model, "aupr": model, "hit@20": model,
                         "diff_se": {"degree": {"auc": se, "aupr": se, "hit@20": se}}},
               "model_strong": {"auc": 0.5, "aupr": 0.5, "hit@20": 0.5, "diff_se": {}},
               "degree": {"auc": base, "aupr": base, "hit@20": base},
               "_counts": {"positives": n}}
    return {"protocol": "papers", "label": label, "subsets": {"all": scorers}}
  per_split = [split("fold 1/2", 3, 0.9, 0.1, 0.0), split("fold 2/2", 997, 0.5, 0.6, 0.01)]
  got = report.paired(per_split)["papers"]["all"]["degree"]["auc"]
  assert got["diff"] == pytest.approx(0.003 * 0.8 + 0.997 * -0.1)
  assert got["se"] == pytest.approx(0.997 * 0.01) and not got["wins"]
  mean = report.summary(report.metrics_table(per_split))["papers"]["all"]["model"]["auc"]["mean"]
  assert mean == pytest.approx(0.003 * 0.9 + 0.997 * 0.5)


def test_scores_divide_the_strong_class_weight_out():
  """The loss weights the strong class w times, which multiplies the network's strong odds by w:
  the scores are the odds at the data's balance, log((p_strong / w + p_ht) / p_none) and
  log(p_strong / (w p_none)), checked against numpy's softmax."""
  from mirjax.prospective import model
  logits = np.random.default_rng(0).normal(size=(6, 3)).astype(np.float32) * 3
  p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
  got = model.log_odds(logits, 20.0)
  np.testing.assert_allclose(got["all"], np.log((p[:, 1] / 20 + p[:, 2]) / p[:, 0]), atol=1e-5)
  np.testing.assert_allclose(got["strong"], np.log(p[:, 1] / (20 * p[:, 0])), atol=1e-5)


def test_seeds_share_their_splits_rows_and_walk_only_them(tmp_path):
  """Split 0 has 48 rows, all class high-throughput; split 1 has 160, all class none; split 0's one
  replica and split 1's two (seeds 0 and 1) train in one program on rows stored once. Each replica
  reads its own split's statistics and rows: split 0's walks 112 padding rows of class none too, which
  must weigh nothing, so it still calls everything high-throughput and split 1's replicas nothing.
Split 1's seeds score as one ensemble, the mean of their log-odds."""
  draw = np.random.default_rng(0)
  ex = [stage.Examples(draw.normal(size=(n, 5)).astype(np.float32) + shift, np.full(n, label,
                                                                                   np.int32), [])
        for n, label, shift in ((48, 2, 1.0), (160, 0, -1.0))]
  c = config_lib.override(config_lib.default_config(), {
      "prospective.hidden": (8,), "prospective.epochs": 15, "prospective.batch_size": 16,
      "prospective.learning_rate": 1e-2})
  want_mean = [e.x.mean(0) for e in ex]
  trained = stage.train(list(ex), np.array([0, 1, 1]), np.array([0, 0, 1]), c.prospective,
                        c.train, loop.Store.of_workdir(str(tmp_path), c.train))
  np.testing.assert_allclose(trained.mean, np.stack([want_mean[0], want_mean[1], want_mean[1]]),
                             rtol=1e-6)
  x = draw.normal(size=(100, 5)).astype(np.float32)
  scores = [trained.scores([r], x)["all"] for r in range(3)]
  assert (scores[0] > 0).all() and (scores[1] < 0).all() and (scores[2] < 0).all()
  assert not np.allclose(scores[1], scores[2])  # two seeds, two networks
  both = trained.scores([1, 2], x)  # split 1's ensemble: the mean of its seeds' log-odds
  np.testing.assert_allclose(both["all"], (scores[1] + scores[2]) / 2, rtol=1e-5, atol=1e-5)
  with pytest.raises(ValueError, match="not the seeds of one split"):
    trained.scores([0, 1], x)
  # scores read the rows in the precision the model trained on
  rounded = stage.as_inputs(x).astype(np.float32)
  assert not np.array_equal(rounded, x)
  np.testing.assert_array_equal(trained.scores([1, 2], x)["all"],
                                trained.scores([1, 2], rounded)["all"])


def test_inputs_keep_their_values_in_the_models_precision(universe):
  """Every feature of every pair of the universe survives the model's input precision: finite (no
  input beyond float16's range) and within its rounding (a relative 2^-11, or 2^-24 absolutely for
  values too small to be normal) of the float32 feature."""
  u, c = universe
  split = next(s for s in protocols.splits(u, c.protocols) if s.protocol == "temporal")
  feats = features.Features(u, split.train, split.now,
                            features.SequenceStats(u).of_records(split.train), c.prospective.recent)
  x = feats.gather(*np.divmod(np.arange(u.shape[0] * u.shape[1]), u.shape[1]))
  got = stage.as_inputs(x)
  assert got.dtype == stage.INPUT_DTYPE and np.isfinite(got).all()
  np.testing.assert_array_less(np.abs(got.astype(np.float32) - x),
                               np.maximum(np.abs(x) * 2.0 ** -11, 2.0 ** -24) * 1.0001)


def test_catalogue_order_reads_the_accessions_and_ids_alone(universe, files):
  """Each miRNA's place in miRBase's catalogue is its accession's rank among the file's human
  entries, each gene's value log10 of its Entrez ID; the baseline ranks the older pair first and
  reads no record (the same scores from features of no record at all)."""
  u, c = universe
  mature = sequences.read_mature(os.path.join(files, "mature.fa.gz"))
  human = sorted(m.accession for k, m in mature.items() if k.startswith("hsa-"))
  want = [human.index(mature[n].accession) / len(human) if n in mature else 1.0
          for n in u.records.mirnas]
  np.testing.assert_allclose(u.content.mirna_catalogued, want, rtol=1e-6)
  np.testing.assert_allclose(u.content.gene_catalogued, np.log10(u.records.entrez), rtol=1e-6)
  stats = features.SequenceStats(u).of_records(np.ones(len(u.records.pmid), bool))
  m, g = np.divmod(np.arange(u.shape[0] * u.shape[1]), u.shape[1])
  scores = [record_baselines.scorers(features.Features(u, mask, 30_000_000, stats,
                                                       c.prospective.recent))[
      "catalogue_order"](m, g) for mask in (np.ones(len(u.records.pmid), bool),
                                            np.zeros(len(u.records.pmid), bool))]
  np.testing.assert_array_equal(scores[0], scores[1])
  older = np.argsort(u.content.mirna_catalogued, kind="stable")
  assert u.content.mirna_catalogued[older[0]] < u.content.mirna_catalogued[older[-1]]
  same_gene = scores[0].reshape(u.shape)[:, 0]
  assert same_gene[older[0]] > same_gene[older[-1]]
