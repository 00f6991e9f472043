"""`rekindle model fit|score` on order exports written to disk."""

import csv
import json
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from cli.model import SCORE_COLUMNS, app
from core.domain.scoring.fit import fit_parameters
from core.domain.scoring.params import BgNbdParams, GammaGammaParams
from core.domain.scoring.rfm import SEGMENTS
from core.domain.scoring.simulate import simulate_orders
from core.domain.scoring.summary import summarize

UNTIL = date(2024, 12, 31)
runner = CliRunner()


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An order export of 3,000 simulated clients, orders after UNTIL included."""
    rng = np.random.default_rng(17)
    sim = simulate_orders(
        BgNbdParams(r=0.9, alpha=25.0, a=0.8, b=3.0),
        GammaGammaParams(p=5.0, q=4.0, gamma=20.0),
        3000,
        rng,
        start=date(2024, 1, 1),
        until=UNTIL + timedelta(days=60),
    )
    path = tmp_path_factory.mktemp("orders") / "orders.csv"
    epoch = date(1970, 1, 1)
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["order_id", "client_id", "ordered_at", "amount", "channel"])
        for i, (cid, day, amount) in enumerate(zip(sim.client_ids, sim.days, sim.amounts, strict=True)):
            d = epoch + timedelta(days=int(day))
            stamp = d.isoformat() if i % 2 else f"{d.isoformat()}T{i % 24:02d}:15:00+02:00"
            w.writerow([f"o{i}", f"client-{cid}", stamp, f"{amount:.2f}", "web"])
    return path


def _library_fit(path: Path, unit: str = "days") -> tuple[int, dict[str, float]]:
    ids, days, amounts = [], [], []
    with path.open() as fh:
        for row in csv.DictReader(fh):
            ids.append(row["client_id"])
            days.append(np.datetime64(row["ordered_at"][:10], "D"))
            amounts.append(float(row["amount"]))
    s = summarize(
        np.array(ids),
        np.array(days),
        amounts,
        until=UNTIL,
        unit="weeks" if unit == "weeks" else "days",
    )
    p = fit_parameters(s, fitted_at=datetime(2025, 1, 1, tzinfo=UTC), version=0, force=True)
    return s.n_clients, {"r": p.bgnbd.r, "a": p.bgnbd.a, "p": p.gamma_gamma.p}


def test_cli_model_fit_json_prints_one_object(export: Path) -> None:
    result = runner.invoke(app, ["fit", str(export), "--until", UNTIL.isoformat(), "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert set(doc) == {"clients", "bgnbd", "gamma_gamma"}
    assert set(doc["bgnbd"]) == {"r", "alpha", "a", "b", "log_likelihood"}
    assert set(doc["gamma_gamma"]) == {"p", "q", "gamma", "log_likelihood"}
    clients, ref = _library_fit(export)
    assert doc["clients"] == clients
    assert doc["bgnbd"]["r"] == pytest.approx(ref["r"], rel=1e-9)
    assert doc["bgnbd"]["a"] == pytest.approx(ref["a"], rel=1e-9)
    assert doc["gamma_gamma"]["p"] == pytest.approx(ref["p"], rel=1e-9)


def test_cli_model_fit_prints_readable_parameters(export: Path) -> None:
    result = runner.invoke(app, ["fit", str(export), "--until", UNTIL.isoformat(), "--unit", "weeks"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("clients: ")
    assert "unit: weeks" in lines[0]
    assert lines[1].startswith("BG/NBD ")
    assert "alpha=" in lines[1]
    assert lines[2].startswith("Gamma-Gamma ")


def test_cli_model_score_writes_one_row_per_client(export: Path, tmp_path: Path) -> None:
    out = tmp_path / "scores.csv"
    args = [
        "score",
        str(export),
        "--until",
        UNTIL.isoformat(),
        "--horizon",
        "90",
        "--out",
        str(out),
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    with out.open() as fh:
        reader = csv.DictReader(fh)
        assert tuple(reader.fieldnames or ()) == SCORE_COLUMNS
        rows = list(reader)
    clients, _ = _library_fit(export)
    assert len(rows) == clients == len({r["client_id"] for r in rows})
    for row in rows[:500]:
        assert 0 <= float(row["p_order_again"]) <= float(row["p_alive"]) <= 1
        assert 0 <= int(row["score"]) <= 100
        assert row["tier"] in {"active", "cooling", "at_risk", "lapsed"}
        assert row["segment"] in SEGMENTS
        assert float(row["recency"]) <= float(row["age"])
        assert (int(row["frequency"]) == 0) == (float(row["recency"]) == 0)


def test_cli_model_reports_malformed_rows_with_line_numbers(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(
        "client_id,ordered_at,amount\n"
        "a,2024-01-01,10\n"
        "b,yesterday,10\n"
        "c,2024-01-02,ten\n"
        "\n"
        ",2024-01-03,1\n"
        "d,2024-01-04\n"
        "e,2024-01-05,-3\n"
    )
    result = runner.invoke(app, ["fit", str(path), "--until", "2024-02-01"])
    assert result.exit_code == 1
    assert result.stdout == ""
    err = result.stderr
    assert "5 malformed row(s)" in err
    for line, what in [
        (3, "ordered_at"),
        (4, "amount"),
        (6, "client_id"),
        (7, "fields"),
        (8, "amount"),
    ]:
        assert f"line {line}: " in err
        assert what in err
    assert "Traceback" not in result.output


def test_cli_model_requires_the_columns(tmp_path: Path) -> None:
    path = tmp_path / "cols.csv"
    path.write_text("customer,date,value\nx,2024-01-01,1\n")
    result = runner.invoke(app, ["fit", str(path), "--until", "2024-02-01"])
    assert result.exit_code == 1
    assert "the header lacks client_id, ordered_at, amount" in result.stderr


def test_cli_model_rejects_a_bad_until(export: Path) -> None:
    result = runner.invoke(app, ["fit", str(export), "--until", "31/12/2024"])
    assert result.exit_code == 2
    assert "not an ISO date" in result.output


def test_cli_model_explains_an_unfittable_export(tmp_path: Path) -> None:
    path = tmp_path / "one-timers.csv"
    path.write_text("client_id,ordered_at,amount\na,2024-01-01,5\nb,2024-01-02,7\n")
    result = runner.invoke(app, ["fit", str(path), "--until", "2024-02-01", "--json"])
    assert result.exit_code == 1
    assert "cannot fit the model" in result.stderr
    assert "repeat buyer" in result.stderr


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    code = "from cli.model import app; app()"
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_cli_model_runs_in_a_fresh_process(export: Path, tmp_path: Path) -> None:
    ok = _run("fit", str(export), "--until", UNTIL.isoformat(), "--json")
    assert ok.returncode == 0, ok.stderr
    assert len(ok.stdout.strip().splitlines()) == 1
    assert json.loads(ok.stdout)["clients"] > 0
    bad = tmp_path / "bad.csv"
    bad.write_text("client_id,ordered_at,amount\nx,2024-13-01,1\n")
    failed = _run(
        "score",
        str(bad),
        "--until",
        "2024-02-01",
        "--horizon",
        "30",
        "--out",
        str(tmp_path / "s.csv"),
    )
    assert failed.returncode == 1
    assert "line 2: ordered_at: '2024-13-01' is not an ISO date" in failed.stderr
    assert "Traceback" not in failed.stderr
