"""The recommendation service on the committed sample: the sample is built and exported once for
this module, then the API is driven with FastAPI's TestClient. Lists of known customers equal
customer_recommendations row for row; unknown ids get the cold-start list flagged as a fallback;
bad input gets a 4xx with a message; POST /events needs the key, checks events, appends them to
the raw folder and re-ranks the visitor's list; a new export is swapped in, a damaged one refused."""

from __future__ import annotations

import json
import math
import shutil
import threading
from datetime import datetime
from pathlib import Path

import duckdb
import pandas as pd
import pytest

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from segrec.exports import export_warehouse  # noqa: E402
from segrec.rawio import read_raw_table  # noqa: E402
from segrec.segmentation.online import CentroidModel, LiveEvent, ProductFacts, update_features  # noqa: E402
from segrec.serve import create_app  # noqa: E402
from segrec.serve.journal import JOURNAL_FOLDER, EventJournal  # noqa: E402
from segrec.serve.store import OPTIONAL_MARTS, SERVED_MARTS  # noqa: E402
from segrec.warehouse import load_json  # noqa: E402

from .dbt_harness import PROJECT_ROOT, SAMPLE, SAMPLE_VARS, DbtProject, built_once, run_tmp  # noqa: E402

pytestmark = pytest.mark.dbt

KEY = "test-key"
HEADERS = {"X-API-Key": KEY}
ITEM_COLUMNS = ["rank", "product_id", "score", "strategy", "reason"]


@pytest.fixture(scope="module")
def sample_build(tmp_path_factory, request) -> DbtProject:
    """The served marts built on the committed sample (models only: their data tests run elsewhere)."""
    root = run_tmp(tmp_path_factory, request.config) / "serve-sample"
    project = DbtProject(raw_dir=SAMPLE, work_dir=root / "build")
    marts = (*SERVED_MARTS, *OPTIONAL_MARTS)
    built_once(root, lambda: project.run("build", "--select", *(f"+{name}" for name in marts),
                                         "--exclude-resource-type", "test", "unit_test", vars=SAMPLE_VARS))
    return project


def export(project: DbtProject, out: Path, db_path: Path | None = None) -> dict:
    manifest = load_json(project.work_dir / "target" / "manifest.json")
    return export_warehouse(db_path or project.db_path, out, manifest, salt=None, allow_demo_salt=True)


