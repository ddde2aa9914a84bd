"""The synthetic data generator (`segrec generate`): determinism, the committed sample, the
persona structure, injected dirt and its expected reasons, identities, sessions and side tables.

Most tests use one tiny dataset (200 customers, 30 days); the sample tests read the committed
`data/sample` (2000 customers, 120 days)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score
from sklearn.preprocessing import StandardScaler

from segrec import cli
from segrec.contract import EVENT_TYPES, PRODUCT_EVENT_TYPES, RAW_TABLES, REASON_CODES
from segrec.errors import SegrecError
from segrec.generate import generate, write
from segrec.generate.dataset import DIRT_KIND_NAMES
from segrec.generate.dirt import DIRT_KINDS
from segrec.generate.personas import PERSONA_IDS, assign_personas
from segrec.generate.reference import COUNTRIES, CURRENCY_RATES, EVENT_TYPE_ALIASES, TAXONOMY
from segrec.rawio import read_raw_table

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SAMPLE = PROJECT_ROOT / "data" / "sample"
SMALL = {"n_customers": 200, "days": 30, "random_state": 7}
FUTURE_TOLERANCE = pd.Timedelta(minutes=60)  # the future_tolerance_minutes default


@pytest.fixture(scope="module")
def small_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("generated")
    write(generate(**SMALL), out)
    return out


def _read(folder: Path) -> dict[str, pd.DataFrame]:
    """Raw tables and truth tables (as ``truth_<name>``) of a generated folder."""
    tables = {name: read_raw_table(folder, name) for name in RAW_TABLES}
    for name in ("personas", "event_reasons", "identities", "experiments"):
        tables[f"truth_{name}"] = pd.read_parquet(folder / "_truth" / f"{name}.parquet")
    return tables


@pytest.fixture(scope="module")
def small(small_dir: Path) -> dict[str, pd.DataFrame]:
    return _read(small_dir)


@pytest.fixture(scope="module")
def sample() -> dict[str, pd.DataFrame]:
    if not (SAMPLE / "events.parquet").is_file():
        pytest.fail(f"the committed sample is missing in {SAMPLE}: run `make sample`")
    return _read(SAMPLE)


def _hashes(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _is(column: pd.Series, value: str) -> np.ndarray:
    """Row mask of ``column == value`` with nulls counted as not equal."""
    return (column == value).fillna(False).to_numpy(dtype=bool)


def _blank(column: pd.Series) -> pd.Series:
    return (column.isna() | (column.str.strip() == "")).astype(bool)


def _event_time(events: pd.DataFrame) -> pd.Series:
    return pd.to_datetime(events["event_time"], utc=True, format="ISO8601", errors="coerce")


def _loaded_at(events: pd.DataFrame) -> pd.Series:
    return pd.to_datetime(events["loaded_at"], format="%Y-%m-%dT%H:%M:%S", errors="coerce").dt.tz_localize("UTC")


def _canonical_type(events: pd.DataFrame, aliases: dict[str, str]) -> pd.Series:
    def key(text: pd.Series) -> pd.Series:
        return text.fillna("").str.lower().str.replace(r"[\s_-]", "", regex=True)

    names = pd.Series(list(EVENT_TYPES) + list(aliases), dtype="string")
    lookup = dict(zip(key(names), list(EVENT_TYPES) + list(aliases.values()), strict=True))
    return key(events["event_type"]).map(lookup)


def _stitch(events: pd.DataFrame, event_time: pd.Series) -> pd.Series:
    """anonymous_id -> customer_id of its earliest row carrying both (cleaning-rules.md)."""
    both = ~_blank(events["customer_id"]) & ~_blank(events["anonymous_id"]) & event_time.notna()
    rows = events.loc[both, ["anonymous_id", "customer_id", "event_id"]].assign(t=event_time[both])
    first = rows.sort_values(["t", "event_id"], kind="stable").drop_duplicates("anonymous_id")
    return first.set_index("anonymous_id")["customer_id"]


def _classify(raw_dir: Path) -> pd.Series:
    """An independent implementation of docs/cleaning-rules.md: the reason of every raw row."""
    events = read_raw_table(raw_dir, "events")
    params = json.loads((raw_dir / "_truth" / "params.json").read_text())
    privacy = read_raw_table(raw_dir, "privacy_requests")
    deleted = set(privacy.loc[privacy["request_type"] == "delete", "customer_id"])
    event_time, loaded_at = _event_time(events), _loaded_at(events)
    event_type = _canonical_type(events, params["event_type_aliases"])
    customer = events["customer_id"].where(~_blank(events["customer_id"]))
    device = events["anonymous_id"].where(~_blank(events["anonymous_id"]))
    stitched = device.map(_stitch(events, event_time))

    load_order = np.lexsort((np.arange(len(events)), loaded_at.isna().to_numpy(),
                             loaded_at.fillna(pd.Timestamp.max.tz_localize("UTC")).to_numpy()))
    missing_id = _blank(events["event_id"])
    repeated = pd.Series(False, index=events.index)
    repeated.iloc[load_order] = events["event_id"].iloc[load_order].duplicated().to_numpy()
    order_event = event_type.isin(["purchase", "return"])
    quantity = pd.to_numeric(events["quantity"], errors="coerce")
    price = pd.to_numeric(events["unit_price"], errors="coerce")
    currency = events["currency"].str.strip().str.upper()
    rules = [
        ("privacy_deleted", customer.isin(deleted) | stitched.isin(deleted)),
        ("missing_event_id", missing_id),
        ("duplicate_event", repeated & ~missing_id),
        ("invalid_event_time", event_time.isna()),
        ("future_event_time", loaded_at.notna() & (event_time > loaded_at + FUTURE_TOLERANCE)),
        ("unknown_event_type", event_type.isna()),
        ("missing_identity", customer.isna() & device.isna()),
        ("missing_product", (event_type.isin(PRODUCT_EVENT_TYPES) & _blank(events["product_id"]))
         | (order_event & _blank(events["product_id"]) & _blank(events["order_id"]))),
        ("invalid_quantity", order_event & events["quantity"].notna() & ~(quantity > 0).fillna(False)),
        ("invalid_price", order_event & ~(price > 0).fillna(False)),
        ("unknown_currency", order_event & currency.notna() & ~currency.isin(list(CURRENCY_RATES))),
    ]
    reason = pd.Series(None, index=events.index, dtype="object")
    for code, applies in rules:
        reason[reason.isna() & applies.fillna(False).astype(bool)] = code
    actor = device.fillna(customer)
    agents = events["user_agent"].fillna("").str.lower()
    by_agent = agents.str.contains("|".join(params["bot_user_agent_substrings"]), regex=True)
    per_minute = pd.DataFrame({"actor": actor, "minute": event_time.dt.floor("min")})[reason.isna()]
    counts = per_minute.value_counts()
    bots = set(actor[by_agent].dropna()) | set(counts[counts > 20].index.get_level_values("actor"))
    reason[reason.isna() & actor.isin(bots)] = "bot_traffic"
    return reason


# Determinism and the committed sample


def test_same_arguments_give_byte_identical_files(small_dir: Path, tmp_path: Path) -> None:
    write(generate(**SMALL), tmp_path)
    assert _hashes(tmp_path) == _hashes(small_dir)


def test_another_random_state_gives_other_data(small_dir: Path, tmp_path: Path) -> None:
    write(generate(**{**SMALL, "random_state": SMALL["random_state"] + 1}), tmp_path)
    before, after = _hashes(small_dir), _hashes(tmp_path)
    for name in ("events.parquet", "customers.parquet", "_truth/personas.parquet"):
        assert before[name] != after[name], name


def test_default_command_reproduces_the_committed_sample(tmp_path: Path) -> None:
    committed = _hashes(SAMPLE)
    assert "events.parquet" in committed and "_truth/event_reasons.parquet" in committed
    code = cli.main(
        ["generate", "--customers", "2000", "--days", "120", "--random-state", "42", "--out", str(tmp_path)]
    )
    assert code == 0
    assert _hashes(tmp_path) == committed


def test_bad_arguments_fail_with_a_clear_message(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SegrecError, match="--customers"):
        generate(n_customers=0)
    with pytest.raises(SegrecError, match="--days"):
        generate(days=0)
    with pytest.raises(SegrecError, match="--end-date"):
        generate(end_date="2026-02-30")
    assert cli.main(["generate", "--customers", "-5", "--out", str(tmp_path)]) == 2
    assert "--customers must be between" in capsys.readouterr().err


# Raw contract


def test_raw_files_follow_the_contract(small_dir: Path) -> None:
    for name, spec in RAW_TABLES.items():
        schema = pq.read_schema(small_dir / f"{name}.parquet")
        assert tuple(schema.names) == spec.columns, name
        assert all(field.type == pa.string() for field in schema), name


def test_clean_event_values_are_well_formed(small: dict[str, pd.DataFrame]) -> None:
    events, truth = small["events"], small["truth_event_reasons"]
    clean = events[truth["expected_reason"].isna().to_numpy()]
    patterns = {"event_id": r"E\d{9}", "customer_id": r"C\d{7}", "anonymous_id": r"A\d{8}",
                "session_id": r"S\d{8}", "product_id": r"P\d{5}", "order_id": r"O\d{8}"}
    for column, pattern in patterns.items():
        values = clean[column].dropna()
        assert len(values) and values.str.fullmatch(pattern).all(), column
    assert clean["event_id"].is_unique
    assert _event_time(clean).notna().all()
    formats = clean["event_time"].str.extract(r"(Z|[+-]\d\d:\d\d)$")[0].fillna("naive").value_counts()
    assert set(formats.index) >= {"naive", "Z"} and formats.index.str.match(r"[+-]").any()
    assert formats["naive"] > 0.9 * len(clean)
    assert set(clean["currency"].dropna()) <= set(CURRENCY_RATES)
    assert set(clean["channel"].dropna()) == {"organic", "paid_search", "email", "social", "direct", "referral"}


def test_loads_follow_events(small: dict[str, pd.DataFrame]) -> None:
    events, truth = small["events"], small["truth_event_reasons"]
    delay = _loaded_at(events) - _event_time(events)
    on_time = truth["dirt_kind"].isna().to_numpy()
    assert (delay[on_time] > pd.Timedelta(0)).all() and (delay[on_time] <= pd.Timedelta(hours=2)).all()
    late = _is(truth["dirt_kind"], "late_event")
    assert late.any()
    assert (delay[late] >= pd.Timedelta(days=2)).all() and (delay[late] <= pd.Timedelta(days=10)).all()
    # A replay is the same row loaded again 1-3 days after the first load.
    replays = events[_is(truth["dirt_kind"], "replay")]
    first = events.drop_duplicates("event_id").set_index("event_id")["loaded_at"]
    later = pd.to_datetime(replays["loaded_at"]) - pd.to_datetime(replays["event_id"].map(first))
    assert len(later) and later.between(pd.Timedelta(days=1), pd.Timedelta(days=4)).all()
    # Hourly batches: every row of a load shares its loaded_at, a few minutes past the hour.
    assert events["loaded_at"].str.slice(14, 16).astype(int).between(3, 9).all()


# Personas


def test_persona_shares_are_exact_and_uneven(small: dict[str, pd.DataFrame]) -> None:
    # 7 customers: floors (0,1,1,1,0,0) plus the 4 largest remainders (.98, .98, .84, .54).
    assert np.bincount(assign_personas(7, np.random.default_rng(0)), minlength=6).tolist() == [1, 2, 1, 1, 1, 1]
    counts = small["truth_personas"]["persona"].value_counts().to_dict()
    assert counts == {"luxury_seeker": 24, "bargain_hunter": 44, "trend_browser": 36,
                      "frequent_replenisher": 40, "urban_mobile_high_value": 28, "occasional_gifter": 28}
    assert set(counts) == set(PERSONA_IDS)


def _behaviour(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Simple per-customer behavioural features from clean events (shares and rates)."""
    events = tables["events"][tables["truth_event_reasons"]["expected_reason"].isna().to_numpy()]
    owner = events["anonymous_id"].map(tables["truth_identities"].set_index("anonymous_id")["customer_id"])
    events = events.assign(customer=events["customer_id"].fillna(owner))
    products = tables["products"].set_index("product_id")
    top = events["product_id"].map(products["category_path"]).str.split(" > ").str[0]
    offset = events["country"].str.upper().map({c: v[2] for c, v in COUNTRIES.items()}).to_numpy(dtype=int)
    hour = pd.Series((_event_time(events).dt.hour.to_numpy(dtype=int) + offset) % 24, index=events.index)
    daypart = pd.cut(hour, [-1, 5, 11, 17, 23], labels=["night", "morning", "afternoon", "evening"])
    device = events["device_type"].str.lower().map({"mobile": "mobile", "smartphone": "mobile", "desktop":
                                                    "desktop", "pc": "desktop", "tablet": "tablet", "ipad": "tablet"})
    grouped = events.groupby("customer")
    sessions = grouped["session_id"].nunique()
    purchase = events["event_type"].str.lower().isin(["purchase", "transaction", "purchasecomplete"])
    value = pd.to_numeric(events["quantity"]) * pd.to_numeric(events["unit_price"]) * events["currency"].map(
        CURRENCY_RATES)
    orders = events[purchase].groupby("customer")["order_id"].nunique()
    features = pd.DataFrame({
        "visits": np.log1p(sessions),
        "conversion": orders.reindex(sessions.index, fill_value=0) / sessions,
        "order_value": np.log1p(value[purchase].groupby(events["customer"]).sum().reindex(
            sessions.index, fill_value=0) / orders.reindex(sessions.index, fill_value=1)),
        "events_per_visit": grouped.size() / sessions,
    })
    for name, column in (("device", device), ("daypart", daypart), ("top", top)):
        shares = pd.crosstab(events["customer"], column, normalize="index").add_prefix(f"{name}_")
        features = features.join(shares)
    return features.fillna(0.0)


