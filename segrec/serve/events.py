"""Live events: check them the way staging and int_events__validated do, and append the
accepted ones to the raw events folder so the next `dbt build` loads them.

The checks are those a single event can fail on its own, with staging's reason codes
(segrec.contract.REASON_CODES) and the project's seeds and vars (event type aliases,
currencies, bot user agents, future tolerance, default currency). What needs the warehouse's
history is left to the next build, which judges every raw row again: privacy_deleted,
duplicates of events loaded before the service started, and bot traffic by event rate.
"""

from __future__ import annotations

import csv
import os
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import yaml

from segrec.contract import ORDER_EVENT_TYPES, PRODUCT_EVENT_TYPES, RAW_TABLES
from segrec.errors import SegrecError
from segrec.rawio import TIMESTAMP_FORMAT, write_raw_table
from segrec.segmentation.online import LiveEvent, daypart_of

EVENTS = RAW_TABLES["events"]
# loaded_at is when the row lands: the service sets it, a client cannot.
CLIENT_COLUMNS: tuple[str, ...] = tuple(c for c in EVENTS.columns if c != "loaded_at")
_ALIAS_SEPARATORS = re.compile(r"[\s_\-]+")
# stg_raw__events' user-agent rules for a device type without a known alias
_TABLET_AGENT, _MOBILE_AGENT = re.compile("ipad|tablet"), re.compile("mobi|android|iphone")


@dataclass(frozen=True)
class EventRules:
    """The project's seeds and vars the checks and live events need (see :meth:`from_project`)."""

    event_type_aliases: Mapping[str, str]
    currencies: frozenset[str]
    bot_patterns: tuple[str, ...]
    default_currency: str
    future_tolerance: timedelta
    # what live_event derives as staging and int_events__enriched do
    device_type_aliases: Mapping[str, str] = field(default_factory=dict)
    rates_to_base: Mapping[str, float] = field(default_factory=dict)
    utc_offset_hours: Mapping[str, float] = field(default_factory=dict)  # by country key
    base_currency: str = "USD"
    # what a live visitor's features need (segrec.serve.segments)
    new_arrival_days: int = 30
    session_gap: timedelta = timedelta(minutes=30)

    @classmethod
    def from_project(cls, project_dir: str | Path = ".") -> EventRules:
        """Read seeds/*.csv and the vars of dbt_project.yml in ``project_dir``."""
        project_dir = Path(project_dir)
        try:
            variables = yaml.safe_load((project_dir / "dbt_project.yml").read_text(encoding="utf-8"))["vars"]
            aliases = _read_seed(project_dir, "event_type_aliases")
            currencies = _read_seed(project_dir, "currency_rates")
            bots = _read_seed(project_dir, "bot_user_agents")
            devices = _read_seed(project_dir, "device_type_aliases")
            countries = _read_seed(project_dir, "country_regions")
        except (OSError, KeyError, TypeError) as exc:
            raise SegrecError(f"cannot read the event rules of the dbt project in {project_dir}: {exc}") from exc
        return cls(
            event_type_aliases={row["alias_key"]: row["event_type"] for row in aliases},
            currencies=frozenset(row["currency"] for row in currencies),
            bot_patterns=tuple(row["pattern"].lower() for row in bots),
            default_currency=str(variables["default_currency"]),
            future_tolerance=timedelta(minutes=float(variables["future_tolerance_minutes"])),
            device_type_aliases={row["alias_key"]: row["device_type"] for row in devices},
            rates_to_base={row["currency"]: float(row["rate_to_base"]) for row in currencies},
            utc_offset_hours={row["country_key"]: float(row["utc_offset_hours"] or 0) for row in countries},
            base_currency=str(variables["base_currency"]),
            new_arrival_days=int(variables["new_arrival_days"]),
            session_gap=timedelta(minutes=float(variables["session_inactivity_minutes"])),
        )


def _alias_key(text: str | None) -> str:
    """The key an alias seed is matched on (macro alias_key): lower case without spaces, '_', '-'."""
    return _ALIAS_SEPARATORS.sub("", (text or "").lower())


def _read_seed(project_dir: Path, name: str) -> list[dict[str, str]]:
    with (project_dir / "seeds" / f"{name}.csv").open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _text(value: object) -> str | None:
    """A raw value as staging reads it: trimmed text, blank as null."""
    if value is None:
        return None
    text = (str(value).lower() if isinstance(value, bool) else str(value)).strip()
    return text or None


def _utc(text: str | None) -> datetime | None:
    """ISO-8601 text as naive UTC (naive text is UTC); None when it does not parse."""
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def _number(text: str | None) -> float | None:
    try:
        return float(text) if text is not None else None
    except ValueError:
        return None


