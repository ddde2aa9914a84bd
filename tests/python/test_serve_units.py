"""The service's pieces without a build: request context parsing, the event checks against the
project's seeds and vars (aliases, time zones, the future tolerance), the manifest check of
export files, and `segrec serve` refusing a missing export with one line."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from types import SimpleNamespace

import pandas as pd
import pyarrow as pa
import pytest
import yaml

pytest.importorskip("fastapi")

from segrec.cli import main  # noqa: E402
from segrec.errors import SegrecError  # noqa: E402
from segrec.serve.context import Context, parse_context  # noqa: E402
from segrec.serve.events import EventRules, check_event, live_event  # noqa: E402
from segrec.serve.lookup import group_rows  # noqa: E402
from segrec.serve.published import read_manifest, read_verified  # noqa: E402
from segrec.serve.reload import release_gradually  # noqa: E402

from .dbt_harness import PROJECT_ROOT  # noqa: E402

NOW = datetime(2026, 3, 1, 12, 0, 0)


@pytest.fixture(scope="module")
def rules() -> EventRules:
    return EventRules.from_project(PROJECT_ROOT)


@pytest.mark.parametrize(("text", "expected"), [
    (None, Context()), ("", Context()), ("mobile", Context("mobile", None)),
    ("evening", Context(None, "evening")), (" Evening , TABLET ", Context("tablet", "evening")),
])
def test_parse_context(text, expected):
    assert parse_context(text) == expected


@pytest.mark.parametrize("text", ["phone", "mobile,desktop", "night,morning", "mobile,,x"])
def test_parse_context_refuses_unknown_and_repeated_values(text):
    with pytest.raises(ValueError, match="context: unknown or repeated value"):
        parse_context(text)


def test_event_rules_are_the_projects_vars_and_seeds(rules):
    variables = yaml.safe_load((PROJECT_ROOT / "dbt_project.yml").read_text())["vars"]
    assert rules.future_tolerance == timedelta(minutes=variables["future_tolerance_minutes"])
    assert rules.default_currency == variables["default_currency"]
    assert rules.event_type_aliases["addtocart"] == "add_to_cart"
    assert "bot" in rules.bot_patterns


def base_event(**values) -> dict:
    return {"event_id": "e1", "event_time": "2026-03-01T11:00:00", "event_type": "product_view",
            "customer_id": "C1", "product_id": "P1"} | values


@pytest.mark.parametrize(("values", "expected"), [
    ({}, (None, "product_view")),
    ({"event_type": " Add-To_Cart "}, (None, "add_to_cart")),  # staging's alias key
    ({"event_time": "2026-03-01T14:00:00+02:00"}, (None, "product_view")),  # 12:00 UTC: now
    ({"event_time": "2026-03-01T13:00:00"}, (None, "product_view")),  # exactly the tolerance
    ({"event_time": "2026-03-01T13:00:01"}, "future_event_time"),
    ({"event_time": "2026-03-01T13:00:00-01:00"}, "future_event_time"),  # 14:00 UTC
    ({"event_id": "   "}, "missing_event_id"),
    ({"customer_id": None, "anonymous_id": "dev-1"}, (None, "product_view")),
    ({"event_type": "purchase", "product_id": None, "order_id": "O1", "unit_price": "3"}, (None, "purchase")),
    ({"event_type": "purchase", "unit_price": "3", "quantity": "many"}, "invalid_quantity"),
    ({"event_type": "purchase", "unit_price": "3", "currency": "eur"}, (None, "purchase")),
    ({"user_agent": "Mozilla/5.0 HeadlessChrome"}, "bot_traffic"),
])
def test_check_event(rules, values, expected):
    reason, detail = check_event(base_event(**values), rules, NOW)
    if isinstance(expected, tuple):  # accepted: (None, canonical event type)
        assert (reason, detail) == expected
    else:
        assert reason == expected


def test_read_verified_checks_the_manifest(tmp_path):
    (tmp_path / "marts").mkdir()
    data = b"PAR1 some bytes"
    (tmp_path / "marts" / "a.parquet").write_bytes(data)
    manifest = {"files": {"marts/a.parquet": {"sha256": hashlib.sha256(data).hexdigest()}}}
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    document, fingerprint = read_manifest(tmp_path)
    assert fingerprint == hashlib.sha256((tmp_path / "manifest.json").read_bytes()).hexdigest()
    assert read_verified(tmp_path, document, "marts/a.parquet") == data
    with pytest.raises(SegrecError, match="marts/b.parquet is not in its manifest"):
        read_verified(tmp_path, document, "marts/b.parquet")
    (tmp_path / "marts" / "a.parquet").write_bytes(data + b"more")
    with pytest.raises(SegrecError, match="marts/a.parquet does not match its sha256"):
        read_verified(tmp_path, document, "marts/a.parquet")
    (tmp_path / "manifest.json").write_text('{"files": ')
    with pytest.raises(SegrecError, match="is not a valid manifest"):
        read_manifest(tmp_path)


def test_cli_refuses_a_missing_export_in_one_line(tmp_path, capsys):
    assert main(["serve", "--exports", str(tmp_path / "none")]) == 2
    err = capsys.readouterr().err
    assert err == f"segrec serve: error: no manifest.json in {tmp_path / 'none'}: run `segrec export` first\n"


def test_live_event_derives_device_daypart_and_revenue_as_staging_does(rules):
    event = {"event_id": "e", "event_time": "2026-07-01T01:30:00Z", "event_type": "purchase", "customer_id": "c",
             "product_id": "p", "order_id": "o", "quantity": "2", "unit_price": "10", "currency": "eur",
             "device_type": " Smart-Phone ", "country": "us"}
    live = live_event(event, "purchase", rules)
    # US is UTC-5 (seeds/country_regions.csv): 01:30Z is 20:30 there; 2 x 10 EUR at 1.08 = 21.60 USD
    assert (live.event_time, live.daypart, live.device_type, live.order_id) == (
        datetime(2026, 7, 1, 1, 30), "evening", "mobile", "o")
    assert live.revenue == pytest.approx(21.6)
    view = live_event({**event, "event_type": "return", "device_type": None, "user_agent": "Mozilla (iPad)",
                       "country": None, "quantity": None}, "return", rules)
    assert (view.daypart, view.device_type, view.revenue) == ("night", "tablet", pytest.approx(-10.8))
    assert live_event({**event, "device_type": None, "user_agent": None}, "product_view", rules).revenue is None
    assert live_event({**event, "device_type": None, "user_agent": None}, "product_view", rules).device_type == \
        "unknown"


def test_group_rows_spans_every_group_across_conversion_slices():
    n = 70_000  # more rows than one conversion slice (65,536)
    keys = [f"c{i // 3:06d}" if i % 7 else None for i in range(n)]
    table = pa.table({"customer_key": keys, "list_type": ["a", "b"] * (n // 2), "rank": list(range(n, 0, -1))})
    grouped = group_rows(table, ["customer_key", "list_type"], ["rank"])
    frame = table.to_pandas()
    expected = frame.groupby(["customer_key", "list_type"], dropna=False).size()
    assert len(grouped) == len(expected)
    for (customer, list_type), size in expected.items():
        key = (None if pd.isna(customer) else customer, list_type)
        rows = grouped.rows(key)
        assert len(rows) == size and [r["rank"] for r in rows] == sorted(r["rank"] for r in rows)
        assert {(r["customer_key"], r["list_type"]) for r in rows} == {key}
    assert group_rows(table.slice(0, 0), ["customer_key"]).spans == {}


def test_a_released_build_lets_go_of_its_objects_and_the_new_one_is_untouched():
    old = SimpleNamespace(**{name: group_rows(pa.table({"k": ["a", "b"], "v": ["x", "y"]}), ["k"])
                             for name in ("recommendations", "segments", "predictions", "strategies", "similar")})
    kept = group_rows(pa.table({"k": ["a"], "v": ["z"]}), ["k"])
    release_gradually(old, grace=0, pause=0)
    assert old.recommendations.rows("a") == [{"k": None, "v": None}]
    assert kept.rows("a") == [{"k": "a", "v": "z"}]
