"""The model refit workflow, started nightly by a Temporal Schedule.

Each run fits the engagement model's population parameters (BG/NBD and
Gamma-Gamma) to every order in the database up to the calibration end, then
stores them as the next version. The heavy lifting happens in one heartbeating
activity that streams the orders in batches and fits in memory: order histories
never travel through the workflow. While there are too few clients the fit
yields the defaults, nothing is stored, and rescoring keeps using the defaults.
A retried store is a no-op (keyed by the run), so a run stores at most one
version. A stored version is then pushed to every running client workflow (the same batch
signal as a policy change, ``core/runtime/rollout.py``), so a client asleep for months re-plans its
next check with the new model instead of keeping a boundary from the old one.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from core.contracts.model import (
        ACTIVITY_FIT_MODEL,
        ACTIVITY_STORE_MODEL,
        REFIT_WORKFLOW,
        FitModelInput,
        FitModelResult,
        RefitModelInput,
        RefitModelResult,
        StoreModelInput,
        StoreModelResult,
    )
    from core.contracts.policy import ACTIVITY_PUSH_ROLLOUT, PushRolloutInput, PushRolloutResult

FIT_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=10), maximum_interval=timedelta(minutes=5), maximum_attempts=5
)
PUSH_RETRY = RetryPolicy(initial_interval=timedelta(seconds=2), maximum_attempts=10)
STORE_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1))


@workflow.defn(name=REFIT_WORKFLOW)
class RefitModelWorkflow:
    """Fit the model on the database's order history and store a new parameter version."""

    @workflow.run
    async def run(self, input: RefitModelInput) -> RefitModelResult:
        now = workflow.now()
        calibration_end = input.calibration_end or now.date()
        fitted: FitModelResult = await workflow.execute_activity(
            ACTIVITY_FIT_MODEL,
            FitModelInput(
                calibration_end=calibration_end,
                unit=input.unit,
                fitted_at=now,
                batch_size=input.batch_size,
            ),
            result_type=FitModelResult,
            summary=f"fit the model on orders up to {calibration_end}",
            start_to_close_timeout=timedelta(hours=2),
            heartbeat_timeout=timedelta(minutes=2),
            retry_policy=FIT_RETRY,
        )
        params = fitted.parameters
        version = None
        if not params.is_default:
            info = workflow.info()
            stored: StoreModelResult = await workflow.execute_activity(
                ACTIVITY_STORE_MODEL,
                StoreModelInput(parameters=params, refit_id=f"{info.workflow_id}/{info.run_id}"),
                result_type=StoreModelResult,
                summary=f"store parameters ({params.n_clients} clients)",
                start_to_close_timeout=timedelta(seconds=60),
                retry_policy=STORE_RETRY,
            )
            version = stored.version
            if workflow.patched("refit-pushes-model-version"):
                await self._push(version)
        workflow.logger.info("refit finished", extra={"version": version, "clients": params.n_clients})
        return RefitModelResult(
            stored=version is not None,
            version=version,
            n_clients=params.n_clients,
            n_repeat_buyers=params.n_repeat_buyers,
            n_orders=fitted.n_orders,
            calibration_end=calibration_end,
        )

    async def _push(self, version: int) -> None:
        # A push that cannot start is not worth failing the refit over: the version is stored
        # and every client still picks it up at its next own wake-up.
        try:
            await workflow.execute_activity(
                ACTIVITY_PUSH_ROLLOUT,
                PushRolloutInput(reason=f"model v{version}"),
                result_type=PushRolloutResult,
                start_to_close_timeout=timedelta(seconds=60),
                retry_policy=PUSH_RETRY,
                summary=f"push model v{version} to running client workflows",
            )
        except ActivityError:
            workflow.logger.warning("model rollout not started", extra={"version": version})
