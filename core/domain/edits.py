"""Ops' edits to a draft, re-checked by the guardrails before an approval is accepted.

Pure and sandbox-safe: the ``approve_email`` Update validator calls ``failing_verdicts`` so
a bad edit is refused before anything reaches the workflow history. The edited fields
are merged with the pending draft and the whole email goes through
``core.domain.guardrails.check_draft``, exactly as a freshly drafted one does.
"""

from __future__ import annotations

from core.contracts.approval import ApproveEmail
from core.contracts.emails import GuardrailVerdict
from core.contracts.state import PendingEmail, WorkflowConfig
from core.domain.guardrails import check_draft, plausible_first_name

# Stands in for a part of the draft the workflow does not hold (an email pending since
# before bodies were kept): a neutral text every rule passes, so only the edits are judged.
NEUTRAL_BODY = "Hello,\n\nIt has been a while. We would love to see you again.\n"


def failing_verdicts(
    edit: ApproveEmail,
    pending: PendingEmail | None,
    *,
    first_name: str | None,
    config: WorkflowConfig,
    locale: str | None = None,
) -> list[GuardrailVerdict]:
    """The guardrail verdicts the edited email fails (what an ``EditRejected`` carries)."""
    if edit.subject is None and edit.preheader is None and edit.body_text is None:
        return []
    subject = edit.subject if edit.subject is not None else (pending.subject if pending else None)
    preheader = edit.preheader if edit.preheader is not None else (pending.preheader if pending else None)
    body = edit.body_text if edit.body_text is not None else (pending.body_text if pending else None)
    verdicts = check_draft(
        subject or "",
        preheader or "",
        body if body is not None else NEUTRAL_BODY,
        first_name=plausible_first_name(first_name) or "",
        allowed_offer=config.offer,
        allowed_url_prefixes=[
            *([config.public_base_url] if config.public_base_url else []),
            *config.cta_links,
        ],
        locale=locale,
    )
    return [v for v in verdicts if not v.passed]
