"""Scoring the whole grid and ranking it: planted pairs on top, consistent ranks, name lookups."""

import io
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from conftest import ROOT, tiny_config
from mirjax import experiment, ranking
from mirjax.evaluation import metrics as evaluation
from mirjax.data import synthetic
from mirjax.errors import ConfigError, MirjaxError

# Long enough for the tiny synthetic model to learn the planted clusters.
LEARNS = {"ae.epochs": 10, "classifier.epochs": 60, "classifier.learning_rate": 3e-3,
          "classifier.standardize": True}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
  config = tiny_config(**LEARNS)
  workdir = str(tmp_path_factory.mktemp("predict"))
  results = experiment.run(config, workdir)
  table = experiment.run(config, workdir, "predict")
  return config, workdir, results, table


def _planted(config):
  s = config.data.synthetic
  return synthetic.make_tables(n_mirna=s.n_mirna, n_gene=s.n_gene, dim=config.data.dim,
                               n_clusters=s.n_clusters, p_within=s.p_within,
                               p_across=s.p_across, seed=s.seed).same_cluster


def test_planted_unknown_pairs_rank_at_the_top(run):
  config, _, results, table = run
  assert results["mean_auc"] > 0.8  # the model did learn
  planted = _planted(config)
  unknown = table[table["status"] == "unknown"]
  mi = unknown["mirna"].str.rsplit("-", n=1).str[1].astype(int).to_numpy()
  gi = unknown["gene"].str[4:].astype(int).to_numpy()
  is_planted = planted[mi, gi]
  # Unrecorded pairs of the same cluster (the planted signal) score above the rest...
  assert evaluation.roc_auc(is_planted, unknown["score"].to_numpy()) > 0.9
  # ...and fill the top of the candidate list.
  top = ranking.answer(table, ranking.Query(top=20))  # the best pairs without any record
  top_planted = planted[top["mirna"].str.rsplit("-", n=1).str[1].astype(int),
                        top["gene"].str[4:].astype(int)]
  assert top_planted.mean() >= 0.9


def test_ranks_are_consistent_with_scores(run):
  _, workdir, _, table = run
  on_disk = pd.read_csv(os.path.join(workdir, "predictions", "all_pairs.csv"))
  assert list(on_disk.columns) == ["mirna", "gene", "score", "score_std", "log_odds", "rank",
                                   "status"]
  assert len(on_disk) == 40 * 30 and on_disk[["mirna", "gene"]].drop_duplicates().shape[0] == 1200
  np.testing.assert_array_equal(np.sort(on_disk["rank"]), np.arange(1, 1201))
  assert (np.diff(on_disk.sort_values("rank")["score"]) <= 0).all()
  by_rank = table.sort_values("rank")  # unrounded
  assert (np.diff(by_rank["score"]) <= 0).all()
  ties = by_rank.groupby("score")["log_odds"]  # equal scores are ordered by log-odds
  assert all((np.diff(v.to_numpy()) <= 0).all() for _, v in ties)
  assert (on_disk["score_std"] >= 0).all()


def test_statuses_match_the_dataset(run):
  _, workdir, results, table = run
  counts = table["status"].value_counts()
  d = results["dataset"]
  assert counts["positive"] == d["n_positive"]
  assert counts["train_negative"] == d["n_negative"]
  assert counts.get("nonfunctional_record", 0) == d["n_nonfunctional_only"]
  assert counts["unknown"] == d["n_unknown"] - d["n_negative"]


def test_grid_path_equals_single_pair_path(run, capsys):
  config, workdir, _, table = run
  for _, row in table.iloc[[0, 17, 600, 1199]].iterrows():
    answer = experiment.run(config, workdir, "query",
                            ranking.Query(mirna=row["mirna"], gene=row["gene"]))
    assert answer["score"] == pytest.approx(row["score"], abs=1e-6)
    assert answer["score_std"] == pytest.approx(row["score_std"], abs=1e-6)
    assert answer["rank"] == row["rank"] and answer["status"] == row["status"]
  assert "rank" in capsys.readouterr().out


def test_grid_queries_print_every_format(run, capsys, tmp_path):
  """--format reaches the grid's queries too; a damaged (partly copied) table is one error."""
  config, workdir, _, table = run
  rows = experiment.run(config, workdir, "query", ranking.Query(mirna="hsa-miR-syn-3", top=4),
                        fmt="json")
  printed = json.loads(capsys.readouterr().out)["rows"]
  assert [r["gene"] for r in printed] == list(rows["gene"]) and len(printed) == 4
  experiment.run(config, workdir, "query", ranking.Query(gene="GENE7", top=3), fmt="csv")
  assert list(pd.read_csv(io.StringIO(capsys.readouterr().out))["mirna"]) == list(
      ranking.top_mirnas_for_gene(table, "GENE7", 3)["mirna"])
  with pytest.raises(MirjaxError, match="choose one of"):
    experiment.run(config, workdir, "query", ranking.Query(gene="GENE7"), fmt="xml")
  experiment.run(config, workdir, "query", ranking.Query(gene="gene7", top=3))  # as typed
  assert "top 3 miRNAs for GENE7 " in capsys.readouterr().out  # the header names the resolved gene
  damaged = tmp_path / "w"
  shutil.copytree(workdir, damaged)
  path = damaged / "predictions" / "all_pairs.csv"
  path.write_text("".join(path.read_text().splitlines(keepends=True)[:500]))
  with pytest.raises(MirjaxError, match="holds 499 rows, not every pair"):
    experiment.run(config, str(damaged), "query", ranking.Query(gene="GENE7"))


