"""The worker's SMTP connection pool against a real SMTP server (aiosmtpd on loopback).

Each received message carries the client's port: one port, one connection.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import ActivityEnvironment

from activities import mail
from activities.sending import SendingActivities
from core.contracts.emails import SendEmailInput, SendEmailResult
from core.runtime.settings import Settings, SmtpSettings
from tests.activities.factories import add_client, add_email, get_email
from tests.fakes.smtp import FakeSmtp, smtp_server

MESSAGE = b"From: a@rekindle.localhost\r\nTo: b@example.com\r\nSubject: hi\r\n\r\nhello\r\n"


def _smtp(server: FakeSmtp, **values: Any) -> SmtpSettings:
    return SmtpSettings(port=server.port, timeout_seconds=2.0, **values)


@asynccontextmanager
async def _pool(settings: SmtpSettings) -> AsyncIterator[mail.SmtpPool]:
    pool = mail.SmtpPool(settings)
    try:
        yield pool
    finally:
        await pool.close()


def _connections(server: FakeSmtp) -> int:
    return len({received.peer for received in server.received})


async def test_messages_share_a_connection_up_to_the_per_connection_limit() -> None:
    with smtp_server() as server:
        async with _pool(_smtp(server)) as pool:
            for n in range(5):
                reply = await pool.transmit(MESSAGE, f"c{n}@example.com")
                assert reply.startswith("250")
        assert [r.rcpt_tos for r in server.received] == [[f"c{n}@example.com"] for n in range(5)]
        assert _connections(server) == 1

        server.received.clear()
        async with _pool(_smtp(server, messages_per_connection=2)) as pool:
            for n in range(5):
                await pool.transmit(MESSAGE, f"c{n}@example.com")
        assert len(server.received) == 5
        assert _connections(server) == 3  # 2 + 2 + 1


async def test_one_message_per_connection_when_the_limit_is_one() -> None:
    with smtp_server() as server:
        async with _pool(_smtp(server, messages_per_connection=1)) as pool:
            for n in range(3):
                await pool.transmit(MESSAGE, f"c{n}@example.com")
        assert _connections(server) == 3
        assert server.handler.quits == 3  # each said goodbye after its message


async def test_a_reused_connection_the_server_dropped_is_replaced_and_the_message_sent_once() -> None:
    with smtp_server() as server:
        async with _pool(_smtp(server)) as pool:
            await pool.transmit(MESSAGE, "first@example.com")
            server.handler.hang_up_at_next_mail = True  # the server timed the idle connection out
            reply = await pool.transmit(MESSAGE, "second@example.com")
        assert reply.startswith("250")
        assert [r.rcpt_tos for r in server.received] == [["first@example.com"], ["second@example.com"]]
        assert _connections(server) == 2


async def test_a_new_connection_refused_before_data_is_not_retried() -> None:
    with smtp_server() as server:
        async with _pool(_smtp(server)) as pool:
            server.handler.hang_up_at_next_mail = True
            with pytest.raises(mail.NotDelivered) as refused:
                await pool.transmit(MESSAGE, "first@example.com")
            assert (refused.value.code, refused.value.phase, refused.value.permanent) == (421, "mail", False)
            assert server.received == []
            await pool.transmit(MESSAGE, "again@example.com")  # the pool recovers
        assert [r.rcpt_tos for r in server.received] == [["again@example.com"]]


@pytest.mark.parametrize(
    ("mode", "error", "delivered"),
    [
        # the message went out and no verdict came back: never resent, on any connection
        ("drop", mail.Ambiguous, ["first@example.com", "failed@example.com", "third@example.com"]),
        # the recipient was refused: a verdict, not retried
        ("reject_rcpt", mail.Rejected, ["first@example.com", "third@example.com"]),
    ],
)
async def test_a_failure_on_a_reused_connection_closes_it_and_is_not_retried(
    mode: str, error: type[mail.DeliveryError], delivered: list[str]
) -> None:
    with smtp_server() as server:
        async with _pool(_smtp(server)) as pool:
            await pool.transmit(MESSAGE, "first@example.com")
            server.handler.next_modes = [mode]
            with pytest.raises(error):
                await pool.transmit(MESSAGE, "failed@example.com")
            await pool.transmit(MESSAGE, "third@example.com")
        assert [r.rcpt_tos[0] for r in server.received] == delivered
        assert _connections(server) == 2  # the failed connection was not reused


async def test_no_more_connections_than_the_pool_size_however_many_send_at_once() -> None:
    with smtp_server() as server:
        server.handler.delay_seconds = 0.05  # replies slow enough that senders overlap
        async with _pool(_smtp(server, pool_size=2)) as pool:
            replies = await asyncio.gather(*(pool.transmit(MESSAGE, f"c{n}@example.com") for n in range(8)))
        assert all(reply.startswith("250") for reply in replies)
        assert len(server.received) == 8
        assert _connections(server) == 2


async def test_a_connection_idle_too_long_is_closed_and_replaced() -> None:
    with smtp_server() as server:
        async with _pool(_smtp(server, idle_seconds=0.2)) as pool:
            await pool.transmit(MESSAGE, "first@example.com")
            started = time.monotonic()
            await pool.transmit(MESSAGE, "soon@example.com")
            if time.monotonic() - started < 0.2:  # (a very slow machine may have gone past it)
                assert _connections(server) == 1
            await asyncio.sleep(0.3)
            await pool.transmit(MESSAGE, "later@example.com")
            assert server.handler.quits >= 1  # the idle connection said goodbye
        assert server.received[-1].peer != server.received[0].peer


async def test_close_says_goodbye_to_every_idle_connection() -> None:
    with smtp_server() as server:
        server.handler.delay_seconds = 0.05
        pool = mail.SmtpPool(_smtp(server, pool_size=3))
        await asyncio.gather(*(pool.transmit(MESSAGE, f"c{n}@example.com") for n in range(3)))
        assert server.handler.quits == 0
        await pool.close()
        assert server.handler.quits == _connections(server) == 3


async def test_the_send_activity_reuses_the_pool_and_keeps_its_ledger(
    settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    with smtp_server() as server:
        smtp = _smtp(server)
        pooled = settings.model_copy(update={"smtp": smtp})
        emails = []
        for _ in range(3):
            cid = await add_client(sessions)
            emails.append((await add_email(sessions, cid, status="approved"), cid))
        async with _pool(smtp) as pool:
            acts = SendingActivities(sessions, pooled, pool)
            results: list[SendEmailResult] = []
            for n, (eid, cid) in enumerate(emails):
                if n == 2:
                    server.handler.hang_up_at_next_mail = True
                result = await ActivityEnvironment().run(
                    acts.send_email, SendEmailInput(email_id=eid, client_id=cid)
                )
                results.append(result)
        assert [r.outcome for r in results] == ["sent", "sent", "sent"]
        assert [(await get_email(sessions, eid)).status for eid, _ in emails] == ["sent"] * 3
        assert len(server.received) == 3  # each once, the third on a new connection
        assert _connections(server) == 2