def test_kmeans_recovers_the_personas_from_behaviour(sample: dict[str, pd.DataFrame]) -> None:
    features = _behaviour(sample)
    persona = sample["truth_personas"].set_index("customer_id")["persona"].reindex(features.index)
    labels = KMeans(n_clusters=6, n_init=10, random_state=0).fit_predict(StandardScaler().fit_transform(features))
    assert adjusted_rand_score(persona, labels) >= 0.8


# Dirt and expected reasons


def test_every_dirt_kind_is_present_with_its_reason(small: dict[str, pd.DataFrame]) -> None:
    events, truth = small["events"], small["truth_event_reasons"]
    assert set(truth["dirt_kind"].dropna()) == set(DIRT_KIND_NAMES)
    assert set(truth["expected_reason"].dropna()) == set(REASON_CODES)
    expected = {"privacy_delete": "privacy_deleted", "ua_bot": "bot_traffic", "rate_bot": "bot_traffic"}
    expected |= {spec.kind: spec.reason for spec in DIRT_KINDS}
    for kind, reason in expected.items():
        reasons = set(truth.loc[_is(truth["dirt_kind"], kind), "expected_reason"].fillna("clean"))
        assert reasons == {reason or "clean"}, kind
    assert truth.loc[truth["dirt_kind"].isna(), "expected_reason"].isna().all()
    for spec in DIRT_KINDS:  # every spelling of a kind's bad value occurs
        rows = events[_is(truth["dirt_kind"], spec.kind)]
        for column in spec.columns:
            written = set(rows[column].fillna("<null>"))
            assert written == {v if v is not None else "<null>" for v in spec.values}, (spec.kind, column)


