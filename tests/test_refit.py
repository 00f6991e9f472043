"""Model refit: the parameter store, the fit activity on a real database, the workflow."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import numpy as np
import pytest
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment

from activities.refit import RefitActivities
from core.contracts.model import FitModelInput, RefitModelInput, RefitModelResult, StoreModelInput
from core.domain.scoring.fit import fit_parameters
from core.domain.scoring.params import BgNbdParams, GammaGammaParams, ModelParameters, default_parameters
from core.domain.scoring.simulate import simulate_orders
from core.domain.scoring.summary import summarize
from core.store.db import transaction
from core.store.model_store import latest_parameters, parameters_version, save_parameters
from core.store.models import Client, ModelParameterSet, Order
from tests.helpers import new_worker, unique_id
from tests.workflows.recording import RECORD, record_chain
from workflows.refit import RefitModelWorkflow

UNTIL = date(2025, 12, 31)
EPOCH = date(1970, 1, 1)


async def seed_simulated_orders(
    sessions: async_sessionmaker[AsyncSession], n_clients: int, seed: int
) -> None:
    """Simulated clients and their orders (USD, cents); every 10th also orders after UNTIL."""
    sim = simulate_orders(
        BgNbdParams(r=0.9, alpha=25.0, a=0.8, b=3.0),
        GammaGammaParams(p=5.0, q=4.0, gamma=20.0),
        n_clients,
        np.random.default_rng(seed),
        start=date(2025, 1, 1),
        until=UNTIL,
    )
    late = np.arange(0, n_clients, 10)
    ids = np.concatenate((sim.client_ids, late))
    days = np.concatenate((sim.days, np.full(late.size, (UNTIL - EPOCH).days + 10)))
    amounts = np.concatenate((sim.amounts, np.full(late.size, 99.0)))
    now = datetime(2026, 2, 1, tzinfo=UTC)
    clients = [
        {
            "id": f"c{i}",
            "order_count": 0,
            "total_spend_minor": 0,
            "holdout": False,
            "created_at": now,
            "updated_at": now,
        }
        for i in range(n_clients)
    ]
    orders = [
        {
            "order_id": f"o{k}",
            "client_id": f"c{cid}",
            "placed_at": datetime.combine(EPOCH + timedelta(days=int(day)), time(23, 30), tzinfo=UTC),
            "amount_minor": round(float(amount) * 100),
            "currency": "USD",
            "items": [],
            "recorded_at": now,
        }
        for k, (cid, day, amount) in enumerate(zip(ids, days, amounts, strict=True))
    ]
    async with transaction(sessions) as session:
        await session.execute(insert(Client), clients)
        await session.execute(insert(Order), orders)


async def _expected(sessions: async_sessionmaker[AsyncSession]) -> ModelParameters:
    """The same fit computed directly from the rows, as the analysts' CLI would."""
    async with sessions() as session:
        rows = (await session.execute(select(Order.client_id, Order.placed_at, Order.amount_minor))).all()
    s = summarize(
        np.array([r[0] for r in rows]),
        np.array([r[1].date() for r in rows], dtype="datetime64[D]"),
        np.array([r[2] / 100 for r in rows]),
        until=UNTIL,
    )
    return fit_parameters(s, fitted_at=datetime(2026, 1, 1, tzinfo=UTC), version=0)


def _fitted(version: int = 0) -> ModelParameters:
    return default_parameters().model_copy(
        update={"is_default": False, "version": version, "n_clients": 1234, "bgnbd_log_likelihood": -1.5}
    )


