"""Numeric generator state -> the text columns of the raw contract (Arrow string arrays, so
millions of rows stay compact), including the harmless spelling noise of real feeds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from segrec.contract import EVENT_TYPES
from segrec.generate.common import HOUR
from segrec.generate.customers import (
    CITY_NAMES,
    COUNTRY_CURRENCY,
    DEVICE_TYPE_SPELLINGS,
    HUMAN_USER_AGENTS,
    UTC_OFFSET_HOURS,
)
from segrec.generate.events import PURCHASE, RETURN
from segrec.generate.reference import BOT_USER_AGENTS, CHANNELS, COUNTRY_CODES, EVENT_TYPE_ALIASES

ALIAS_SHARE = 0.05
Z_SUFFIX_SHARE = 0.02
OFFSET_SHARE = 0.02
LOWER_COUNTRY_SHARE = 0.01
USER_AGENT_VOCABULARY: tuple[str, ...] = HUMAN_USER_AGENTS + BOT_USER_AGENTS
EVENT_TYPE_VOCABULARY: tuple[str, ...] = EVENT_TYPES + tuple(EVENT_TYPE_ALIASES)


def id_text(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    """``prefix`` + zero-padded number; null where the number is negative."""
    digits = pc.utf8_lpad(pa.array(np.maximum(numbers, 0)).cast(pa.string()), width, "0")
    text = pc.binary_join_element_wise(pa.scalar(prefix), digits, "")
    return masked_text(text, numbers < 0)


def time_text(seconds: np.ndarray) -> pa.Array:
    """Naive ISO UTC text ``YYYY-MM-DDTHH:MM:SS`` for epoch seconds."""
    # Arrow's cast writes "YYYY-MM-DD HH:MM:SS"; it is ten times faster than strftime.
    text = pa.array(np.asarray(seconds, dtype=np.int64), pa.timestamp("s")).cast(pa.string())
    return pc.replace_substring(text, " ", "T", max_replacements=1)


def vocabulary_text(codes: np.ndarray, vocabulary: tuple[str, ...]) -> pa.Array:
    """The vocabulary entry of each code; null where the code is negative."""
    indices = pa.array(np.maximum(codes, 0).astype(np.int32), mask=np.asarray(codes) < 0)
    return pa.DictionaryArray.from_arrays(indices, pa.array(vocabulary, pa.string())).dictionary_decode()


def number_text(values: np.ndarray, missing: np.ndarray) -> pa.Array:
    """Shortest decimal text of numbers (``12.5``, ``3``); null where ``missing``."""
    return pa.array(values, mask=missing).cast(pa.string())


def masked_text(column: pa.Array, missing: np.ndarray) -> pa.Array:
    """``column`` with nulls where ``missing``."""
    return pc.if_else(pa.array(missing), pa.scalar(None, pa.string()), column)


def replace_at(column: pa.Array, positions: np.ndarray, values: pa.Array) -> pa.Array:
    """``column`` with the entries at sorted ``positions`` replaced by ``values`` (in order)."""
    mask = np.zeros(len(column), dtype=bool)
    mask[positions] = True
    return pc.replace_with_mask(column, pa.array(mask), values.cast(pa.string()))


def to_frame(columns: dict[str, pa.Array]) -> pd.DataFrame:
    """A DataFrame of Arrow-backed string columns (no copy into Python objects)."""
    return pd.DataFrame({name: pd.arrays.ArrowStringArray(array) for name, array in columns.items()})


def _event_type_codes(event_type: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Canonical event types, with ALIAS_SHARE of the aliased types spelled by an alias."""
    codes = event_type.astype(np.int64).copy()
    for canonical in sorted(set(EVENT_TYPE_ALIASES.values())):
        aliases = [EVENT_TYPE_VOCABULARY.index(a) for a, c in EVENT_TYPE_ALIASES.items() if c == canonical]
        rows = np.flatnonzero((event_type == EVENT_TYPES.index(canonical))
                              & (rng.random(len(event_type)) < ALIAS_SHARE))
        codes[rows] = np.array(aliases)[rng.integers(0, len(aliases), len(rows))]
    return codes