def test_cleaning_rules_reproduce_the_expected_reasons(small_dir: Path, small: dict[str, pd.DataFrame]) -> None:
    classified = _classify(small_dir).fillna("clean")
    expected = small["truth_event_reasons"]["expected_reason"].fillna("clean")
    mismatched = (classified != expected).to_numpy()
    assert not mismatched.any(), pd.crosstab(classified[mismatched], expected[mismatched])


def test_truth_rows_align_with_raw_rows(small: dict[str, pd.DataFrame]) -> None:
    events, truth = small["events"], small["truth_event_reasons"]
    assert len(truth) == len(events)
    assert truth["event_id"].fillna("").equals(events["event_id"].fillna(""))
    assert truth["loaded_at"].equals(events["loaded_at"])


def test_duplicates_copy_an_earlier_clean_row(small: dict[str, pd.DataFrame]) -> None:
    events, truth = small["events"], small["truth_event_reasons"]
    copies = events[_is(truth["expected_reason"], "duplicate_event")]
    originals = events[truth["expected_reason"].isna().to_numpy() & events["event_id"].isin(copies["event_id"])]
    assert originals["event_id"].is_unique and set(originals["event_id"]) == set(copies["event_id"])
    original_row = pd.Series(originals.index, index=originals["event_id"])
    assert (copies.index > copies["event_id"].map(original_row)).all()  # the copy comes later in the file
    for kind, same in (("exact_duplicate", list(events.columns)),
                       ("replay", [c for c in events.columns if c != "loaded_at"])):
        rows = copies[_is(truth.loc[copies.index, "dirt_kind"], kind)]
        assert len(rows) and len(rows.merge(originals, on=same)) == len(rows), kind


