"""Customers and their devices: the true attributes, then the messy raw `customers` table."""

from __future__ import annotations

import numpy as np
import pandas as pd

from segrec.generate.common import DAY, Window, draw_rows
from segrec.generate.personas import PERSONAS, persona_matrix
from segrec.generate.reference import (
    BIG_CITIES,
    CITIES,
    COUNTRIES,
    COUNTRY_CODES,
    DEVICE_SPELLINGS,
    DEVICE_TYPES,
    EMAIL_DOMAINS,
    FIRST_NAMES,
    LAST_NAMES,
    USER_AGENTS,
)

DEVICES_PER_CUSTOMER = (0.50, 0.35, 0.15)  # probability of 1, 2, 3 devices
ANONYMOUS_FIRST_SHARE = 0.30
NULL_DEVICE_TYPE_SHARE = 0.06
CONSENT_SHARE = 0.70
DUPLICATE_CUSTOMER_SHARE = 0.03

# Flat vocabularies; rows refer to them by index.
CITY_NAMES: tuple[str, ...] = tuple(city for code in COUNTRY_CODES for city in CITIES[code])
CITY_COUNTRY = np.array([i for i, code in enumerate(COUNTRY_CODES) for _ in CITIES[code]])
DEVICE_TYPE_SPELLINGS: tuple[str, ...] = tuple(s for t in DEVICE_TYPES for s in DEVICE_SPELLINGS[t])
HUMAN_USER_AGENTS: tuple[str, ...] = tuple(ua for t in DEVICE_TYPES for ua in USER_AGENTS[t])
UTC_OFFSET_HOURS = np.array([COUNTRIES[c][2] for c in COUNTRY_CODES])
COUNTRY_CURRENCY: tuple[str, ...] = tuple(COUNTRIES[c][1] for c in COUNTRY_CODES)


def make_customers(n_customers: int, persona: np.ndarray, rng: np.random.Generator) -> pd.DataFrame:
    """True attributes per customer (row i is customer ``C{i+1:07d}``)."""
    country = draw_rows(rng, persona_matrix("countries"), persona)
    # City weights inside a country favour the big cities; the urban persona lives only there.
    n_cities = len(CITY_NAMES) // len(COUNTRY_CODES)
    anywhere = 1.0 / (1.0 + np.arange(n_cities))
    big_only = np.where(np.arange(n_cities) < BIG_CITIES, 1.0, 0.0)
    city_weights = np.vstack([anywhere / anywhere.sum(), big_only / big_only.sum()])
    lives_big = np.array([p.big_city_only for p in PERSONAS])[persona].astype(np.int64)
    city = country * n_cities + draw_rows(rng, city_weights, lives_big)
    age = np.clip(rng.normal(persona_matrix("age_mean")[persona], persona_matrix("age_sd")[persona]),
                  16, 90).astype(np.int64)
    return pd.DataFrame({
        "customer_id": format_customer_ids(np.arange(n_customers)),
        "persona": persona,
        "country": country,
        "city": city,
        "age": age,
        "gender": rng.choice(np.array(["F", "M", "U"]), size=n_customers, p=[0.49, 0.48, 0.03]),
        "consent": rng.random(n_customers) < CONSENT_SHARE,
        "anonymous_first": rng.random(n_customers) < ANONYMOUS_FIRST_SHARE,
        "n_devices": 1 + draw_rows(rng, np.array([DEVICES_PER_CUSTOMER]),
                                   np.zeros(n_customers, dtype=np.int64)),
        "first_name": rng.integers(0, len(FIRST_NAMES), n_customers),
        "last_name": rng.integers(0, len(LAST_NAMES), n_customers),
    })


def format_customer_ids(index: np.ndarray) -> np.ndarray:
    """``C0000123`` style ids for customer indexes (index 0 is ``C0000001``)."""
    return np.char.add("C", np.char.zfill((index + 1).astype(str), 7)).astype(object)