@pytest.fixture(scope="module")
def exports(sample_build, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("serve-exports")
    export(sample_build, out)
    return out


@pytest.fixture
def client(exports, tmp_path):
    app = create_app(exports, raw_dir=tmp_path / "raw", project_dir=PROJECT_ROOT, api_key=KEY)
    with TestClient(app) as test_client:
        yield test_client


def customer_ids(project: DbtProject) -> list[str]:
    return project.query("select customer_id from dim_customers where customer_id is not null order by 1")[
        "customer_id"].tolist()


def mart_list(project: DbtProject, customer_id: str, list_type: str) -> list[dict]:
    frame = project.query(
        "select r.rank, r.product_id, r.score, r.strategy, r.reason from customer_recommendations r "
        "join dim_customers c using (customer_key) "
        f"where c.customer_id = '{customer_id}' and r.list_type = '{list_type}' order by r.rank"
    )
    return frame[ITEM_COLUMNS].to_dict("records")


def test_lists_of_known_customers_equal_the_mart(sample_build, client):
    ids = customer_ids(sample_build)
    assert len(ids) > 1000
    expected = sample_build.query(
        "select c.customer_id, r.list_type, r.rank, r.product_id, r.score, r.strategy, r.reason "
        "from customer_recommendations r join dim_customers c using (customer_key) order by all"
    )
    by_list = {key: group[ITEM_COLUMNS].to_dict("records")
               for key, group in expected.groupby(["customer_id", "list_type"], sort=False)}
    # every customer's blended list; the other two for every 10th customer (keeps the test short)
    requests = [(c, "blended") for c in ids] + [(c, t) for c in ids[::10] for t in ("buy_again", "discover")]
    for customer_id, list_type in requests:
        body = client.get(f"/customers/{customer_id}/recommendations", params={"list_type": list_type}).json()
        assert body["fallback"] is False
        assert body["items"] == by_list.get((customer_id, list_type), []), (customer_id, list_type)


def test_n_cuts_the_list_and_the_segment_name_is_the_marts(sample_build, client):
    customer_id = customer_ids(sample_build)[0]
    body = client.get(f"/customers/{customer_id}/recommendations", params={"n": 3}).json()
    assert body["items"] == mart_list(sample_build, customer_id, "blended")[:3]
    segment_name = sample_build.query(
        "select segment_name from customer_recommendations r join dim_customers c using (customer_key) "
        f"where c.customer_id = '{customer_id}' limit 1")["segment_name"][0]
    assert body["segment_name"] == segment_name


def test_lists_carry_the_customers_allocated_strategy(sample_build, client):
    assigned = sample_build.query(
        "select customer_id, strategy, traffic_share, strftime(period_start, '%Y-%m-%d') as period_start "
        "from strategy_assignments join dim_customers using (customer_key) order by customer_id limit 3")
    assert len(assigned) == 3
    for row in assigned.itertuples(index=False):
        body = client.get(f"/customers/{row.customer_id}/recommendations").json()
        # the default var serves none of the shop's strategies: no list type, the blended list
        assert body["allocated_strategy"] == {"strategy": row.strategy, "traffic_share": row.traffic_share,
                                              "list_type": None, "period_start": row.period_start}
        allocated = client.get(f"/customers/{row.customer_id}/recommendations?list_type=allocated").json()
        assert allocated["list_type"] == "blended" and allocated["items"] == body["items"]
    assert client.get("/customers/NEVER-SEEN/recommendations").json()["allocated_strategy"] is None


def test_context_reorders_the_same_products(sample_build, client):
    customer_id = customer_ids(sample_build)[0]
    plain = mart_list(sample_build, customer_id, "blended")
    body = client.get(f"/customers/{customer_id}/recommendations", params={"context": "mobile,evening"}).json()
    assert body["context"] == "mobile,evening"
    assert sorted(i["product_id"] for i in body["items"]) == sorted(i["product_id"] for i in plain)
    assert [i["rank"] for i in body["items"]] == list(range(1, len(plain) + 1))
    scores = [i["score"] for i in body["items"]]
    assert scores == sorted(scores, reverse=True)


def test_unknown_customers_get_the_cold_start_list_flagged(sample_build, client):
    # Without a context the cold-start list ranks active products by how many (visitor, device,
    # daypart) groups touched them; ties by product_id.
    expected = sample_build.query(
        "select e.product_id, count(distinct (e.customer_key, e.device_type, e.daypart)) as n "
        "from fct_events e join dim_products p on e.product_id = p.product_id and p.is_active "
        "where e.event_type in ('product_view', 'add_to_cart', 'remove_from_cart', 'purchase') "
        "group by 1 order by n desc, product_id limit 10")["product_id"].tolist()
    body = client.get("/customers/never-seen-42/recommendations").json()
    assert body["fallback"] is True
    assert [i["product_id"] for i in body["items"]] == expected
    assert {i["strategy"] for i in body["items"]} == {"context_popularity"}
    tablet = client.get("/customers/never-seen-42/recommendations", params={"context": "tablet,night", "n": 5}).json()
    assert tablet["fallback"] is True and len(tablet["items"]) == 5
    assert tablet["items"][0]["reason"] == "Popular on tablet in the night"
    assert client.get("/customers/never-seen-42/recommendations", params={"list_type": "buy_again"}).json()[
        "items"] == []
    segment = client.get("/customers/never-seen-42/segment").json()
    assert segment["fallback"] is True and segment["segment_name"] is None


@pytest.mark.parametrize(("url", "message"), [
    ("/customers/C1/recommendations?n=0", "n: Input should be greater than or equal to 1"),
    ("/customers/C1/recommendations?n=101", "n: Input should be less than or equal to 100"),
    ("/customers/C1/recommendations?n=ten", "n: Input should be a valid integer"),
    ("/customers/C1/recommendations?list_type=popular", "list_type: 'popular' is not one of blended, buy_again"),
    ("/customers/C1/recommendations?context=phone", "context: unknown or repeated value 'phone'"),
    ("/customers/C1/recommendations?context=mobile,desktop", "context: unknown or repeated value 'desktop'"),
    ("/products/P00001/similar?method=magic", "method: 'magic' is not one of cooccurrence, content, als"),
])
def test_bad_input_is_a_422_with_a_message(client, url, message):
    response = client.get(url)
    assert response.status_code == 422
    assert response.json()["detail"].startswith(message)


def test_unknown_product_is_a_404(client):
    response = client.get("/products/NOPE/similar")
    assert response.status_code == 404
    assert response.json()["detail"] == "unknown product_id 'NOPE'"


def test_segment_similar_segments_and_health(sample_build, client):
    customer_id = customer_ids(sample_build)[0]
    row = sample_build.query(
        "select s.segment_id, s.segment_name, s.confidence, p.predicted_value_90d from customer_segments s "
        "join dim_customers c using (customer_key) left join customer_predictions p using (customer_key) "
        f"where s.is_latest_run and c.customer_id = '{customer_id}'").iloc[0]
    body = client.get(f"/customers/{customer_id}/segment").json()
    assert (body["segment_id"], body["segment_name"], body["confidence"]) == (
        row["segment_id"], row["segment_name"], row["confidence"])
    assert body["predicted_value_90d"] == (None if math.isnan(row["predicted_value_90d"])
                                           else row["predicted_value_90d"])
    assert "customer_key" not in body

    product_id = sample_build.query("select product_id from item_similarities order by 1 limit 1")["product_id"][0]
    expected = sample_build.query(
        "select method, rank, similar_product_id, score from item_similarities "
        f"where product_id = '{product_id}' and method = 'content' and rank <= 5 order by rank").to_dict("records")
    assert client.get(f"/products/{product_id}/similar", params={"method": "content", "n": 5}).json()["items"] == \
        expected

    segments = client.get("/segments").json()["segments"]
    assert [s["segment_id"] for s in segments] == sample_build.query(
        "select segment_id from segment_profiles order by 1")["segment_id"].tolist()

    health = client.get("/health").json()
    assert health["status"] == "ok"
    assert health["row_counts"]["customer_recommendations"] == int(
        sample_build.query("select count(*) as n from customer_recommendations")["n"][0])
    assert health["model_versions"]["customer_recommendations"] == sample_build.query(
        "select distinct model_version from customer_recommendations")["model_version"].tolist()


def event(event_id: str, event_type: str, customer_id: str, product_id: str | None, **extra) -> dict:
    return {"event_id": event_id, "event_time": "2026-01-01T10:00:00Z", "event_type": event_type,
            "customer_id": customer_id, "product_id": product_id, **extra}


def test_post_events_needs_the_api_key(client, exports, tmp_path):
    body = {"events": [event("k1", "product_view", "C1", "P00001")]}
    missing = client.post("/events", json=body)
    assert (missing.status_code, missing.json()["detail"]) == (401, "missing X-API-Key header")
    wrong = client.post("/events", json=body, headers={"X-API-Key": "guess"})
    assert (wrong.status_code, wrong.json()["detail"]) == (403, "wrong X-API-Key")
    with TestClient(create_app(exports, raw_dir=tmp_path / "raw", project_dir=PROJECT_ROOT)) as keyless:
        off = keyless.post("/events", json=body, headers=HEADERS)
        assert off.status_code == 403 and "SEGREC_SERVE_API_KEY" in off.json()["detail"]


def test_post_events_limits_the_request_size(client):
    big = client.post("/events", content=b"{" + b" " * 70_000 + b"}", headers=HEADERS)
    assert (big.status_code, big.json()["detail"]) == (413, "request body over 65536 bytes")
    many = client.post("/events", json={"events": [{"event_id": f"m{i}"} for i in range(501)]}, headers=HEADERS)
    assert (many.status_code, many.json()["detail"]) == (413, "at most 500 events per request, got 501")


def test_post_events_rejects_with_reasons_and_writes_nothing(client, tmp_path):
    good = event("ok1", "product_view", "C1", "P00001")
    bad = [
        event("", "product_view", "C1", "P00001"),
        event("b2", "product_view", "C1", "P00001") | {"event_time": "yesterday"},
        event("b3", "product_view", "C1", "P00001") | {"event_time": "2999-01-01T00:00:00"},
        event("b4", "teleport", "C1", "P00001"),
        event("b5", "product_view", None, "P00001"),
        event("b6", "add_to_cart", "C1", None),
        event("b7", "purchase", "C1", "P00001", quantity="-1", unit_price="5"),
        event("b8", "purchase", "C1", "P00001", unit_price="0"),
        event("b9", "purchase", "C1", "P00001", unit_price="5", currency="XYZ"),
        event("b10", "product_view", "C1", "P00001", user_agent="Googlebot/2.1"),
        event("b11", "product_view", "C1", "P00001", produkt="typo"),
        event("ok1", "product_view", "C1", "P00002"),
    ]
    response = client.post("/events", json={"events": [good, *bad]}, headers=HEADERS)
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert detail["message"] == "12 of 13 events rejected; none written"
    assert [(r["index"], r["reason_code"]) for r in detail["rejected"]] == [
        (1, "missing_event_id"), (2, "invalid_event_time"), (3, "future_event_time"), (4, "unknown_event_type"),
        (5, "missing_identity"), (6, "missing_product"), (7, "invalid_quantity"), (8, "invalid_price"),
        (9, "unknown_currency"), (10, "bot_traffic"), (11, "unknown_field"), (12, "duplicate_event"),
    ]
    assert not (tmp_path / "raw" / "events").exists()
    for body in (b"not json", b'{"events": []}', b'{"events": [1]}', b"[]"):
        malformed = client.post("/events", content=body, headers=HEADERS)
        assert malformed.status_code == 422 and malformed.json()["detail"].startswith("body: ")


def test_accepted_events_are_appended_in_the_raw_contract(client, tmp_path):
    events = [event("a1", "productView", "C1", "P00001", device_type="phone"),
              event("a2", "purchase", "C1", "P00002", quantity=2, unit_price=9.5)]
    response = client.post("/events", json={"events": events}, headers=HEADERS)
    assert (response.status_code, response.json()) == (200, {"accepted": 2})
    files = client.app.state.journal.flush()  # the background flush, now
    assert [f.parent for f in files] == [tmp_path / "raw" / "events"]
    assert list((tmp_path / "raw" / "events").glob("*.parquet")) == files
    assert list((tmp_path / "raw" / ".serve-journal").iterdir()) == []
    raw = read_raw_table(tmp_path / "raw", "events").sort_values("event_id").reset_index(drop=True)
    assert raw["event_id"].tolist() == ["a1", "a2"]
    assert raw["event_type"].tolist() == ["productView", "purchase"]  # raw as sent: staging maps aliases
    assert raw["quantity"].isna().tolist() == [True, False] and raw["quantity"][1] == "2"
    assert raw["unit_price"][1] == "9.5" and raw["device_type"][0] == "phone"
    assert raw["loaded_at"].notna().all()
    again = client.post("/events", json={"events": events[:1]}, headers=HEADERS)
    assert again.status_code == 422 and again.json()["detail"]["rejected"][0]["reason_code"] == "duplicate_event"


def test_a_journal_left_by_a_stopped_service_reaches_the_raw_folder(exports, tmp_path):
    raw = tmp_path / "raw"
    journal = EventJournal(raw)
    journal.write([event("j1", "product_view", "C1", "P00001")], datetime(2026, 1, 1, 12, 0, 0))
    journal._handle.close()  # the service stopped without flushing: its process is gone
    left = next((raw / JOURNAL_FOLDER).glob("*.jsonl"))
    left.rename(left.with_name(f"{2**22 + 7}-{left.name.split('-', 1)[1]}"))  # above any pid_max
    create_app(exports, raw_dir=raw, project_dir=PROJECT_ROOT, api_key=KEY)
    recovered = read_raw_table(raw, "events")
    assert recovered[["event_id", "loaded_at"]].values.tolist() == [["j1", "2026-01-01T12:00:00"]]
    assert list((raw / JOURNAL_FOLDER).iterdir()) == []


def best_neighbours(project: DbtProject, product_id: str, exclude: set[str]) -> list[str]:
    """item_similarities' neighbours of one product, best similarity over cooccurrence and content first."""
    frame = project.query(
        "select s.similar_product_id, max(s.score) as score from item_similarities s "
        f"where s.product_id = '{product_id}' and s.method in ('cooccurrence', 'content') "
        "group by 1 order by score desc, similar_product_id")
    return [p for p in frame["similar_product_id"] if p not in exclude | {product_id}]


def test_a_session_reranks_the_visitors_list(sample_build, client):
    customer_id = customer_ids(sample_build)[0]
    published = mart_list(sample_build, customer_id, "discover")
    viewed = published[-1]["product_id"]
    bought = set(p["product_id"] for p in mart_list(sample_build, customer_id, "buy_again"))
    posted = client.post("/events", json={"events": [event("s1", "product_view", customer_id, viewed)]},
                         headers=HEADERS)
    assert posted.status_code == 200
    body = client.get(f"/customers/{customer_id}/recommendations", params={"list_type": "discover"}).json()
    picks = best_neighbours(sample_build, viewed, bought)[:5]
    rest = [i["product_id"] for i in published if i["product_id"] not in picks]
    assert body["session_reranked"] is True
    assert [i["product_id"] for i in body["items"]] == (picks + rest)[:10]
    assert [i["strategy"] for i in body["items"][:5]] == ["session"] * 5
    assert body["items"][0]["reason"] == f"Because you just looked at {viewed}"
    assert not bought & {i["product_id"] for i in body["items"]}

    # a purchase in the session: that product is never proposed again on this visitor's lists
    top = body["items"][0]["product_id"]
    client.post("/events", json={"events": [event("s2", "purchase", customer_id, top, unit_price="3")]},
                headers=HEADERS)
    after = client.get(f"/customers/{customer_id}/recommendations", params={"list_type": "discover"}).json()
    assert top not in {i["product_id"] for i in after["items"]}

    # an unknown visitor's cold-start list is re-ranked the same way
    client.post("/events", json={"events": [event("s3", "add_to_cart", "new-visitor", viewed)]}, headers=HEADERS)
    fresh = client.get("/customers/new-visitor/recommendations").json()
    assert fresh["fallback"] is True and fresh["session_reranked"] is True
    assert [i["product_id"] for i in fresh["items"][:5]] == best_neighbours(sample_build, viewed, set())[:5]


def expected_live_segment(project: DbtProject, customer_key: str | None, live: list[LiveEvent]) -> tuple[int, float]:
    """The segment the warehouse's definitions give, from the marts read here (not the service's)."""
    model = CentroidModel.from_rows(project.query("select * from segment_centroids"))
    rows = project.query(f"select feature, feature_value, as_of_time from customer_segment_features "
                         f"where customer_key = '{customer_key}'")
    products = project.query("select p.product_id, p.price_band, p.launched_at, g.group_feature from dim_products p "
                             "left join product_groups g using (product_id)")
    facts = {r.product_id: ProductFacts(r.price_band, r.launched_at, r.group_feature) for r in products.itertuples()}
    features = update_features(dict(zip(rows["feature"], rows["feature_value"], strict=True)), live, facts,
                               as_of=rows["as_of_time"].iloc[0] if len(rows) else None,
                               now=pd.Timestamp.now("UTC").tz_localize(None))
    return model.assign(features)


def test_live_events_reassign_the_visitors_segment_to_the_nearest_centroid(sample_build, client):
    customer_id = customer_ids(sample_build)[1]
    key = sample_build.query(f"select customer_key from dim_customers where customer_id = '{customer_id}'").iloc[0, 0]
    before = client.get(f"/customers/{customer_id}/segment").json()
    assert before["live"] is False and before["published_segment_id"] == before["segment_id"] is not None
    product = sample_build.query("select product_id from product_groups order by product_id limit 1").iloc[0, 0]
    views = [event(f"live{i}", "product_view", customer_id, product, event_time=f"2026-07-0{i + 1}T01:00:00Z",
                   device_type="Smartphone", country="US") for i in range(5)]
    purchase = event("live-buy", "purchase", customer_id, product, event_time="2026-07-06T01:00:00Z",
                     device_type="Smartphone", country="US", order_id="o-live", quantity="2", unit_price="10",
                     currency="EUR")
    assert client.post("/events", json={"events": [*views, purchase]}, headers=HEADERS).status_code == 200
    after = client.get(f"/customers/{customer_id}/segment").json()
    # by hand: the US is UTC-5, so 01:00Z is 20:00 there (evening); a Smartphone is mobile; 2 x 10 EUR
    # is 21.60 USD (seeds/currency_rates.csv); the five views and the purchase are days apart: 6 sessions
    live = [LiveEvent(pd.Timestamp(f"2026-07-0{i + 1} 01:00"), "product_view", f"live{i}", product, None, "mobile",
                      "evening") for i in range(5)]
    live.append(LiveEvent(pd.Timestamp("2026-07-06 01:00"), "purchase", "live-buy", product, "o-live", "mobile",
                          "evening", 21.6))
    segment_id, confidence = expected_live_segment(sample_build, key, live)
    assert after["live"] is True and after["fallback"] is False
    assert after["published_segment_id"] == before["segment_id"]
    assert (after["segment_id"], after["confidence"]) == (segment_id, pytest.approx(confidence, abs=1e-4))
    names = {s["segment_id"]: s["segment_name"] for s in client.get("/segments").json()["segments"]}
    assert after["segment_name"] == names[segment_id]
    listed = client.get(f"/customers/{customer_id}/recommendations").json()
    assert listed["segment_name"] == names[segment_id]

    # a visitor the build has never seen gets a segment from their live events alone
    client.post("/events", json={"events": [event("new1", "product_view", "brand-new", product,
                                                  event_time="2026-07-01T01:00:00Z", device_type="tablet")]},
                headers=HEADERS)
    fresh = client.get("/customers/brand-new/segment").json()
    new_segment, _ = expected_live_segment(sample_build, None, [LiveEvent(
        pd.Timestamp("2026-07-01 01:00"), "product_view", "new1", product, None, "tablet", "night")])
    assert fresh["live"] is True and fresh["fallback"] is False and fresh["published_segment_id"] is None
    assert fresh["segment_id"] == new_segment

    # events older than the build are in its features already: the published segment stays
    client.post("/events", json={"events": [event("old1", "product_view", customer_ids(sample_build)[2], product)]},
                headers=HEADERS)
    old = client.get(f"/customers/{customer_ids(sample_build)[2]}/segment").json()
    assert old["live"] is False and old["segment_id"] == old["published_segment_id"]


def test_reload_swaps_a_new_export_and_refuses_a_damaged_one(sample_build, exports, tmp_path):
    out = tmp_path / "exports"
    shutil.copytree(exports, out)
    customer_id = customer_ids(sample_build)[0]
    with TestClient(create_app(out, api_key=KEY)) as client:
        before = client.get(f"/customers/{customer_id}/recommendations").json()
        assert before["fallback"] is False
        assert client.post("/reload", headers=HEADERS).json()["reloaded"] is False  # nothing new

        # a second build without this customer: once exported, the customer is a cold start
        db = tmp_path / "second.duckdb"
        shutil.copy(sample_build.db_path, db)
        with duckdb.connect(str(db)) as con:
            con.execute(f"delete from customer_recommendations where customer_key in "
                        f"(select customer_key from dim_customers where customer_id = '{customer_id}')")
        export(sample_build, out, db)
        assert client.get(f"/customers/{customer_id}/recommendations").json() == before  # not yet
        assert client.post("/reload", headers=HEADERS).json()["reloaded"] is True
        assert client.get(f"/customers/{customer_id}/recommendations").json()["fallback"] is True

        # a damaged (or half-written) export is refused; the build loaded before keeps serving
        manifest_before = (out / "manifest.json").read_bytes()
        export(sample_build, out)
        (out / "marts" / "customer_recommendations.parquet").write_bytes(b"PAR1 half written")
        assert (out / "manifest.json").read_bytes() != manifest_before
        refused = client.post("/reload", headers=HEADERS)
        assert refused.status_code == 409
        assert "marts/customer_recommendations.parquet does not match its sha256" in refused.json()["detail"]
        assert client.get(f"/customers/{customer_id}/recommendations").json()["fallback"] is True
        assert "does not match its sha256" in client.get("/health").json()["last_reload_error"]


def test_a_damaged_export_is_not_served_at_start(exports, tmp_path):
    out = tmp_path / "exports"
    shutil.copytree(exports, out)
    (out / "marts" / "item_similarities.parquet").write_bytes(b"")
    from segrec.errors import SegrecError

    with pytest.raises(SegrecError, match="item_similarities.parquet does not match its sha256"):
        create_app(out)


def test_requests_during_reloads_never_fail(sample_build, exports, tmp_path):
    out = tmp_path / "exports"
    shutil.copytree(exports, out)
    app = create_app(out, api_key=KEY)
    customer_id = customer_ids(sample_build)[0]
    expected = mart_list(sample_build, customer_id, "blended")
    answers: list[tuple[int, list]] = []
    stop = threading.Event()

    def ask() -> None:
        client = TestClient(app)
        while not stop.is_set():
            response = client.get(f"/customers/{customer_id}/recommendations")
            answers.append((response.status_code, response.json()["items"]))

    readers = [threading.Thread(target=ask) for _ in range(2)]
    for reader in readers:
        reader.start()
    try:
        with TestClient(app) as client:
            for _ in range(3):  # the same files under a new manifest: a full load and swap each time
                manifest = json.loads((out / "manifest.json").read_text())
                manifest["generated_at"] += "+"
                (out / "manifest.json").write_text(json.dumps(manifest))
                assert client.post("/reload", headers=HEADERS).json()["reloaded"] is True
    finally:
        stop.set()
        for reader in readers:
            reader.join()
    assert answers and {status for status, _ in answers} == {200}
    assert all(items == expected for _, items in answers)