def test_human_rates_stay_below_ten_per_minute_and_rate_bots_burst(small: dict[str, pd.DataFrame]) -> None:
    events, truth = small["events"], small["truth_event_reasons"]
    per_minute = pd.DataFrame({
        "actor": events["anonymous_id"].fillna(events["customer_id"]),
        "minute": _event_time(events).dt.floor("min"), "kind": truth["dirt_kind"].fillna("human"),
    }).dropna()
    peak = per_minute.groupby(["kind", "actor", "minute"]).size().groupby(["kind", "actor"]).max()
    bot_kinds = ["ua_bot", "rate_bot"]
    assert peak.drop(bot_kinds, level="kind").max() <= 10
    assert peak.loc["rate_bot"].min() > 40
    assert peak.loc["ua_bot"].max() <= 20  # crawlers are slow: only their user agent gives them away
    crawler_agents = events.loc[_is(truth["dirt_kind"], "ua_bot"), "user_agent"].str.lower()
    assert crawler_agents.str.contains("googlebot|python-requests|headlesschrome").all()
    bots = events[truth["dirt_kind"].isin(bot_kinds).to_numpy()]
    assert bots["customer_id"].isna().all() and bots["anonymous_id"].notna().all()


def test_deleted_customers_lose_every_row_including_anonymous_ones(small: dict[str, pd.DataFrame]) -> None:
    events, truth, personas = small["events"], small["truth_event_reasons"], small["truth_personas"]
    deleted = set(personas.loc[personas["privacy_request"] == "delete", "customer_id"])
    devices = small["truth_identities"].set_index("anonymous_id")["customer_id"]
    owner = events["customer_id"].fillna(events["anonymous_id"].map(devices))
    rows = owner.isin(deleted).to_numpy()
    assert rows.any() and (events.loc[rows, "customer_id"].isna()).any()  # pre-login rows included
    assert _is(truth.loc[rows, "expected_reason"], "privacy_deleted").all()
    assert _is(truth["expected_reason"], "privacy_deleted").sum() == rows.sum()
    requests = small["privacy_requests"]
    assert set(requests.loc[requests["request_type"] == "delete", "customer_id"]) == deleted
    assert (requests["request_type"] == "opt_out").any()


