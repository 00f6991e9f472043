"""`rekindle model`: fit and apply the engagement model to an order export (CSV).

scipy is imported inside the commands, so mounting this app keeps `rekindle` quick to start.

ORDERS.csv has a header with at least `client_id,ordered_at,amount`; other
columns are ignored. `ordered_at` is an ISO date or datetime; a datetime counts
on the calendar day written in it (its UTC offset is not applied). Malformed
rows are listed with their line numbers and the command exits with status 1.
"""

import csv
import json
from array import array
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from numpy.typing import NDArray

from cli.order_export import BadRow, ExportError, read_export
from core.domain.scoring.errors import ScoringError
from core.domain.scoring.params import ModelParameters
from core.domain.scoring.rfm import SEGMENTS, rfm_cutpoints, rfm_scores, rfm_segments
from core.domain.scoring.schema import TIERS
from core.domain.scoring.summary import Summary, day_number, summarize

app = typer.Typer(
    help="Fit and apply the engagement model to an order export.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

SCORE_COLUMNS = (
    "client_id",
    "frequency",
    "recency",
    "age",
    "p_alive",
    "expected_orders",
    "p_order_again",
    "expected_value",
    "score",
    "tier",
    "segment",
)
_MAX_REPORTED = 20


class UnitChoice(StrEnum):
    """Time unit of recency, age, rates and the horizon."""

    days = "days"
    weeks = "weeks"


class OrdersFileError(Exception):
    """The export cannot be used; `problems` are ready to show, one per line."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True, slots=True)
class Orders:
    """Parsed rows: client codes index `client_names` (first-seen order)."""

    client_names: list[str]
    codes: NDArray[np.int64]
    days: NDArray[np.int64]
    amounts: NDArray[np.float64]


def read_orders(path: Path) -> Orders:
    """Read an order export (``cli.order_export``); raise `OrdersFileError` listing bad rows."""
    names: dict[str, int] = {}
    codes, days, amounts = array("q"), array("q"), array("d")
    problems: list[str] = []
    n_bad = 0
    try:
        for row in read_export(path):
            if isinstance(row, BadRow):
                n_bad += 1
                if len(problems) < _MAX_REPORTED:
                    problems.append(f"line {row.line}: {row.reason}")
                continue
            codes.append(names.setdefault(row.client_id, len(names)))
            days.append(day_number(row.placed_at.date()))
            amounts.append(float(row.amount))
    except ExportError as exc:
        raise OrdersFileError([str(exc)]) from None
    if n_bad:
        more = n_bad - len(problems)
        tail = [f"... and {more} more malformed row(s)"] if more else []
        raise OrdersFileError([f"{n_bad} malformed row(s):", *problems, *tail])
    return Orders(
        client_names=list(names),
        codes=np.frombuffer(codes, dtype=np.int64),
        days=np.frombuffer(days, dtype=np.int64),
        amounts=np.frombuffer(amounts, dtype=np.float64),
    )


def _parse_until(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter(f"{value!r} is not an ISO date (YYYY-MM-DD)") from exc


OrdersArg = Annotated[
    Path,
    typer.Argument(exists=True, dir_okay=False, readable=True, help="Order export (CSV)."),
]
UntilOpt = Annotated[
    date,
    typer.Option(
        "--until",
        parser=_parse_until,
        metavar="DATE",
        help="Last day of the calibration period; later orders are ignored.",
    ),
]
UnitOpt = Annotated[UnitChoice, typer.Option("--unit", help="Time unit.")]


def _fail(problems: list[str]) -> typer.Exit:
    for p in problems:
        typer.echo(p, err=True)
    return typer.Exit(code=1)


def _load_and_fit(orders_csv: Path, until: date, unit: UnitChoice) -> tuple[Orders, Summary, ModelParameters]:
    try:
        orders = read_orders(orders_csv)
    except OrdersFileError as exc:
        raise _fail([f"{orders_csv}: {p}" for p in exc.problems]) from None
    summary = summarize(orders.codes, orders.days, orders.amounts, until=until, unit=unit.value)
    if summary.n_clients == 0:
        raise _fail([f"{orders_csv}: no orders on or before {until.isoformat()}"])
    from core.domain.scoring.fit import fit_parameters  # scipy: imported only when fitting

    try:
        params = fit_parameters(summary, fitted_at=datetime.now(UTC), version=0, force=True)
    except ScoringError as exc:
        raise _fail([f"cannot fit the model: {exc}"]) from None
    return orders, summary, params


@app.command()
def fit(
    orders_csv: OrdersArg,
    until: UntilOpt,
    unit: UnitOpt = UnitChoice.days,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Fit BG/NBD and Gamma-Gamma to the export and print the parameters."""
    _, summary, params = _load_and_fit(orders_csv, until, unit)
    bg, gg = params.bgnbd, params.gamma_gamma
    if as_json:
        doc = {
            "clients": summary.n_clients,
            "bgnbd": {
                "r": bg.r,
                "alpha": bg.alpha,
                "a": bg.a,
                "b": bg.b,
                "log_likelihood": params.bgnbd_log_likelihood,
            },
            "gamma_gamma": {
                "p": gg.p,
                "q": gg.q,
                "gamma": gg.gamma,
                "log_likelihood": params.gamma_gamma_log_likelihood,
            },
        }
        typer.echo(json.dumps(doc))
        return
    typer.echo(
        f"clients: {summary.n_clients} ({params.n_repeat_buyers} repeat buyers), "
        f"orders up to {until.isoformat()}, unit: {unit.value}"
    )
    typer.echo(
        f"BG/NBD       r={bg.r:.4g}  alpha={bg.alpha:.4g}  a={bg.a:.4g}  b={bg.b:.4g}  "
        f"log-likelihood={params.bgnbd_log_likelihood:.6g}"
    )
    typer.echo(
        f"Gamma-Gamma  p={gg.p:.4g}  q={gg.q:.4g}  gamma={gg.gamma:.4g}  "
        f"log-likelihood={params.gamma_gamma_log_likelihood:.6g}"
    )


def _rounded(values: NDArray[np.float64]) -> list[float]:
    return [float(v) for v in np.round(values, 6)]


def _score_rows(
    orders: Orders, summary: Summary, params: ModelParameters, horizon: float
) -> Iterator[tuple[object, ...]]:
    """One output row per client, in SCORE_COLUMNS order."""
    from core.domain.scoring.score import score_population  # scipy: imported only when scoring

    s = score_population(
        summary.frequency,
        summary.recency,
        summary.age,
        summary.monetary,
        params,
        horizon,
    )
    rfm = params.rfm or rfm_cutpoints(
        summary.days_since_last_order, summary.frequency + 1, summary.average_value
    )
    r, f, _ = rfm_scores(summary.days_since_last_order, summary.frequency + 1, summary.average_value, rfm)
    segments = np.asarray(SEGMENTS, dtype=object)[rfm_segments(r, f)]
    tiers = np.asarray([t.value for t in TIERS], dtype=object)[s.tier]
    names = np.asarray(orders.client_names, dtype=object)[summary.client_ids]
    return zip(
        names.tolist(),
        summary.frequency.tolist(),
        _rounded(summary.recency),
        _rounded(summary.age),
        _rounded(s.p_alive),
        _rounded(s.expected_orders),
        _rounded(s.p_order_again),
        _rounded(s.expected_value),
        s.score.tolist(),
        tiers.tolist(),
        segments.tolist(),
        strict=True,
    )


@app.command()
def score(
    orders_csv: OrdersArg,
    until: UntilOpt,
    horizon: Annotated[float, typer.Option("--horizon", help="Horizon, in --unit units.")],
    out: Annotated[Path, typer.Option("--out", dir_okay=False, help="Where to write SCORES.csv.")],
    unit: UnitOpt = UnitChoice.days,
) -> None:
    """Score every client of the export and write one CSV row per client."""
    if not horizon > 0:
        raise typer.BadParameter("must be positive", param_hint="--horizon")
    orders, summary, params = _load_and_fit(orders_csv, until, unit)
    try:
        with out.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(SCORE_COLUMNS)
            writer.writerows(_score_rows(orders, summary, params, horizon))
    except OSError as exc:
        raise _fail([f"cannot write {out}: {exc.strerror}"]) from None
    typer.echo(f"wrote {summary.n_clients} clients to {out}")
