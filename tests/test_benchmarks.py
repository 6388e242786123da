"""Smoke runs of the benchmark scripts (benchmarks/): they run and print their tables."""
import importlib.util
import json
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def _load(name):
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_bench_pemmfirl_em_quick(capsys):
    _load("bench_pemmfirl_em").main(["--quick", "--backends", "numpy"])
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("| virus | numpy |")]
    assert len(rows) == 1
    cells = [c.strip() for c in rows[0].strip("|").split("|")]
    assert len(cells) == 9
    assert all(float(c) >= 0 for c in cells[2:7])       # times
    assert -1.0 <= float(cells[7]) <= 1.0                 # ARI


def test_type_identifiability_small(capsys):
    module = _load("type_identifiability")
    module.main(["--agents", "20", "--seeds", "2", "--horizons", "10"])
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("| ")][1:]  # no header
    assert [r.split("|")[1].strip() for r in rows] == [
        "malware", "malware", "investment", "investment", "virus", "virus"]
    for row in rows:
        mean = float(row.split("|")[3].split("±")[0])
        assert -1.0 <= mean <= 1.0


def test_bayes_ari_of_identical_types_is_chance():
    """Two types with the same constants cannot be told apart: ARI ~ 0."""
    from tabmfirl import envs

    module = _load("type_identifiability")
    spec = envs.make("virus", horizon=10, costs=(0.5, 0.5))
    assert abs(module.bayes_ari(spec, 0.1, 100, seed=0)) < 0.05
    well_separated = envs.make("virus", horizon=10, costs=(0.0, 3.0))
    assert module.bayes_ari(well_separated, 0.1, 100, seed=0) > 0.5


def test_bench_solvers_quick(capsys):
    """The default reaches exploitability 1e-10 on every quick case; the plain
    methods do not on issue 13's ring (they cycle)."""
    _load("bench_solvers").main(["--quick", "--max-seconds", "3"])
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("| ")][1:]  # no header
    assert len(rows) == 5
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert cells[5].endswith(" s") and " it, " in cells[5], row  # auto reached it
    ring = [row for row in rows if "congestion ring" in row]
    assert len(ring) == 2 and all("not reached" in row for row in ring)


def test_adversarial_gap_quick(capsys, tmp_path):
    """The smoke run prints one row per method; a rerun reads the cells back."""
    module = _load("adversarial_gap")
    methods = "em,adversarial_exact,exact_600,exact_true_labels"
    module.main(["--quick", "--methods", methods, "--out", str(tmp_path)])
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("| virus |")]
    assert [r.split("|")[2].strip() for r in rows] == methods.split(",")
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        policy_deviation = float(cells[5].split("±")[0])
        assert 0.0 <= policy_deviation < 100.0
    assert (tmp_path / "checkpoints" / "virus__adversarial_exact__100.npz").exists()
    module.main(["--quick", "--methods", methods, "--out", str(tmp_path)])
    assert "0 cells computed" in capsys.readouterr().out
    # --reevaluate --update: the fit restored from its checkpoint scores as it did
    cell = tmp_path / "cells" / "virus__adversarial_exact__100.json"
    before = json.loads(cell.read_text())
    module.main(["--quick", "--methods", "adversarial_exact", "--out", str(tmp_path),
                 "--reevaluate", "--update"])
    after = json.loads(cell.read_text())
    assert after == before


def _gap_record(method, seed, ari, deviation):
    return {"game": "virus", "method": method, "seed": seed, "ari": ari, "bayes_ari": 0.9,
            "policy_deviation": deviation, "expert_exploitability": 0.01, "budget": 300,
            "fit_converged": seed % 2 == 0, "learned_converged": True, "fit_seconds": 1.0}