def check_event(event: Mapping[str, object], rules: EventRules, loaded_at: datetime) -> tuple[str | None, str]:
    """``(reason_code, detail)`` of the first rule ``event`` breaks, or ``(None, event_type)``
    with its canonical event type; the rules and their order are int_events__validated's."""
    raw = {c: _text(event.get(c)) for c in CLIENT_COLUMNS}
    event_type = rules.event_type_aliases.get(_alias_key(raw["event_type"]))
    event_time = _utc(raw["event_time"])
    if raw["event_id"] is None:
        return "missing_event_id", "event_id is missing or blank"
    if event_time is None:
        return "invalid_event_time", f"event_time {raw['event_time']!r} is missing or not ISO-8601"
    if event_time > loaded_at + rules.future_tolerance:
        return "future_event_time", f"event_time {raw['event_time']} is later than now plus the tolerance"
    if event_type is None:
        return "unknown_event_type", f"event_type {raw['event_type']!r} is neither canonical nor a known alias"
    if raw["customer_id"] is None and raw["anonymous_id"] is None:
        return "missing_identity", "neither customer_id nor anonymous_id"
    if event_type in PRODUCT_EVENT_TYPES and raw["product_id"] is None:
        return "missing_product", f"a {event_type} event needs a product_id"
    if event_type in ORDER_EVENT_TYPES:
        if raw["product_id"] is None and raw["order_id"] is None:
            return "missing_product", f"a {event_type} event needs a product_id or an order_id"
        quantity = _number(raw["quantity"])
        if raw["quantity"] is not None and (quantity is None or quantity <= 0):
            return "invalid_quantity", f"quantity {raw['quantity']!r} is not a positive number"
        price = _number(raw["unit_price"])
        if price is None or price <= 0:
            return "invalid_price", f"unit_price {raw['unit_price']!r} is missing or not a positive number"
        currency = (raw["currency"] or rules.default_currency).upper()
        if currency not in rules.currencies:
            return "unknown_currency", f"currency {currency!r} is not in seeds/currency_rates.csv"
    agent = (raw["user_agent"] or "").lower()
    if any(pattern in agent for pattern in rules.bot_patterns):
        return "bot_traffic", "the user agent is a bot's"
    return None, event_type


def check_events(
    events: Sequence[Mapping[str, object]], rules: EventRules, loaded_at: datetime, seen_ids: set[str]
) -> tuple[list[str], list[dict]]:
    """The canonical event types of ``events`` and the rejections ``[{index, event_id,
    reason_code, detail}]``. Unknown fields are rejected too (a misspelt column would
    otherwise be dropped silently); ``seen_ids`` are the event ids accepted before."""
    types, rejected, batch_ids = [], [], set()
    for index, event in enumerate(events):
        unknown = sorted(set(event) - set(CLIENT_COLUMNS))
        if unknown:
            reason, detail = "unknown_field", f"fields not in the raw contract: {', '.join(unknown)}"
        else:
            reason, detail = check_event(event, rules, loaded_at)
        event_id = _text(event.get("event_id"))
        if reason is None and (event_id in seen_ids or event_id in batch_ids):
            reason, detail = "duplicate_event", f"event_id {event_id!r} was accepted before"
        batch_ids.add(event_id)
        if reason is None:
            types.append(detail)
        else:
            rejected.append({"index": index, "event_id": event_id, "reason_code": reason, "detail": detail})
    return types, rejected


def live_event(event: Mapping[str, object], event_type: str, rules: EventRules) -> LiveEvent:
    """An accepted ``event`` (canonical ``event_type``) as a visitor's live features need it,
    derived as staging and int_events__enriched do: the device from its alias, else the user
    agent; the daypart of the local hour (the country's UTC offset); revenue in the base
    currency (quantity 1 when missing; negative for a return)."""
    raw = {c: _text(event.get(c)) for c in CLIENT_COLUMNS}
    moment = _utc(raw["event_time"])
    if moment is None:
        raise SegrecError(f"live_event: event_time {raw['event_time']!r} was not checked")
    offset = rules.utc_offset_hours.get((raw["country"] or "").upper(), 0.0)
    revenue = None
    if event_type in ORDER_EVENT_TYPES:
        currency = (raw["currency"] or rules.default_currency).upper()
        revenue = ((1.0 if event_type == "purchase" else -1.0) * (_number(raw["quantity"]) or 1.0)
                   * (_number(raw["unit_price"]) or 0.0) * rules.rates_to_base[currency]
                   / rules.rates_to_base[rules.base_currency])
    return LiveEvent(
        event_time=pd.Timestamp(moment), event_type=event_type, event_id=str(raw["event_id"]),
        product_id=raw["product_id"], order_id=raw["order_id"], device_type=_device_type(raw, rules),
        daypart=daypart_of((moment + timedelta(hours=offset)).hour), revenue=revenue,
    )


def _device_type(raw: Mapping[str, str | None], rules: EventRules) -> str:
    alias = rules.device_type_aliases.get(_alias_key(raw["device_type"]))
    if alias is not None:
        return alias
    agent = (raw["user_agent"] or "").lower()
    if _TABLET_AGENT.search(agent):
        return "tablet"
    if _MOBILE_AGENT.search(agent):
        return "mobile"
    return "desktop" if agent else "unknown"


def append_events(events: Sequence[Mapping[str, object]], raw_dir: str | Path, loaded_at: datetime) -> Path:
    """Write ``events`` (checked) as one new file of the raw events folder, in the contract's
    text format, with ``loaded_at``; the file appears whole (written aside, then renamed)."""
    raw_dir = Path(raw_dir)
    frame = pd.DataFrame([{c: _text(event.get(c)) for c in CLIENT_COLUMNS} for event in events],
                         columns=list(CLIENT_COLUMNS), dtype="string")
    frame["loaded_at"] = loaded_at.strftime(TIMESTAMP_FORMAT)
    part = f"serve-{loaded_at.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:12]}"
    # A sibling folder outside events/, so the build's glob never sees a file being written.
    written = write_raw_table(frame, "events", raw_dir / ".serve-incoming", part=part)
    target = raw_dir / "events" / written.name
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(written, target)
    return target