def make_devices(customers: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """One row per device, grouped by customer: its type, user agent and raw type spelling."""
    customer = np.repeat(np.arange(len(customers)), customers["n_devices"].to_numpy())
    persona = customers["persona"].to_numpy()[customer]
    device_type = draw_rows(rng, persona_matrix("device"), persona)
    ua_offsets = np.cumsum([0] + [len(USER_AGENTS[t]) for t in DEVICE_TYPES])
    ua_counts = np.diff(ua_offsets)
    user_agent = ua_offsets[device_type] + (rng.random(len(customer)) * ua_counts[device_type]).astype(int)
    spelling_offsets = np.cumsum([0] + [len(DEVICE_SPELLINGS[t]) for t in DEVICE_TYPES])
    spelling_counts = np.diff(spelling_offsets)
    spelling = spelling_offsets[device_type] + (rng.random(len(customer))
                                                * spelling_counts[device_type]).astype(int)
    # Some clients send no device type; the user agent still tells.
    spelling[rng.random(len(customer)) < NULL_DEVICE_TYPE_SHARE] = -1
    return pd.DataFrame({"customer": customer, "device_type": device_type, "user_agent": user_agent,
                         "device_type_raw": spelling})


def _spell(rng: np.random.Generator, truth: np.ndarray, spellings: dict[str, tuple[str | None, ...]]
           ) -> np.ndarray:
    """Replace each true value by one of its raw spellings, chosen uniformly."""
    out = np.empty(len(truth), dtype=object)
    for value, options in spellings.items():
        rows = np.flatnonzero(truth == value)
        out[rows] = np.array(options, dtype=object)[rng.integers(0, len(options), len(rows))]
    return out


def _emails(customers: pd.DataFrame, rng: np.random.Generator) -> np.ndarray:
    """Unique emails with the case and whitespace noise of hand-typed addresses."""
    first = np.array(FIRST_NAMES, dtype=object)[customers["first_name"].to_numpy()]
    last = pd.Series(np.array(LAST_NAMES, dtype=object)[customers["last_name"].to_numpy()])
    last = last.str.replace(" ", "", regex=False).to_numpy(dtype=object)
    number = (np.arange(len(customers)) + 1).astype(str).astype(object)
    domain = np.array(EMAIL_DOMAINS, dtype=object)[rng.integers(0, len(EMAIL_DOMAINS), len(customers))]
    u = rng.random(len(customers))
    lower = pd.Series(first + "." + last + number + "@" + domain).str.lower()
    mixed = pd.Series(first + "." + last + number + "@" + pd.Series(domain).str.title().to_numpy())
    shouted = lower.str.upper()
    email = np.where(u < 0.80, lower, np.where(u < 0.95, mixed, shouted)).astype(object)
    pad = rng.random(len(customers))
    email = np.where(pad < 0.03, " " + email, np.where(pad < 0.05, email + "  ", email))
    return email.astype(object)


def customers_table(
    customers: pd.DataFrame, first_seen: np.ndarray, excluded: np.ndarray, window: Window,
    rng: np.random.Generator,
) -> tuple[pd.DataFrame, dict[str, int]]:
    """The raw `customers` table and counts of what was made messy.

    ``first_seen`` is each customer's first event time (epoch seconds); customers flagged in
    ``excluded`` never appear (events without a customer record). A few customers appear twice:
    an older version with another city and an earlier ``updated_at``.
    """
    n = len(customers)
    end_date = np.datetime64(window.end_date)
    age = customers["age"].to_numpy()
    birth = end_date - (age * 365.25 + rng.uniform(0, 364, n)).astype("timedelta64[D]")
    birth = np.datetime_as_string(birth, unit="D").astype(object)
    form = rng.random(n)
    birth_date = np.where(form < 0.80, birth, None)
    age_text = np.where((form >= 0.80) & (form < 0.92), age.astype(str).astype(object), None)

    gender = _spell(rng, customers["gender"].to_numpy(), {
        "F": ("F", "female", "Female", "f"), "M": ("M", "Male", "m", "male"), "U": ("", None)})
    consent = np.where(customers["consent"].to_numpy(), "yes", "no")
    consent = _spell(rng, consent, {"yes": ("true", "yes", "1", "Y"), "no": ("false", "no", "0")})
    consent[rng.random(n) < 0.05] = None

    codes = np.array(COUNTRY_CODES, dtype=object)[customers["country"].to_numpy()]
    names = np.array([COUNTRIES[c][0] for c in COUNTRY_CODES], dtype=object)[customers["country"].to_numpy()]
    style = rng.random(n)
    country = np.where(style < 0.85, codes, np.where(style < 0.95, names, pd.Series(codes).str.lower()))

    # Signed up at least a day before the first visit; updated at least a day after signing up.
    signup = first_seen - DAY - (rng.random(n) * 730 * DAY).astype(np.int64)
    updated = signup + DAY + (rng.random(n) * (window.end - 1 - signup - DAY)).astype(np.int64)
    table = pd.DataFrame({
        "customer_id": customers["customer_id"].to_numpy(),
        "email": _emails(customers, rng),
        "birth_date": birth_date,
        "age": age_text,
        "gender": gender,
        "country": country,
        "city": np.array(CITY_NAMES, dtype=object)[customers["city"].to_numpy()],
        "signup_at": pd.to_datetime(signup, unit="s"),
        "marketing_consent": consent,
        "updated_at": pd.to_datetime(updated, unit="s"),
    })

    kept = np.flatnonzero(~excluded)
    twice = kept[rng.random(len(kept)) < DUPLICATE_CUSTOMER_SHARE]
    older = table.iloc[twice].copy()
    # The older version lived in the next city of the same country and was updated earlier.
    n_cities = len(CITY_NAMES) // len(COUNTRY_CODES)
    city = customers["city"].to_numpy()[twice]
    moved = (city // n_cities) * n_cities + (city % n_cities + 1) % n_cities
    older["city"] = np.array(CITY_NAMES, dtype=object)[moved]
    older["updated_at"] = pd.to_datetime(
        signup[twice] + ((updated[twice] - signup[twice]) * rng.random(len(twice)) * 0.9).astype(np.int64),
        unit="s")
    table = pd.concat([table.iloc[kept], older], ignore_index=True)
    table = table.iloc[rng.permutation(len(table))].reset_index(drop=True)
    return table, {"customers_missing": int(excluded.sum()), "customers_duplicated": len(twice)}