def test_adversarial_gap_baselines_and_paired_tables():
    """The test-seed tables: intervals and convergence counts per method; paired by seed
    against a reference on the seeds both have (a method two better on every seed)."""
    module = _load("adversarial_gap")
    records = [_gap_record("em", s, 0.5 + 0.01 * s, 1.0 + s) for s in range(6)]
    records += [_gap_record("oracle", s, 1.0, 0.5 + s) for s in range(1, 6)]
    records += [_gap_record("mfirl", s, None, 3.0) for s in (10, 11)]     # no shared seed
    table = module.baselines_table(records, ["virus"], ["em", "oracle", "mfirl"])
    em_row = next(row for row in table.splitlines() if "| pemmfirl_em |" in row)
    assert "| 6 | 300 |" in em_row and "| 3/6 | 6/6 |" in em_row
    assert "3.500 [" in em_row                         # mean policy deviation 1 + 2.5
    paired = module.paired_table(records, ["virus"], ["em", "oracle", "mfirl"], "em")
    rows = [row for row in paired.splitlines() if row.startswith("| virus |")]
    assert len(rows) == 1 and "| oracle (true labels) | 5 |" in rows[0]
    cells = [c.strip() for c in rows[0].strip("|").split("|")]
    assert cells[4] == "5/5" and cells[6] == "5/5"    # better ARI, lower deviation: all
    assert cells[5] == "-0.500 [-0.500, -0.500]*"


def test_random_games_quick_and_resumable(tmp_path, capsys):
    """benchmarks/random_games.py --quick: one row per method with bootstrap intervals in
    range, cells cached to --out, and a rerun reads them instead of fitting again."""
    module = _load("random_games")
    records = module.main(["--quick", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    cells = 2 * len(module.METHODS)
    assert f"0 cells cached, {cells} to run" in out
    assert len(list((tmp_path / "cells").glob("*.json"))) == cells
    rows = {line.split("|")[1].strip(): line for line in out.splitlines()
            if line.startswith("| ") and not line.startswith("| method")}
    assert sorted(rows) == sorted(module.METHODS)
    for record in records:
        assert record["expert_converged"]
        assert 0.0 <= record["policy_deviation"] < 1e3
        assert 0.0 <= record["policy_deviation_from_expert"] < 1e3
        # exploitability >= 0 by definition (up to rounding)
        assert -1e-9 <= record["expert_exploitability"] < 1e3
        assert 0.0 <= record["reward_error"] < 1e3            # a distance, >= 0
        assert record["ari"] is None or -1.0 <= record["ari"] <= 1.0
    assert all(r["ari"] == 1.0 for r in records if r["method"] == "oracle")  # true labels
    for method, row in rows.items():
        mean, low, high = (float(x) for x in
                           row.split("|")[5].replace("[", " ").replace("]", " ")
                           .replace(",", " ").split())
        assert low <= mean <= high, (method, row)
    again = module.main(["--quick", "--out", str(tmp_path)])
    assert f"{cells} cells cached, 0 to run" in capsys.readouterr().out
    assert sorted(json.dumps(r, sort_keys=True) for r in again) == \
        sorted(json.dumps(r, sort_keys=True) for r in records)


def test_type_separation_quick(tmp_path, capsys):
    """benchmarks/type_separation.py --quick: one row per separation, the figure, and a
    rerun that reads the cells back (the same table)."""
    module = _load("type_separation")
    figure = tmp_path / "separation.png"
    module.main(["--quick", "--out", str(tmp_path), "--figure", str(figure)])
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("| ") and "|---" not in line]
    assert len(rows) == 1 + len(module.SEPARATIONS)
    for row in rows[1:]:
        bayes = float(row.split("|")[3].split("±")[0])
        assert -1.0 <= bayes <= 1.0
    assert figure.stat().st_size > 0
    module.main(["--quick", "--out", str(tmp_path)])
    assert capsys.readouterr().out == out


def test_select_settings_quick(tmp_path, capsys):
    """benchmarks/select_settings.py --quick: one row per candidate and the frozen choice;
    the choice rule takes the most-chosen candidate, ties to the earliest."""
    module = _load("select_settings")
    module.main(["--quick", "--heads", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("| ") and "weight decay" in line]
    assert len(rows) == len(module.CANDIDATES) + 1
    assert "Chosen for virus" in out
    assert (tmp_path / "virus__0__heads__quick.json").exists()
    candidates = [{"c": 0}, {"c": 1}, {"c": 2}]
    records = [{"chosen": c, "candidates": candidates} for c in (2, 1, 2, 1)]
    assert module.choice(records) == {"c": 1}
    assert module.choice(records[:3]) == {"c": 2}
