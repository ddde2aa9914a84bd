"""Assemble the whole synthetic dataset: raw tables, ground truth and parameters."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from segrec.contract import RAW_TABLES, REASON_CODES
from segrec.errors import SegrecError
from segrec.generate import bots as bots_module
from segrec.generate import dirt, render, side_tables
from segrec.generate.catalog import catalog_size, make_catalog
from segrec.generate.common import Window, component_rng, hourly_load_time
from segrec.generate.customers import customers_table, make_customers, make_devices
from segrec.generate.events import (
    RETURN,
    anonymous_before_login,
    expand_visits,
    make_returns,
    plan_visits,
)
from segrec.generate.experiments import EXPERIMENTS, assign_experiments, experiments_truth
from segrec.generate.personas import PERSONAS, assign_personas, persona_names
from segrec.generate.reference import (
    BOT_USER_AGENT_SUBSTRINGS,
    BOT_USER_AGENTS,
    COUNTRIES,
    CURRENCY_RATES,
    DEVICE_SPELLINGS,
    EVENT_TYPE_ALIASES,
    PROMOTIONS,
    STRATEGY_CTR,
)
from segrec.generate.visits import campaign_vocabulary, make_visits
from segrec.rawio import write_raw_table

DEFAULT_END_DATE = date(2026, 6, 30)
MISSING_CUSTOMER_SHARE = 0.02
DELETE_SHARE = 0.01
OPT_OUT_SHARE = 0.005
MAX_CUSTOMERS = 1_000_000
MAX_DAYS = 3_650
TRUTH_DIR = "_truth"
# Every value of the truth's dirt_kind column.
DIRT_KIND_NAMES: tuple[str, ...] = ("privacy_delete", "ua_bot", "rate_bot") + tuple(
    d.kind for d in dirt.DIRT_KINDS)


@dataclass
class GeneratedData:
    """Everything one run produces: raw tables (text columns, contract order), ground truth
    tables, the parameters used (``params.json``) and counts for the summary."""

    tables: dict[str, pd.DataFrame]
    truth: dict[str, pd.DataFrame]
    params: dict
    counts: dict[str, int] = field(default_factory=dict)


def _check_arguments(n_customers: int, days: int, random_state: int, end_date: date | str) -> date:
    if not 1 <= n_customers <= MAX_CUSTOMERS:
        raise SegrecError(f"--customers must be between 1 and {MAX_CUSTOMERS}, got {n_customers}")
    if not 1 <= days <= MAX_DAYS:
        raise SegrecError(f"--days must be between 1 and {MAX_DAYS}, got {days}")
    if random_state < 0:
        raise SegrecError(f"--random-state must be a non-negative integer, got {random_state}")
    if isinstance(end_date, date):
        return end_date
    try:
        return date.fromisoformat(end_date)
    except ValueError:
        raise SegrecError(f"--end-date must be YYYY-MM-DD, got {end_date!r}") from None


def _choose_privacy(n_customers: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Customers asking to be deleted (~1%, at least one) and to opt out (~0.5%, at least one)."""
    n_delete = max(1, int(round(DELETE_SHARE * n_customers)))
    n_opt_out = max(1, int(round(OPT_OUT_SHARE * n_customers)))
    picked = rng.permutation(n_customers)[: n_delete + n_opt_out]
    return np.sort(picked[:n_delete]), np.sort(picked[n_delete:])