async def test_model_store_defaults_until_a_version_is_stored(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session:
        latest = await latest_parameters(session)
    assert latest.is_default
    assert latest.model_version == "default"


async def test_model_store_versions_increase_and_retries_are_no_ops(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with transaction(sessions) as session:
        first, created = await save_parameters(session, _fitted(), "refit/run-1")
    assert (first.version, created) == (1, True)
    async with transaction(sessions) as session:
        again, created = await save_parameters(session, _fitted(), "refit/run-1")
    assert (again.version, created) == (1, False)
    async with transaction(sessions) as session:
        second, _ = await save_parameters(session, _fitted(), "refit/run-2")
    async with sessions() as session:
        latest = await latest_parameters(session)
        count = len((await session.scalars(select(ModelParameterSet))).all())
        stored_first = await parameters_version(session, 1)
    assert second.version == 2
    assert latest == second
    assert not latest.is_default
    assert latest.model_version == "v2"
    assert count == 2
    assert stored_first == first
    async with sessions() as session:
        assert (await latest_parameters(session, "weeks")).is_default


async def test_model_store_refuses_the_defaults(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with transaction(sessions) as session:
        with pytest.raises(ValueError, match="defaults"):
            await save_parameters(session, default_parameters(), "x")


async def test_refit_fit_activity_loads_in_batches_and_matches_a_direct_fit(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await seed_simulated_orders(sessions, 800, seed=5)
    env = ActivityEnvironment()
    beats: list[object] = []
    env.on_heartbeat = lambda *details: beats.append(details)
    fitted_at = datetime(2026, 1, 1, tzinfo=UTC)
    result = await env.run(
        RefitActivities(sessions).fit_model,
        FitModelInput(calibration_end=UNTIL, unit="days", fitted_at=fitted_at, batch_size=500),
    )
    expected = await _expected(sessions)
    params = result.parameters
    assert not params.is_default
    assert params.n_clients == expected.n_clients == 800
    assert params.bgnbd.r == pytest.approx(expected.bgnbd.r, rel=1e-9)
    assert params.gamma_gamma.p == pytest.approx(expected.gamma_gamma.p, rel=1e-9)
    assert params.calibration_end == UNTIL
    end = datetime.combine(UNTIL + timedelta(days=1), time(), tzinfo=UTC)
    async with sessions() as session:
        all_orders = len((await session.scalars(select(Order.id))).all())
        in_window = len((await session.scalars(select(Order.id).where(Order.placed_at < end))).all())
    assert in_window < all_orders  # some orders fall after the calibration end and are not loaded
    assert result.n_orders == in_window
    assert len(beats) >= in_window // 500


async def test_refit_fit_activity_returns_defaults_on_thin_data(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await seed_simulated_orders(sessions, 60, seed=6)
    result = await ActivityEnvironment().run(
        RefitActivities(sessions).fit_model,
        FitModelInput(
            calibration_end=UNTIL, unit="days", fitted_at=datetime(2026, 1, 1, tzinfo=UTC), batch_size=1000
        ),
    )
    assert result.parameters.is_default
    assert result.parameters.n_clients == 60


async def test_refit_store_activity_is_idempotent(sessions: async_sessionmaker[AsyncSession]) -> None:
    acts = RefitActivities(sessions)
    env = ActivityEnvironment()
    first = await env.run(
        acts.store_model_parameters, StoreModelInput(parameters=_fitted(), refit_id="wf/run")
    )
    again = await env.run(
        acts.store_model_parameters, StoreModelInput(parameters=_fitted(), refit_id="wf/run")
    )
    assert (first.version, first.created) == (1, True)
    assert (again.version, again.created) == (1, False)


@pytest.mark.temporal
async def test_refit_workflow_stores_a_new_version_each_run(
    time_env: WorkflowEnvironment, sessions: async_sessionmaker[AsyncSession], request: pytest.FixtureRequest
) -> None:
    acts = RefitActivities(sessions)
    ids: list[str] = []
    async with new_worker(
        time_env.client,
        workflows=[RefitModelWorkflow],
        activities=[acts.fit_model, acts.store_model_parameters],
    ) as worker:

        async def refit() -> RefitModelResult:
            ids.append(unique_id("refit"))
            return await time_env.client.execute_workflow(
                RefitModelWorkflow.run,
                RefitModelInput(calibration_end=UNTIL, batch_size=700),
                id=ids[-1],
                task_queue=worker.task_queue,
            )

        thin = await refit()
        assert (thin.stored, thin.version, thin.n_clients) == (False, None, 0)
        await seed_simulated_orders(sessions, 700, seed=7)
        first = await refit()
        second = await refit()
    if RECORD and "sqlite" in request.node.name:  # for the replay tests (tests/workflows/recording.py)
        for n, workflow_id in enumerate(ids):
            await record_chain(time_env.client, workflow_id, None, f"{request.node.originalname}-{n}")
    assert (first.stored, first.version, first.n_clients) == (True, 1, 700)
    assert second.version == 2
    assert first.calibration_end == UNTIL
    async with sessions() as session:
        latest = await latest_parameters(session)
    assert latest.version == 2
    assert latest.n_clients == 700
