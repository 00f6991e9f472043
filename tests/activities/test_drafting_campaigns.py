"""draft_email under the live policy: the client's language, the policy's call-to-action link,
the tier's offer, and a follow-up that knows the earlier emails of its episode."""

from __future__ import annotations

import json

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import ActivityEnvironment

from activities.drafting import DraftingActivities
from core.contracts.emails import DraftEmailInput, DraftEmailResult
from core.domain.policy_document import Policy, default_policy
from core.runtime.settings import Settings
from core.store.policy_store import save_policy
from tests.activities.factories import NOW, add_client, add_email
from tests.activities.test_drafting import Llm, llm
from tests.helpers import unique_id

__all__ = ["llm"]  # the fixture, imported so pytest finds it here
SHOP = "https://shop.example.com/new-in"
GREETING = {
    "en": "Hi Anna,",
    "fr": "Bonjour Anna,",
    "de": "Hallo Anna,",
    "es": "Hola Anna,",
    "ja": "Annaさん",
}
LANGUAGE_WORD = {
    "en": "The Rekindle team",
    "fr": "L'équipe Rekindle",
    "de": "Rekindle-Team",
    "es": "El equipo",
    "ja": "チーム",
}


def _input(client_id: str, *, touch: int = 1, earlier: list[str] | None = None) -> DraftEmailInput:
    return DraftEmailInput(
        email_id=unique_id("e"),
        client_id=client_id,
        tier="lapsed",
        segment="hibernating",
        reasons=["no order for 300 days"],
        created_at=NOW,
        touch=touch,
        episode_email_ids=earlier or [],
    )


async def _draft(acts: DraftingActivities, input: DraftEmailInput) -> DraftEmailResult:
    result: DraftEmailResult = await ActivityEnvironment().run(acts.draft_email, input)
    return result


async def _policy(sessions: async_sessionmaker[AsyncSession], **changes: object) -> Policy:
    policy = Policy.model_validate({**default_policy(cta_links=[SHOP]).model_dump(mode="json"), **changes})
    await save_policy(sessions, policy, "test")
    return policy


@pytest.mark.parametrize("locale", ["en", "fr-FR", "de", "es-MX", "ja-JP"])
async def test_draft_email_template_in_the_clients_language_with_the_shop_link(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], locale: str
) -> None:
    await _policy(sessions)
    cid = await add_client(sessions, locale=locale)
    result = await _draft(DraftingActivities(sessions, settings), _input(cid))
    language = locale.split("-")[0]
    assert result.body_text.startswith(GREETING[language]), result.body_text
    assert LANGUAGE_WORD[language] in result.body_text
    assert SHOP in result.body_text
    assert all(v.passed for v in result.guardrails), result.guardrails


async def test_draft_email_language_outside_the_policy_falls_back_to_the_first_listed(
    settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await _policy(sessions, locales=["de", "en"])
    cid = await add_client(sessions, locale="sv-SE")
    result = await _draft(DraftingActivities(sessions, settings), _input(cid))
    assert result.body_text.startswith("Hallo Anna,")


async def test_draft_email_follow_up_names_the_earlier_email(
    settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await _policy(sessions)
    cid = await add_client(sessions, locale="fr")
    first = await add_email(sessions, cid, status="sent", subject="Vous nous manquez, Anna")
    result = await _draft(DraftingActivities(sessions, settings), _input(cid, touch=2, earlier=[first]))
    assert result.subject.startswith("Un petit rappel")
    assert "« Vous nous manquez, Anna »" in result.body_text


async def test_draft_email_llm_prompt_has_language_link_and_earlier_emails(
    llm: Llm, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await _policy(sessions)
    cid = await add_client(sessions, locale="es")
    first = await add_email(sessions, cid, status="sent", subject="Te echamos de menos")
    await _draft(llm.acts, _input(cid, touch=2, earlier=[first]))
    system, user = llm.fake.requests[0]["messages"][:2]
    assert "Write in Spanish." in system["content"]
    assert f'You may include this one link, exactly as written, and no other: "{SHOP}".' in system["content"]
    assert "This is a follow-up" in system["content"]
    data = json.loads(user["content"].split("<client_data>\n", 1)[1].split("\n</client_data>", 1)[0])
    assert data["touch_in_this_episode"] == 2
    assert [e["subject"] for e in data["earlier_emails_this_episode"]] == ["Te echamos de menos"]