def test_lookups_by_name(run):
  _, _, _, table = run
  genes = ranking.top_genes_for_mirna(table, "HSA-MIR-SYN-3", 5)  # case-insensitive
  assert (genes["mirna"] == "hsa-miR-syn-3").all() and len(genes) == 5
  assert (genes["status"] == "unknown").all() and genes["rank"].is_monotonic_increasing
  everything = ranking.top_mirnas_for_gene(table, "GENE7", 100, include_known=True)
  assert len(everything) == 40 and set(everything["status"]) > {"unknown"}
  with pytest.raises(ranking.UnknownNameError, match=r"GENE7, GENE27") as e:
    ranking.top_mirnas_for_gene(table, "GEN77", 5)
  assert "is not in the grid" in str(e.value)
  with pytest.raises(ranking.UnknownNameError, match="hsa-miR-syn-3"):
    ranking.pair_row(table, "hsa-miR-syn-3x", "GENE1")


def test_names_resolve_without_species_prefix_or_by_alias():
  valid = ["hsa-miR-21-5p", "hsa-miR-1", "mmu-miR-1", "HLA-A", "TP53"]
  assert ranking.resolve_name("miR-21-5p", valid, "miRNA") == "hsa-miR-21-5p"
  assert ranking.resolve_name("MIR-21-5P", valid, "miRNA") == "hsa-miR-21-5p"
  with pytest.raises(ranking.UnknownNameError, match="ambiguous .*: hsa-miR-1, mmu-miR-1;"):
    ranking.resolve_name("miR-1", valid, "miRNA")
  with pytest.raises(ranking.UnknownNameError, match="'A' is not in"):  # HLA is no species
    ranking.resolve_name("A", valid, "gene")
  assert ranking.resolve_name(" 7157", valid, "gene", aliases={"7157": "TP53"}) == "TP53"
  with pytest.raises(ranking.UnknownNameError, match="no gene of .* has the ID 7158") as e:
    ranking.resolve_name("7158", valid, "gene", aliases={"7157": "TP53"})
  assert "Closest" not in str(e.value)  # an ID has no near misses worth naming


def test_query_from_the_command_line(run):
  config, workdir, _, _ = run
  common = [sys.executable, os.path.join(ROOT, "launch.py"), "--config=configs/tiny.py",
            f"--workdir={workdir}", "--mode=query"] + [f"--config.{k}={v}" for k, v in LEARNS.items()]
  ok = subprocess.run(common + ["--gene=GENE3", "--top=4"], cwd=ROOT, capture_output=True,
                      text=True, timeout=300)
  assert ok.returncode == 0, ok.stderr
  assert "top 4 miRNAs for GENE3" in ok.stdout and ok.stdout.count("GENE3") >= 5
  bad = subprocess.run(common + ["--mirna=hsa-miR-syn-99"], cwd=ROOT, capture_output=True,
                       text=True, timeout=300)
  assert bad.returncode != 0 and "Closest valid names" in bad.stderr and "Traceback" not in bad.stderr


def test_predict_refuses_a_different_config(run):
  config, workdir, _, _ = run
  other = tiny_config(**{**LEARNS, "lstm.hidden": 8})
  with pytest.raises(ConfigError, match="lstm.hidden"):
    experiment.run(other, workdir, "predict")


def test_predict_needs_a_finished_run(tmp_path):
  with pytest.raises(MirjaxError, match="--mode=train"):
    experiment.run(tiny_config(), str(tmp_path), "predict")
  with pytest.raises(MirjaxError, match="--mode=predict"):
    experiment.run(tiny_config(), str(tmp_path), "query")


def test_final_model_adds_a_column(run, tmp_path):
  config, workdir, _, table = run
  import shutil
  shutil.copytree(workdir, tmp_path / "w")
  config = tiny_config(**{**LEARNS, "predict.final_model": True})
  with_final = experiment.run(config, str(tmp_path / "w"), "predict")
  assert with_final["final_score"].between(0, 1).all()
  np.testing.assert_allclose(with_final["score"], table["score"])  # ranks stay on the ensemble
  # The final model saw every labelled pair, so it separates them well.
  labelled = with_final[with_final["status"].isin(["positive", "train_negative"])]
  assert evaluation.roc_auc(labelled["status"] == "positive", labelled["final_score"]) > 0.9
