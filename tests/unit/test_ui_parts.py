"""Pure parts of the dashboard: passwords, the session cookie, charts, guardrail verdicts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from api.ui import charts
from api.ui import session as cookies
from api.ui.approvals import guardrail_verdicts
from api.ui.pages import workflow_url
from core.store.opsusers import OpsUserError, check_password, check_username, hash_password, verify_password


def test_opsusers_hash_verifies_only_the_password() -> None:
    stored = hash_password("correct horse battery")
    assert stored.startswith("scrypt$16384$8$1$")
    assert verify_password("correct horse battery", stored)
    assert not verify_password("correct horse batterY", stored)
    assert hash_password("correct horse battery") != stored  # salted
    for broken in ["", "md5$x", "scrypt$1$2$3$!!$??", stored.replace("scrypt", "bcrypt")]:
        assert not verify_password("correct horse battery", broken)


def test_opsusers_rules_for_names_and_passwords() -> None:
    assert check_username("ops.alice") == "ops.alice"
    for bad in ["", "Alice", "-x", "a b", "x" * 65]:
        with pytest.raises(OpsUserError, match="username"):
            check_username(bad)
    with pytest.raises(OpsUserError, match="at least 12"):
        check_password("short")


def test_ui_session_round_trip_and_tamper() -> None:
    session = cookies.new_session("ops.alice")
    token = cookies.encode(session, "s3cret")
    assert cookies.decode(token, "s3cret") == session
    assert cookies.decode(token, "other") is None
    payload, mac = token.split(".")
    assert cookies.decode(payload[:-2] + "AA." + mac, "s3cret") is None
    assert cookies.decode("garbage", "s3cret") is None
    later = session.issued_at + cookies.MAX_AGE_SECONDS + 1
    assert cookies.decode(token, "s3cret", now=later) is None


def test_ui_session_csrf_check() -> None:
    session = cookies.new_session()
    assert cookies.csrf_ok(session, session.csrf)
    assert not cookies.csrf_ok(session, None)
    assert not cookies.csrf_ok(session, session.csrf + "x")
    assert cookies.new_session().csrf != session.csrf


def test_charts_bars_fit_the_viewbox() -> None:
    chart = charts.bar_chart(["a", "b", "c"], [0, 7, 3], "test")
    assert [b.value for b in chart.bars] == [0, 7, 3]
    tallest = max(chart.bars, key=lambda b: b.height)
    assert tallest.label == "b"
    for bar in chart.bars:
        assert charts.TOP <= bar.y <= chart.bottom
        assert bar.y + bar.height == pytest.approx(chart.bottom)
    assert [t.label for t in chart.y_ticks] == ["0", "2", "4", "6", "8"]  # whole-number steps


def test_charts_line_over_time() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    series = [(start + timedelta(days=d), v) for d, v in [(0, 80.0), (10, 50.0), (40, 20.0)]]
    chart = charts.line_chart(series, "score", y_max=100, titles=["a", "b", "c"])
    xs = [p.x for p in chart.points]
    assert xs == sorted(xs)
    assert xs[0] == charts.LEFT
    assert xs[-1] == charts.WIDTH - charts.RIGHT
    assert chart.points[0].y < chart.points[2].y  # higher score is higher up
    assert chart.points[1].title == "b"
    assert charts.line_chart([], "nothing").empty
    single = charts.line_chart(series[:1], "one")
    assert len(single.points) == 1


@pytest.mark.parametrize(
    "stored",
    [
        [{"name": "length", "passed": True}, {"name": "links", "passed": False, "detail": "evil.example"}],
        {
            "verdicts": [
                {"name": "length", "passed": True},
                {"name": "links", "passed": False, "detail": "evil.example"},
            ]
        },
        {"length": True, "links": {"passed": False, "detail": "evil.example"}},
    ],
)
def test_ui_guardrail_verdicts_accept_each_shape(stored: object) -> None:
    assert guardrail_verdicts(stored) == [
        {"name": "length", "passed": True, "detail": ""},
        {"name": "links", "passed": False, "detail": "evil.example"},
    ]


def test_ui_guardrail_verdicts_ignore_junk() -> None:
    assert guardrail_verdicts(None) == []
    assert guardrail_verdicts("x") == []
    assert guardrail_verdicts([1, {}]) == []


def test_ui_workflow_url_is_quoted() -> None:
    assert (
        workflow_url("http://ui:8233/", "default", "c:1@x")
        == "http://ui:8233/namespaces/default/workflows/client-c%3A1%40x"
    )


@pytest.mark.parametrize(
    ("value", "top"), [(0, 4), (3, 4), (5, 8), (9, 20), (41, 80), (50_000, 80_000), (7.5, 8)]
)
def test_charts_ceiling_has_whole_steps(value: float, top: float) -> None:
    assert charts._nice_max(value) == top