# Identities and sessions


def test_identities_match_the_stitching_rule(small: dict[str, pd.DataFrame]) -> None:
    events, identities = small["events"], small["truth_identities"]
    event_time = _event_time(events)
    stitched = _stitch(events, event_time)
    assert identities["anonymous_id"].is_unique
    assert stitched.to_dict() == identities.set_index("anonymous_id")["customer_id"].to_dict()
    both = ~_blank(events["customer_id"]) & ~_blank(events["anonymous_id"])
    assert events[both].groupby("anonymous_id")["customer_id"].nunique().max() == 1  # no shared device
    first_login = events[both].assign(t=event_time[both]).groupby("anonymous_id")["t"].min()
    expected = identities.set_index("anonymous_id")["first_login_at"].dt.tz_localize("UTC")
    assert (first_login.reindex(expected.index) == expected).all()
    assert identities.groupby("customer_id").size().max() <= 3


def test_anonymous_browsing_precedes_the_login(small: dict[str, pd.DataFrame]) -> None:
    events, truth, identities = small["events"], small["truth_event_reasons"], small["truth_identities"]
    bots = truth["dirt_kind"].isin(["ua_bot", "rate_bot"]).to_numpy()
    anonymous = events[~bots & _blank(events["customer_id"]).to_numpy() & ~_blank(events["anonymous_id"]).to_numpy()]
    login = identities.set_index("anonymous_id")["first_login_at"].dt.tz_localize("UTC")
    assert anonymous["anonymous_id"].isin(login.index).all()
    clean = anonymous[truth.loc[anonymous.index, "dirt_kind"].isna().to_numpy()]
    assert (_event_time(clean) < clean["anonymous_id"].map(login)).all()
    personas = small["truth_personas"]
    owners = set(anonymous["anonymous_id"].map(identities.set_index("anonymous_id")["customer_id"]))
    assert owners == set(personas.loc[personas["anonymous_first"], "customer_id"])
    assert 0.2 < personas["anonymous_first"].mean() < 0.4


