"""Every workflow the worker runs, and so every workflow ``rekindle replay`` replays.

Kept apart from ``worker/registry.py`` so the replayer loads the workflow code without
the activities' libraries (openai, scipy, SQLAlchemy: seconds of imports per process).
"""

from __future__ import annotations

from workflows.client import ClientEngagementWorkflow
from workflows.ops import ClientResumeTimerWorkflow, WebhookDeliveryWorkflow
from workflows.refit import RefitModelWorkflow

# On the main task queue.
WORKFLOWS: tuple[type, ...] = (ClientEngagementWorkflow, RefitModelWorkflow, ClientResumeTimerWorkflow)
# Everything ``rekindle replay`` may meet: the main queue's and the webhook queue's workflows.
REPLAYABLE: tuple[type, ...] = (*WORKFLOWS, WebhookDeliveryWorkflow)