def _first_rows(groups: np.ndarray, times: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Among sorted ``rows``, the earliest one (by time, then position) of each group value."""
    ordered = rows[np.lexsort((times[rows], groups[rows]))]  # stable: ties keep row order
    first = np.r_[True, groups[ordered][1:] != groups[ordered][:-1]]
    return ordered[first]


@dataclass
class _Simulation:
    """The numeric world before rendering: who exists, what they did."""

    window: Window
    customers: pd.DataFrame
    catalog: pd.DataFrame
    visits: pd.DataFrame  # human visits only
    assignments: pd.DataFrame
    events: pd.DataFrame  # human and bot events, in event-id (time) order
    devices: pd.DataFrame  # human then bot devices
    sessions: pd.DataFrame  # human visits then bot runs


def _simulate(n_customers: int, window: Window, random_state: int) -> _Simulation:
    """Customers, catalog, visits, experiments and every event (human, returns, bots)."""

    def rng(component: str) -> np.random.Generator:
        return component_rng(random_state, component)

    customers = make_customers(n_customers, assign_personas(n_customers, rng("personas")), rng("customers"))
    devices = make_devices(customers, rng("devices"))
    catalog = make_catalog(catalog_size(n_customers), window, rng("catalog"))
    visits = make_visits(customers, devices, window, rng("visits"))
    assignments, lift = assign_experiments(visits, window, rng("experiments"))
    plan = plan_visits(visits, lift, rng("funnel"))

    human = expand_visits(visits, plan, customers, catalog, window, rng("events"))
    human["logged_in"] = anonymous_before_login(human, visits, customers, rng("identity"))
    returns = make_returns(human, window, rng("returns"))
    returns["logged_in"] = True  # booked by the shop against the customer, even for guest orders
    human = pd.concat([human, returns], ignore_index=True)
    human["actor"] = 0
    human["country"] = customers["country"].to_numpy()[human["customer"].to_numpy()]
    human["city"] = customers["city"].to_numpy()[human["customer"].to_numpy()]
    bot_events, bot_devices, bot_runs = bots_module.make_bots(
        n_customers, catalog, window, len(devices), len(visits), rng("bots"))
    bot_events["logged_in"] = False

    devices["country"] = customers["country"].to_numpy()[devices["customer"].to_numpy()]
    devices["city"] = customers["city"].to_numpy()[devices["customer"].to_numpy()]
    all_devices = pd.concat([devices, bot_devices], ignore_index=True)
    # Anonymous ids are a shuffled numbering, so a bot cannot be told by its id.
    all_devices["anonymous_number"] = rng("anonymous-ids").permutation(len(all_devices)) + 1
    sessions = pd.concat([visits, bot_runs], ignore_index=True)
    session_number = np.empty(len(sessions), dtype=np.int64)
    session_number[np.argsort(sessions["start"].to_numpy(), kind="stable")] = np.arange(len(sessions)) + 1
    sessions["session_number"] = session_number

    # Event ids follow event time; each row is first loaded by the next hourly load.
    events = pd.concat([human, bot_events], ignore_index=True)
    del human, bot_events, returns
    events = events.iloc[np.argsort(events["event_time"].to_numpy(), kind="stable")].reset_index(drop=True)
    events["event_number"] = np.arange(len(events)) + 1
    events["loaded_at"] = hourly_load_time(events["event_time"].to_numpy())
    return _Simulation(window, customers, catalog, visits, assignments, events, all_devices, sessions)


def _seen(sim: _Simulation) -> tuple[np.ndarray, np.ndarray]:
    """First and last event time of each customer (epoch seconds)."""
    is_human = sim.events["actor"].to_numpy() == 0
    customer = sim.events["customer"].to_numpy()[is_human]
    event_time = sim.events["event_time"].to_numpy()[is_human]
    first_seen = np.full(len(sim.customers), sim.window.end, dtype=np.int64)
    np.minimum.at(first_seen, customer, event_time)
    last_seen = np.full(len(sim.customers), sim.window.start, dtype=np.int64)
    np.maximum.at(last_seen, customer, event_time)
    return first_seen, last_seen


def generate(
    n_customers: int = 2000, days: int = 120, random_state: int = 42, end_date: date | str = DEFAULT_END_DATE
) -> GeneratedData:
    """Generate the raw tables and their ground truth; same arguments, same data."""
    end_date = _check_arguments(n_customers, days, random_state, end_date)
    window = Window.ending(end_date, days)
    sim = _simulate(n_customers, window, random_state)

    deleted, opted_out = _choose_privacy(n_customers, component_rng(random_state, "privacy"))
    columns, reasons, kinds, counts = _dirty_events(
        sim.events, sim.devices, sim.sessions, campaign_vocabulary(window), deleted, random_state)
    first_seen, last_seen = _seen(sim)
    # Some customers with events have no customer record; deleted customers always have one.
    missing = component_rng(random_state, "missing-customers").random(n_customers) < MISSING_CUSTOMER_SHARE
    missing[deleted] = False
    customers_raw, customer_counts = customers_table(sim.customers, first_seen, missing, window,
                                                     component_rng(random_state, "customers-raw"))
    counts.update(customer_counts)
    counts.update(privacy_delete_requests=len(deleted), privacy_opt_out_requests=len(opted_out))

    tables = {
        "events": render.to_frame(columns),
        "customers": customers_raw,
        "products": sim.catalog[list(RAW_TABLES["products"].columns)].reset_index(drop=True),
        "email_events": side_tables.email_events(sim.customers, window, component_rng(random_state, "email")),
        "promotion_responses": side_tables.promotion_responses(sim.customers, window,
                                                               component_rng(random_state, "promotions")),
        "experiment_assignments": side_tables.experiment_assignments(sim.assignments),
        "recommendation_impressions": side_tables.recommendation_impressions(
            sim.visits, sim.assignments, sim.catalog, n_customers, window, component_rng(random_state, "impressions")),
        "privacy_requests": side_tables.privacy_requests(deleted, opted_out, last_seen, window,
                                                         component_rng(random_state, "privacy-at")),
    }
    truth = {
        "personas": _personas_truth(sim.customers, sim.events, missing, deleted, opted_out),
        "event_reasons": pd.DataFrame({
            "event_id": pd.arrays.ArrowStringArray(columns["event_id"]),
            "loaded_at": pd.arrays.ArrowStringArray(columns["loaded_at"]),
            "expected_reason": pd.arrays.ArrowStringArray(reasons),
            "dirt_kind": pd.arrays.ArrowStringArray(kinds),
        }),
        "identities": _identities_truth(sim.events, sim.devices),
        "experiments": experiments_truth(window),
    }
    counts.update({f"rows_{name}": len(frame) for name, frame in tables.items()})
    params = _params(n_customers, days, random_state, end_date, window, counts)
    return GeneratedData(tables, truth, params, counts)


def _dirty_events(
    state: pd.DataFrame, devices: pd.DataFrame, visits: pd.DataFrame, campaigns: tuple[str, ...],
    deleted: np.ndarray, random_state: int,
) -> tuple[dict[str, pa.Array], pa.Array, pa.Array, dict[str, int]]:
    """Render the events with their dirt.

    Returns the raw text columns in file order (by load time, then event time; a duplicate
    right after its original), the expected reason and dirt kind of every row, and the number
    of rows per dirt kind."""
    event_type = state["event_type"].to_numpy()
    customer = state["customer"].to_numpy()
    device = state["device"].to_numpy()
    actor = state["actor"].to_numpy()
    event_time = state["event_time"].to_numpy()
    is_human = actor == 0
    deleted_row = is_human & np.isin(customer, deleted)

    # The first logged-in row of a device decides its stitching: keep it clean.
    logged = np.flatnonzero(is_human & state["logged_in"].to_numpy() & (device >= 0))
    eligible = is_human & ~deleted_row & (event_type != RETURN)
    eligible[_first_rows(device, event_time, logged)] = False
    chosen = dirt.choose_dirt(event_type, state["product"].to_numpy(), eligible,
                              component_rng(random_state, "dirt"))

    loaded = state["loaded_at"].to_numpy().copy()
    late = chosen["late_event"]
    loaded[late] = dirt.late_load_times(event_time[late], component_rng(random_state, "late"))
    columns = render.events_text(state.assign(loaded_at=loaded), devices, visits, campaigns,
                                 component_rng(random_state, "render"))
    columns = dirt.apply_dirt(columns, chosen, loaded, component_rng(random_state, "dirt-values"))

    reason = np.full(len(state), -1, dtype=np.int64)
    kind = np.full(len(state), -1, dtype=np.int64)
    reason[deleted_row] = REASON_CODES.index("privacy_deleted")
    kind[deleted_row] = DIRT_KIND_NAMES.index("privacy_delete")
    for code, name in ((bots_module.UA_BOT, "ua_bot"), (bots_module.RATE_BOT, "rate_bot")):
        reason[actor == code] = REASON_CODES.index("bot_traffic")
        kind[actor == code] = DIRT_KIND_NAMES.index(name)
    copied = ("exact_duplicate", "replay")
    for spec in dirt.DIRT_KINDS:
        if spec.kind not in copied:  # a duplicated original stays clean; its copy is the dirt
            kind[chosen[spec.kind]] = DIRT_KIND_NAMES.index(spec.kind)
            reason[chosen[spec.kind]] = REASON_CODES.index(spec.reason) if spec.reason else -1

    exact, replay = chosen["exact_duplicate"], chosen["replay"]
    copy_rows = np.r_[exact, replay]
    copy_loaded = np.r_[loaded[exact], dirt.replay_load_times(loaded[replay], component_rng(random_state, "replay"))]
    copies = {name: array.take(pa.array(copy_rows)) for name, array in columns.items()}
    copies["loaded_at"] = render.time_text(copy_loaded)
    reason = np.r_[reason, np.full(len(copy_rows), REASON_CODES.index("duplicate_event"))]
    kind = np.r_[kind, np.full(len(exact), DIRT_KIND_NAMES.index("exact_duplicate")),
                 np.full(len(replay), DIRT_KIND_NAMES.index("replay"))]

    base = np.r_[np.arange(len(state)), copy_rows]
    is_copy = np.r_[np.zeros(len(state), dtype=bool), np.ones(len(copy_rows), dtype=bool)]
    order = np.lexsort((is_copy, base, event_time[base], np.r_[loaded, copy_loaded]))
    take = pa.array(order)
    # Column by column, releasing each input as soon as it is reordered (keeps peak memory low).
    final = {name: pa.concat_arrays([columns.pop(name), copies.pop(name)]).take(take) for name in list(columns)}
    counts = {f"dirt_{name}": int(n) for name, n in zip(
        DIRT_KIND_NAMES, np.bincount(kind[kind >= 0], minlength=len(DIRT_KIND_NAMES)), strict=True)}
    counts["rows_events_quarantine_expected"] = int((reason >= 0).sum())
    return (final, render.vocabulary_text(reason[order], REASON_CODES),
            render.vocabulary_text(kind[order], DIRT_KIND_NAMES), counts)


def _personas_truth(customers: pd.DataFrame, state: pd.DataFrame, missing: np.ndarray, deleted: np.ndarray,
                    opted_out: np.ndarray) -> pd.DataFrame:
    """One row per customer: true persona, whether the customer has a customer record, their
    privacy request and whether they browsed anonymously before logging in."""
    request = np.full(len(customers), None, dtype=object)
    request[deleted] = "delete"
    request[opted_out] = "opt_out"
    human = (state["actor"].to_numpy() == 0) & (state["device"].to_numpy() >= 0)
    anonymous = human & ~state["logged_in"].to_numpy()
    return pd.DataFrame({
        "customer_id": customers["customer_id"].to_numpy(),
        "persona": persona_names(customers["persona"].to_numpy()),
        "in_customers_table": ~missing,
        "privacy_request": request,
        "anonymous_first": np.bincount(state["customer"].to_numpy()[anonymous], minlength=len(customers)) > 0,
    })


def _identities_truth(state: pd.DataFrame, devices: pd.DataFrame) -> pd.DataFrame:
    """One row per human device seen in events: its customer and first logged-in event time."""
    device = state["device"].to_numpy()
    event_time = state["event_time"].to_numpy()
    logged = np.flatnonzero((state["actor"].to_numpy() == 0) & state["logged_in"].to_numpy() & (device >= 0))
    first = _first_rows(device, event_time, logged)
    owner = devices["customer"].to_numpy()[device[first]]
    order = np.lexsort((event_time[first], owner))
    first, owner = first[order], owner[order]
    return pd.DataFrame({
        "anonymous_id": render.id_text("A", devices["anonymous_number"].to_numpy()[device[first]], 8).to_pandas(),
        "customer_id": render.id_text("C", owner + 1, 7).to_pandas(),
        "first_login_at": pd.to_datetime(event_time[first], unit="s"),
    })


def _params(n_customers: int, days: int, random_state: int, end_date: date, window: Window,
            counts: dict[str, int]) -> dict:
    """Arguments, rates and vocabularies of a run (written as ``_truth/params.json``)."""
    return {
        "arguments": {
            "customers": n_customers, "days": days, "random_state": random_state, "end_date": end_date.isoformat(),
        },
        "window": {"start": pd.Timestamp(window.start, unit="s").isoformat(),
                   "end_exclusive": pd.Timestamp(window.end, unit="s").isoformat()},
        "personas": [dataclasses.asdict(p) for p in PERSONAS],
        "countries": {code: {"name": name, "currency": currency, "utc_offset_hours": offset, "region": region}
                      for code, (name, currency, offset, region) in COUNTRIES.items()},
        "currency_rates_to_usd": CURRENCY_RATES,
        "event_type_aliases": EVENT_TYPE_ALIASES,
        "device_type_spellings": {t: list(s) for t, s in DEVICE_SPELLINGS.items()},
        "bot_user_agents": list(BOT_USER_AGENTS),
        "bot_user_agent_substrings": list(BOT_USER_AGENT_SUBSTRINGS),
        "promotions": PROMOTIONS,
        "strategy_ctr": STRATEGY_CTR,
        "experiments": [dataclasses.asdict(e) for e in EXPERIMENTS],
        "dirt": [dataclasses.asdict(d) for d in dirt.DIRT_KINDS],
        "shares": {"event_type_alias": render.ALIAS_SHARE, "event_time_z_suffix": render.Z_SUFFIX_SHARE,
                   "event_time_offset": render.OFFSET_SHARE, "privacy_delete": DELETE_SHARE,
                   "privacy_opt_out": OPT_OUT_SHARE, "customers_missing": MISSING_CUSTOMER_SHARE},
        "counts": counts,
    }


def write(data: GeneratedData, out_dir: str | Path) -> list[Path]:
    """Write the raw tables to ``out_dir`` and the truth to ``out_dir/_truth``; same data, same bytes."""
    out_dir = Path(out_dir)
    paths = [write_raw_table(frame, name, out_dir) for name, frame in data.tables.items()]
    truth_dir = out_dir / TRUTH_DIR
    truth_dir.mkdir(parents=True, exist_ok=True)
    for name, frame in data.truth.items():
        path = truth_dir / f"{name}.parquet"
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path, compression="zstd")
        paths.append(path)
    params = truth_dir / "params.json"
    params.write_text(json.dumps(data.params, indent=2, sort_keys=True) + "\n")
    return [*paths, params]
