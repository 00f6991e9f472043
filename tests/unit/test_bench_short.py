"""`make bench`'s runner and the benches' shared --short parsing (the runs themselves are `make bench`)."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from bench import common, short

BENCH = Path(short.__file__).parent


def test_runner_finds_every_bench_script_and_no_helper(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(short, "POSTGRES_URL", None)
    names = [name for name, _ in short.benches([])]
    scripts = {p.stem for p in BENCH.glob("*.py") if 'if __name__ == "__main__":' in p.read_text()}
    assert set(names) == scripts - {"short"}
    assert {"dashboard", "quickstart", "scoring"} <= set(names)
    assert not {"naive", "common", "short", "__init__"} & set(names)
    assert names[: len(short.LONGEST_FIRST)] == sorted(short.LONGEST_FIRST)


def test_runner_adds_a_postgres_run_for_benches_that_take_a_database_url(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    monkeypatch.setattr(short, "POSTGRES_URL", url)
    assert short.benches(["dashboard", "soak"]) == [
        ("soak", []),
        ("dashboard", []),
        ("dashboard", ["--database-url", url]),
    ]


def test_every_bench_script_has_a_short_mode() -> None:
    for name, _ in short.benches([]):
        source = (BENCH / f"{name}.py").read_text()
        assert "from bench.common import" in source, name
        assert "parse_args(" in source, name


@pytest.mark.parametrize(
    ("returncode", "stdout", "expected"),
    [
        (0, 'figures for people\n{"ratio": 0.75}\n', None),
        (1, '{"ratio": 0.75}\n', "exit status 1"),
        (0, '{"ratio": 0.75}\ntrailing words\n', "the last line of its output is not a JSON object"),
        (0, "[1, 2]\n", "the last line of its output is not a JSON object"),
        (0, "", "the last line of its output is not a JSON object"),
    ],
)
def test_runner_verdict(returncode: int, stdout: str, expected: str | None) -> None:
    assert short.verdict(returncode, stdout) == expected


def test_short_swaps_the_defaults_and_explicit_options_still_win(monkeypatch: pytest.MonkeyPatch) -> None:
    def parse(*argv: str) -> argparse.Namespace:
        parser = argparse.ArgumentParser()
        parser.add_argument("--clients", type=int, default=50_000)
        parser.add_argument("--runs", type=int, default=15)
        monkeypatch.setattr("sys.argv", ["bench", *argv])
        return common.parse_args(parser, clients=1000, runs=3)

    assert vars(parse()) == {"clients": 50_000, "runs": 15, "short": False}
    assert vars(parse("--short")) == {"clients": 1000, "runs": 3, "short": True}
    assert vars(parse("--short", "--clients", "5000")) == {"clients": 5000, "runs": 3, "short": True}
