"""Temporal Schedules the worker keeps in place: the nightly model refit."""

from __future__ import annotations

from datetime import timedelta

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleHandle,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleState,
    ScheduleUpdate,
    ScheduleUpdateInput,
)

from core.contracts.model import RefitModelInput
from core.runtime.logging import get_logger
from core.runtime.settings import Settings
from workflows.refit import RefitModelWorkflow

log = get_logger(__name__)

REFIT_SCHEDULE_ID = "rekindle-model-refit"
DISABLED_NOTE = "refit disabled by REKINDLE_SCORING__REFIT_ENABLED"


def refit_schedule(settings: Settings, schedule_id: str = REFIT_SCHEDULE_ID) -> Schedule:
    """The refit schedule as the settings describe it."""
    scoring = settings.scoring
    return Schedule(
        action=ScheduleActionStartWorkflow(
            RefitModelWorkflow.run,
            RefitModelInput(unit=scoring.unit, batch_size=scoring.refit_batch_size),
            id=schedule_id,  # the server appends each run's scheduled time
            task_queue=settings.temporal.refit_task_queue,
            execution_timeout=timedelta(hours=6),
        ),
        spec=ScheduleSpec(cron_expressions=[scoring.refit_cron], time_zone_name=scoring.refit_time_zone),
        # One refit at a time; a run missed while the cluster was down is not made up later.
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP, catchup_window=timedelta(hours=1)),
        state=ScheduleState(
            paused=not scoring.refit_enabled,
            note=DISABLED_NOTE if not scoring.refit_enabled else "",
        ),
    )


async def ensure_refit_schedule(
    client: Client, settings: Settings, schedule_id: str = REFIT_SCHEDULE_ID
) -> ScheduleHandle:
    """Create the refit schedule, or bring an existing one in line with the settings.

    Safe to call from every worker at every start: there is one schedule per id,
    and the last writer's settings win, except a pause set by ops (``temporal schedule
    toggle --pause``), which stays until ops lift it.
    """
    schedule = refit_schedule(settings, schedule_id)
    try:
        handle = await client.create_schedule(schedule_id, schedule)
        log.info("refit schedule created", schedule_id=schedule_id, cron=settings.scoring.refit_cron)
        return handle
    except ScheduleAlreadyRunningError:
        pass

    def replace(current: ScheduleUpdateInput) -> ScheduleUpdate:
        state = current.description.schedule.state
        if state.paused and state.note != DISABLED_NOTE:  # a pause set by ops outlives a restart
            schedule.state = ScheduleState(paused=True, note=state.note)
        return ScheduleUpdate(schedule=schedule)

    handle = client.get_schedule_handle(schedule_id)
    await handle.update(replace)
    log.info("refit schedule updated", schedule_id=schedule_id, cron=settings.scoring.refit_cron)
    return handle