def test_source_sessions_are_clear_under_the_30_minute_rule(small: dict[str, pd.DataFrame]) -> None:
    events, truth, identities = small["events"], small["truth_event_reasons"], small["truth_identities"]
    # Human sessions where no row's time was made invalid or future (other dirt keeps the time).
    altered = truth["dirt_kind"].isin(["invalid_event_time", "future_event_time", "ua_bot", "rate_bot"])
    kept = ~events["session_id"].isin(events.loc[altered.to_numpy(), "session_id"].dropna())
    clean = events[kept.to_numpy() & events["session_id"].notna().to_numpy()]
    clean = clean.assign(t=_event_time(clean), customer=clean["customer_id"].fillna(
        clean["anonymous_id"].map(identities.set_index("anonymous_id")["customer_id"])).fillna(
        clean["anonymous_id"]))
    clean = clean.sort_values(["session_id", "t"])
    gaps = clean.groupby("session_id")["t"].diff().dropna()
    assert gaps.max() <= pd.Timedelta(minutes=4)
    bounds = clean.groupby(["customer", "session_id"])["t"].agg(["min", "max"]).sort_values(["customer", "min"])
    between = bounds["min"] - bounds.groupby(level="customer")["max"].shift()
    assert between.dropna().min() > pd.Timedelta(minutes=30)


# Orders


