"""What payload encryption costs: the data converter with and without the AES-GCM codec.

Runs in-process (no servers), side by side in one run, for a small payload (a profile
signal) and a large one (a drafted email). Prints a table, then one JSON line with the
medians (microseconds per encode+decode round trip) and the ratios.
Usage: .venv/bin/python bench/codec_overhead.py [--rounds 7] [--iterations 2000] [--short]
(``--short``: 3 rounds of 200, about a second.)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from typing import Any

from bench.common import parse_args
from core.contracts.consent import ProfileUpdated
from core.contracts.emails import DraftEmailResult
from core.runtime.codec import EncryptionCodec, new_key, parse_keys
from core.runtime.temporal import data_converter

PAYLOADS: dict[str, Any] = {
    "profile": ProfileUpdated(
        email="ada.lovelace@example.com", first_name="Ada", last_name="Lovelace", style_notes="warm, brief"
    ),
    "draft": DraftEmailResult(
        email_id="e-1",
        subject="We miss you, Ada",
        preheader="Your favourites are back",
        body_text="Hello Ada,\n" + "We noticed it has been a while. " * 120,
        body_html="<p>Hello Ada,</p>" + "<p>We noticed it has been a while.</p>" * 120,
        generator="template",
        prompt_version="v1",
    ),
}


async def _round(converter: Any, value: Any, iterations: int) -> float:
    kind = type(value)
    started = time.perf_counter()
    for _ in range(iterations):
        payloads = await converter.encode([value])
        await converter.decode(payloads, [kind])
    return (time.perf_counter() - started) / iterations * 1e6


async def main(rounds: int, iterations: int) -> dict[str, float]:
    codec = EncryptionCodec(parse_keys(f"bench:{new_key()}"), "bench")
    plain, encrypted = data_converter(), data_converter(codec)
    figures: dict[str, float] = {}
    print(f"{'payload':8} {'bytes':>6} {'plain µs':>9} {'encrypted µs':>13} {'ratio':>6}")
    for name, value in PAYLOADS.items():
        size = len((await plain.encode([value]))[0].data)
        plain_us, enc_us = [], []
        for _ in range(rounds):  # alternate so drift on a shared machine hits both alike
            plain_us.append(await _round(plain, value, iterations))
            enc_us.append(await _round(encrypted, value, iterations))
        p, e = statistics.median(plain_us), statistics.median(enc_us)
        figures |= {f"{name}_plain_us": round(p, 2), f"{name}_encrypted_us": round(e, 2)}
        figures[f"{name}_ratio"] = round(e / p, 3)
        print(f"{name:8} {size:>6} {p:>9.1f} {e:>13.1f} {e / p:>6.2f}")
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--iterations", type=int, default=2000)
    args = parse_args(parser, rounds=3, iterations=200)
    result = asyncio.run(main(args.rounds, args.iterations))
    print(json.dumps(result))
