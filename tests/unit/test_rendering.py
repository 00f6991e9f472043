"""Rendering: our HTML from the draft's text, everything escaped, our footer appended."""

from __future__ import annotations

from activities.rendering import render_html, render_text, unsubscribe_url
from core.domain.tokens import verify_unsubscribe_token


def test_rendering_html_escapes_everything_written_by_others() -> None:
    html = render_html(
        "Tom & <Jerry>",
        "pre <i>",
        'Hi Tom,\n\n<script>alert(1)</script> & "quotes"\nline two',
        "https://x/u/t",
    )
    assert "<script>" not in html
    assert "<Jerry>" not in html
    assert "<i>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &#34;quotes&#34;<br>line two" in html
    assert "<title>Tom &amp; &lt;Jerry&gt;</title>" in html
    assert html.count("<p style") == 3  # two paragraphs and the footer
    assert 'href="https://x/u/t"' in html


def test_rendering_text_appends_our_footer() -> None:
    text = render_text("Hi Tom,\n\nHello.\n", "https://x/u/t")
    assert text.startswith("Hi Tom,\n\nHello.\n\n--\n")
    assert text.rstrip().endswith("Unsubscribe with one click: https://x/u/t")


def test_rendering_unsubscribe_url_carries_a_verifiable_token() -> None:
    url = unsubscribe_url("https://rekindle.example.com/", "c-42", "k")
    prefix = "https://rekindle.example.com/u/"
    assert url.startswith(prefix)
    assert verify_unsubscribe_token(url.removeprefix(prefix), "k") == "c-42"