def test_order_lines_returns_and_prices_are_consistent(small: dict[str, pd.DataFrame]) -> None:
    events, truth = small["events"], small["truth_event_reasons"]
    clean = events[truth["expected_reason"].isna().to_numpy()]
    kind = _canonical_type(clean, EVENT_TYPE_ALIASES)
    lines = clean[(kind == "purchase").to_numpy() & clean["product_id"].notna().to_numpy()]
    usd = lines["product_id"].map(pd.to_numeric(small["products"].set_index("product_id")["price"]))
    rate = lines["currency"].map(CURRENCY_RATES)
    local = np.where(lines["currency"] == "JPY", np.round(usd / rate, 0), np.round(usd / rate, 2))
    assert len(lines) and np.allclose(pd.to_numeric(lines["unit_price"]), local)
    assert _event_time(lines).groupby(lines["order_id"]).nunique().max() == 1  # one instant per order
    # Every return repeats a purchased line (guest orders too) 2-20 days after the purchase.
    returns = clean[(kind == "return").to_numpy()]
    keys = ["order_id", "product_id", "quantity", "unit_price", "currency"]
    matched = returns.assign(t=_event_time(returns)).reset_index().merge(
        lines.assign(bought=_event_time(lines))[keys + ["bought"]], on=keys)
    delay = (matched["t"] - matched["bought"]).groupby(matched["index"]).max()
    assert len(returns) and delay.index.nunique() == len(returns)
    assert delay.between(pd.Timedelta(days=2), pd.Timedelta(days=20)).all()
    assert returns["customer_id"].notna().all() and returns["anonymous_id"].isna().all()


# Other tables


def test_customers_table_is_messy_but_complete(small: dict[str, pd.DataFrame]) -> None:
    customers, personas = small["customers"], small["truth_personas"]
    listed = set(customers["customer_id"])
    assert listed == set(personas.loc[personas["in_customers_table"], "customer_id"])
    assert not personas["in_customers_table"].all()
    twice = customers[customers["customer_id"].duplicated(keep=False)].sort_values(["customer_id", "updated_at"])
    assert len(twice) and (twice.groupby("customer_id")["city"].nunique() == 2).all()
    assert customers["email"].str.strip().str.lower().groupby(customers["customer_id"]).nunique().max() == 1
    assert (customers["email"] != customers["email"].str.strip()).any()
    assert set(customers["gender"].dropna()) <= {"F", "female", "Female", "f", "M", "Male", "m", "male", ""}
    assert set(customers["marketing_consent"].dropna()) <= {"true", "yes", "1", "Y", "false", "no", "0"}
    assert (customers["birth_date"].isna() & customers["age"].notna()).any()
    assert (customers["birth_date"].isna() & customers["age"].isna()).any()
    names = {v[0] for v in COUNTRIES.values()}
    countries = customers["country"]
    assert countries.isin(list(COUNTRIES)).mean() > 0.7 and countries.isin(names).any()
    assert countries.isin([c.lower() for c in COUNTRIES]).any()


def test_products_span_the_catalog(small: dict[str, pd.DataFrame]) -> None:
    products = small["products"]
    assert len(products) == 300 and products["product_id"].is_unique
    paths = products["category_path"].str.split(" > ")
    assert (paths.str.len() == 3).all() and set(paths.str[0]) == set(TAXONOMY)
    assert (pd.to_numeric(products["cost"]) < pd.to_numeric(products["price"])).all()
    assert set(products["is_active"]) == {"true", "false"}
    launched = pd.to_datetime(products["launched_at"])
    assert (launched > pd.Timestamp("2026-06-01")).any()  # new arrivals in the last 30 days


