"""Turning a draft's plain text into what we send: text with our footer, and escaped HTML.

The model (or ops) only ever writes plain text. The HTML is ours, rendered by Jinja2 with
autoescaping, so nothing a client or a model wrote can become markup; the unsubscribe footer
is ours too and is appended here, never written by the drafter.
"""

from __future__ import annotations

from functools import cache

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from core.domain.guardrails import postal_line
from core.domain.tokens import make_unsubscribe_token


@cache
def environment() -> Environment:
    """The one Jinja2 environment: HTML templates autoescaped, text templates verbatim."""
    return Environment(
        loader=PackageLoader("activities", "templates"),
        autoescape=select_autoescape(enabled_extensions=("html.j2",), default_for_string=True),
        undefined=StrictUndefined,
        keep_trailing_newline=False,
    )


def unsubscribe_url(public_base_url: str, client_id: str, secret: str) -> str:
    """The one-click unsubscribe link (served by the API at ``/u/{token}``)."""
    return f"{public_base_url.rstrip('/')}/u/{make_unsubscribe_token(client_id, secret)}"


def _paragraphs(body_text: str) -> list[list[str]]:
    blocks = [block.strip("\n") for block in body_text.replace("\r\n", "\n").split("\n\n")]
    return [[line.rstrip() for line in block.split("\n")] for block in blocks if block.strip()]


def render_text(body_text: str, unsubscribe_link: str, postal_address: str | None = None) -> str:
    """The plain-text part: the draft, then our footer (with the sender's postal address)."""
    footer = (
        environment()
        .get_template("footer.txt.j2")
        .render(unsubscribe_url=unsubscribe_link, postal_address=_postal(postal_address))
    )
    return body_text.strip() + "\n" + footer + "\n"


def _postal(address: str | None) -> str | None:
    return postal_line(address) if address else None


def render_html(
    subject: str, preheader: str, body_text: str, unsubscribe_link: str, postal_address: str | None = None
) -> str:
    """The HTML part, built by us from the text: every client- or model-written string escaped."""
    return (
        environment()
        .get_template("email.html.j2")
        .render(
            subject=subject,
            preheader=preheader,
            paragraphs=_paragraphs(body_text),
            unsubscribe_url=unsubscribe_link,
            postal_address=_postal(postal_address),
        )
    )
