"""The input boundary's rules, redaction of store URLs, and the exposition of counters."""

from __future__ import annotations

import asyncio
import math

import pytest

from stalwart import metrics
from stalwart._engine.metrics import METRICS
from stalwart._model import limits
from stalwart._model.redact import redact_url, scrub


def test_names_are_bounded_in_utf8_bytes_and_printable() -> None:
    assert limits.check_name("id", "a" * 1000) == "a" * 1000
    with pytest.raises(ValueError, match=r"\(334 characters\) is 1002 UTF-8 bytes long; "
                                         r"the limit is 1000 bytes"):
        limits.check_name("id", "漢" * 334)
    for bad, code in (("a\x00", "0000"), ("a\n", "000A"), ("\x9b2J", "009B"),
                      ("x\u2028y", "2028"), ("x\u202ey", "202E")):
        with pytest.raises(ValueError, match=f"U\\+{code}"):
            limits.check_name("id", bad)
    with pytest.raises(ValueError, match="lone surrogate"):
        limits.check_name("id", "a\ud800")
    with pytest.raises(TypeError, match="must be a string, got int"):
        limits.check_name("id", 5)
    with pytest.raises(ValueError, match="blank"):
        limits.check_name("id", "  ")
    assert limits.check_reference("id", "legacy\nid") == "legacy\nid"
    assert limits.check_text("reason", "two\nlines\tok") == "two\nlines\tok"
    with pytest.raises(ValueError, match="U\\+001B"):
        limits.check_text("reason", "\x1b[2J")


def test_values_shown_in_errors_are_shortened_and_escaped() -> None:
    text = limits.shorten("x" * 10_000 + "\x1b")
    assert len(text) < 100 and "10001 characters" in text and "\x1b" not in text


def test_payloads_refuse_nan_depth_and_size(monkeypatch: pytest.MonkeyPatch) -> None:
    def payload(data: str) -> dict[str, object]:
        return {"metadata": {"encoding": "json/plain"}, "data": data}

    limits.check_payloads("args", [payload('{"a": [1, 2.5, "NaN"]}')])
    for data in ("NaN", '[1, Infinity]', '{"x": -Infinity}'):
        with pytest.raises(ValueError, match=r"args\[0\] holds .* not a JSON number"):
            limits.check_payloads("args", [payload(data)])
    with pytest.raises(ValueError, match="nested more than 100 levels"):
        limits.check_payloads("args", [payload("[" * 101 + "]" * 101)])
    with pytest.raises(ValueError, match="nested too deeply"):
        limits.check_payloads("args", [payload("[" * 100_000 + "]" * 100_000)])
    limits.check_payloads("args", [payload("[" * 100 + "]" * 100)])
    monkeypatch.setenv(limits.PAYLOAD_LIMIT_ENV, "2048")
    with pytest.raises(ValueError, match=r"args\[1\] is 3002 bytes .* limit is 2048"):
        limits.check_payloads("args", [payload("1"), payload('"' + "x" * 3000 + '"')])
    monkeypatch.setenv(limits.PAYLOAD_LIMIT_ENV, "lots")
    with pytest.raises(ValueError, match="STALWART_MAX_PAYLOAD_BYTES='lots' must be"):
        limits.max_payload_bytes()
    assert limits.dumps_strict([math.nan, math.inf, -math.inf, 1.5]) == \
        '["NaN", "Infinity", "-Infinity", 1.5]'


def test_store_urls_lose_their_passwords() -> None:
    url = "postgresql://bob:s3cr%40t@db.example:5432/app?schema=a&password=p2&sslmode=require"
    assert redact_url(url) == ("postgresql://bob:***@db.example:5432/app?schema=a&password=***"
                               "&sslmode=require")
    assert redact_url("postgresql://bob@db/app") == "postgresql://bob@db/app"
    assert redact_url("sqlite:////var/lib/s.db") == "sqlite:////var/lib/s.db"
    message = f"store URL {url!r}: could not connect with s3cr@t"
    scrubbed = scrub(message, url)
    assert "s3cr" not in scrubbed and "p2&" not in scrubbed and scrubbed.count("***") >= 3


def test_counters_are_exported_exactly() -> None:
    METRICS.workflows_started.inc("ExactlyCounted", amount=1_234_567)
    # Counters are floats: every integer up to 2**53 is exported exactly, in all its digits.
    METRICS.workflows_started.inc("ExactlyCounted", amount=4_503_599_627_370_000)
    body = asyncio.run(metrics.render())
    line = next(line for line in body.splitlines()
                if line.startswith('stalwart_workflows_started_total{workflow_type="Exactly'))
    assert float(line.rsplit(" ", 1)[1]) == 4_503_599_628_604_567
    assert METRICS.workflows_started.value("ExactlyCounted") == 4_503_599_628_604_567