def test_experiments_truth_and_assignments(small: dict[str, pd.DataFrame]) -> None:
    truth, assignments = small["truth_experiments"], small["experiment_assignments"]
    effects = truth.set_index(["experiment_id", "variant"])["relative_effect"].to_dict()
    assert effects == {("rec_strategy_test", "collaborative"): 0.0, ("rec_strategy_test", "hybrid"): 0.3,
                       ("homepage_aa", "A"): 0.0, ("homepage_aa", "B"): 0.0}
    assert not assignments.duplicated(["experiment_id", "customer_id"]).any()
    window = truth.groupby("experiment_id")[["window_start", "window_end"]].first()
    assigned = pd.to_datetime(assignments["assigned_at"])
    starts = assignments["experiment_id"].map(window["window_start"])
    ends = assignments["experiment_id"].map(window["window_end"])
    assert ((assigned >= starts) & (assigned < ends)).all()


def test_experiment_effect_and_ctr_show_in_the_sample(sample: dict[str, pd.DataFrame]) -> None:
    events = sample["events"][sample["truth_event_reasons"]["expected_reason"].isna().to_numpy()]
    events = events[events["session_id"].notna()]
    bought = events["event_type"].str.lower().isin(["purchase", "transaction", "purchasecomplete"])
    visits = events.assign(bought=bought, t=_event_time(events)).groupby("session_id").agg(
        customer=("customer_id", "last"), start=("t", "min"), bought=("bought", "any"))
    ratios = {}
    for experiment, group in sample["experiment_assignments"].groupby("experiment_id"):
        joined = visits.merge(group, left_on="customer", right_on="customer_id")
        joined = joined[joined["start"] >= pd.to_datetime(joined["assigned_at"]).dt.tz_localize("UTC")]
        rate = joined.groupby("variant")["bought"].mean()
        ratios[experiment] = rate.iloc[1] / rate.iloc[0]  # variants sort as A/B, collaborative/hybrid
        assert 0.45 < (group["variant"] == group["variant"].iloc[0]).mean() < 0.55
    assert 1.1 < ratios["rec_strategy_test"] < 1.6
    assert 0.85 < ratios["homepage_aa"] < 1.15
    impressions = sample["recommendation_impressions"]
    ctr = impressions["clicked_at"].notna().groupby(impressions["strategy"]).mean()
    assert ctr.idxmax() == "hybrid" and ctr.idxmin() == "popularity"


def test_email_and_promotion_rates_follow_personas(sample: dict[str, pd.DataFrame]) -> None:
    persona = sample["truth_personas"].set_index("customer_id")["persona"]
    emails = sample["email_events"]
    counts = pd.crosstab(emails["customer_id"].map(persona), emails["event_type"])
    open_rate = counts["open"] / counts["sent"]
    assert open_rate.idxmax() == "bargain_hunter" and open_rate.idxmin() == "occasional_gifter"
    sent_after_unsubscribe = emails.merge(
        emails[emails["event_type"] == "unsubscribe"][["customer_id", "event_time"]], on="customer_id",
        suffixes=("", "_unsubscribed"))
    assert not ((sent_after_unsubscribe["event_type"] == "sent")
                & (sent_after_unsubscribe["event_time"] > sent_after_unsubscribe["event_time_unsubscribed"])).any()
    offers = sample["promotion_responses"]
    redeemed = offers["redeemed_at"].notna().groupby(offers["customer_id"].map(persona)).mean()
    assert redeemed.idxmax() == "bargain_hunter" and redeemed.idxmin() == "luxury_seeker"
    assert (offers["redeemed_at"].dropna() > offers.loc[offers["redeemed_at"].notna(), "offered_at"]).all()
    assert set(offers["promotion_type"]) == {"discount", "coupon", "bundle", "free_shipping"}


def test_sample_volume_and_dirt_share(sample: dict[str, pd.DataFrame]) -> None:
    truth = sample["truth_event_reasons"]
    assert 40 <= len(truth) / 2000 <= 60  # about 50 events per customer
    assert 0.06 <= truth["dirt_kind"].notna().mean() <= 0.09
    level = sample["events"]
    order_level = level["order_id"].notna() & level["product_id"].isna() & (level["quantity"] == "1")
    assert order_level.any()