def _event_time_text(event_time: np.ndarray, country: np.ndarray, rng: np.random.Generator) -> pa.Array:
    """Mostly naive UTC; some rows with a ``Z`` suffix, some in local time with the country's
    ``+hh:mm`` offset (the same instant)."""
    style = rng.random(len(event_time))
    offset_rows = np.flatnonzero(style < OFFSET_SHARE)
    z_rows = np.flatnonzero((style >= OFFSET_SHARE) & (style < OFFSET_SHARE + Z_SUFFIX_SHARE))
    text = time_text(event_time)
    text = replace_at(text, z_rows, pc.binary_join_element_wise(text.take(z_rows), pa.scalar("Z"), ""))
    hours = UTC_OFFSET_HOURS[country[offset_rows]]
    suffix = np.char.add(np.where(hours < 0, "-", "+"), np.char.add(np.char.zfill(np.abs(hours).astype(str), 2),
                                                                     ":00"))
    local = time_text(event_time[offset_rows] + hours * HOUR)
    return replace_at(text, offset_rows, pc.binary_join_element_wise(local, pa.array(suffix), ""))


def events_text(
    state: pd.DataFrame, devices: pd.DataFrame, visits: pd.DataFrame, campaigns: tuple[str, ...],
    rng: np.random.Generator,
) -> dict[str, pa.Array]:
    """Raw text columns of the events table, one entry per row of ``state``.

    ``state`` holds numeric events (see :mod:`segrec.generate.events`) plus ``loaded_at``,
    ``logged_in``, ``country`` and ``city``; ``devices`` adds ``anonymous_number`` and
    ``visits`` adds ``session_number`` to what their modules make.
    """
    device = state["device"].to_numpy()
    visit = state["visit"].to_numpy()
    customer = state["customer"].to_numpy()
    event_type = state["event_type"].to_numpy()
    country = state["country"].to_numpy()
    has_device = device >= 0
    on_device = np.maximum(device, 0)
    in_visit = np.maximum(visit, 0)
    order_row = np.isin(event_type, [PURCHASE, RETURN])
    quantity = state["quantity"].to_numpy()
    unit_price = state["unit_price"].to_numpy()

    country_code = np.asarray(country, dtype=np.int64)
    lower = rng.random(len(state)) < LOWER_COUNTRY_SHARE
    country_vocabulary = COUNTRY_CODES + tuple(c.lower() for c in COUNTRY_CODES)
    return {
        "event_id": id_text("E", state["event_number"].to_numpy(), 9),
        "event_time": _event_time_text(state["event_time"].to_numpy(), country, rng),
        "loaded_at": time_text(state["loaded_at"].to_numpy()),
        "event_type": vocabulary_text(_event_type_codes(event_type, rng), EVENT_TYPE_VOCABULARY),
        "customer_id": id_text("C", np.where(state["logged_in"].to_numpy() & (customer >= 0), customer + 1, -1),
                               7),
        "anonymous_id": id_text("A", np.where(has_device,
                                              devices["anonymous_number"].to_numpy()[on_device], -1), 8),
        "session_id": id_text("S", np.where(visit >= 0, visits["session_number"].to_numpy()[in_visit], -1), 8),
        "product_id": id_text("P", state["product"].to_numpy(), 5),
        "order_id": id_text("O", state["order"].to_numpy(), 8),
        "quantity": number_text(quantity, quantity <= 0),
        "unit_price": number_text(unit_price, np.isnan(unit_price)),
        "currency": vocabulary_text(np.where(order_row, country_code, -1), COUNTRY_CURRENCY),
        "device_type": vocabulary_text(np.where(has_device, devices["device_type_raw"].to_numpy()[on_device], -1),
                                       DEVICE_TYPE_SPELLINGS),
        "user_agent": vocabulary_text(np.where(has_device, devices["user_agent"].to_numpy()[on_device], -1),
                                      USER_AGENT_VOCABULARY),
        "country": vocabulary_text(country_code + lower * len(COUNTRY_CODES), country_vocabulary),
        "city": vocabulary_text(state["city"].to_numpy(), CITY_NAMES),
        "channel": vocabulary_text(np.where(visit >= 0, visits["channel"].to_numpy()[in_visit], -1), CHANNELS),
        "campaign": vocabulary_text(np.where(visit >= 0, visits["campaign"].to_numpy()[in_visit], -1), campaigns),
    }
