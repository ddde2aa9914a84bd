"""The HTTP service: :func:`create_app` builds a FastAPI app over one export folder.

Endpoints (docs/serving.md): recommendations, segment, similar products, segments, health,
POST /events (API key) and POST /reload (API key). JSON fields carry the marts' column names.
"""

from __future__ import annotations

import gc
import hmac
import json
import logging
import math
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

from fastapi import FastAPI, Header, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from segrec.recommend.ranker import LIST_TYPES
from segrec.segmentation.online import LiveEvent
from segrec.serve.context import Context, parse_context
from segrec.serve.events import EventRules, check_events, live_event
from segrec.serve.journal import EventJournal, recover
from segrec.serve.recommend import (
    cold_start_list,
    published_list,
    rerank_by_context,
    rerank_by_session,
)
from segrec.serve.reload import BuildHolder, repeat
from segrec.serve.segments import live_segment
from segrec.serve.sessions import SessionStore
from segrec.serve.store import (
    ALLOCATED,
    ASSIGNMENT_COLUMNS,
    PREDICTION_COLUMNS,
    SEGMENT_COLUMNS,
    SIMILARITY_METHODS,
    ServingBuild,
)

API_KEY_ENV = "SEGREC_SERVE_API_KEY"
API_KEY_HEADER = "X-API-Key"
MAX_N = 100
LIST_NAMES = ", ".join(sorted(LIST_TYPES))  # the list types a request may name, for messages
log = logging.getLogger("segrec.serve")


def create_app(
    export_dir: str | Path,
    *,
    raw_dir: str | Path | None = None,
    project_dir: str | Path = ".",
    api_key: str | None = None,
    max_body_bytes: int = 64 * 1024,
    max_events: int = 500,
    reload_interval: float | None = None,
    flush_interval: float = 1.0,
    context_weight: float = 0.5,
    session_share: float = 0.5,
) -> FastAPI:
    """The service over the export in ``export_dir`` (loaded and checked now).

    Parameters
    ----------
    raw_dir : the raw folder POST /events appends to; None disables POST /events.
    project_dir : the dbt project whose seeds and vars the event checks use.
    api_key : the key POST /events and POST /reload require (X-API-Key); None disables them.
    max_body_bytes, max_events : request limits of POST /events (413 beyond them).
    reload_interval : seconds between checks for a new export; None: only POST /reload.
    flush_interval : seconds between flushes of the event journal into raw Parquet files.
    context_weight : weight of the context log-lift added to a known customer's scores.
    session_share : share of a list the live session's neighbours may take.
    """
    holder = BuildHolder(export_dir)
    rules = EventRules.from_project(project_dir) if raw_dir is not None else None
    if raw_dir is not None:
        recover(raw_dir)  # events a stopped service journaled but did not flush
    journal = EventJournal(raw_dir) if raw_dir is not None else None
    sessions = SessionStore()
    append_lock = threading.Lock()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        stop = threading.Event()
        if reload_interval:
            repeat(holder.reload, reload_interval, stop, "segrec-serve-reload")
        if journal is not None:
            repeat(journal.flush, flush_interval, stop, "segrec-serve-journal")
        yield
        stop.set()
        if journal is not None:
            journal.flush()
        gc.unfreeze()  # the builds load_quietly froze: collectable again when the service stops

    app = FastAPI(title="segrec", summary="Recommendations and segments of the last published build",
                  lifespan=lifespan)
    app.state.holder, app.state.sessions, app.state.journal = holder, sessions, journal

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        # One readable line per problem instead of pydantic's nested structure.
        problems = [f"{'.'.join(str(p) for p in e['loc'][1:])}: {e['msg']}" for e in exc.errors()]
        return JSONResponse(status_code=422, content={"detail": "; ".join(problems)})

    def require_key(given: str | None) -> None:
        if api_key is None:
            raise HTTPException(403, f"disabled: start the service with {API_KEY_ENV} set")
        if given is None:
            raise HTTPException(401, f"missing {API_KEY_HEADER} header")
        if not hmac.compare_digest(given.encode(), api_key.encode()):
            raise HTTPException(403, f"wrong {API_KEY_HEADER}")

    def context_of(text: str | None) -> Context:
        try:
            return parse_context(text)
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from None

    # The lookups are async: pure in-memory work of well under a millisecond, so no thread hop;
    # they return JSONResponse to skip response-model validation. Reload stays a plain def so
    # that loading a build runs in the thread pool while the event loop keeps answering.
    @app.get("/customers/{customer_id}/recommendations")
    async def recommendations(
        customer_id: str,
        n: int | None = Query(None, ge=1, le=MAX_N, description="list length (default: the build's)"),
        list_type: str = Query("blended", description=f"one of {LIST_NAMES}, or {ALLOCATED}: the list "
                                                      "of the customer's allocated strategy"),
        context: str | None = Query(None, description="device and/or daypart, e.g. mobile,evening"),
    ) -> JSONResponse:
        if list_type not in (*LIST_TYPES, ALLOCATED):
            raise HTTPException(422, f"list_type: {list_type!r} is not one of {LIST_NAMES}, {ALLOCATED}")
        request_context = context_of(context)
        build = holder.build  # one build for the whole request, even if a reload swaps meanwhile
        n = n or build.list_length
        key = build.customer_keys.get(customer_id)
        allocated = next(iter(build.strategies.rows(key, ASSIGNMENT_COLUMNS)), None) if key else None
        if list_type == ALLOCATED:  # the list that serves their strategy (var strategy_allocation.served_lists)
            list_type = (allocated or {}).get("list_type") or "blended"
        session = sessions.events(customer_id)
        # a known customer has a blended list; one without purchases has an empty buy_again list
        fallback = key is None or (key, "blended") not in build.recommendations
        if fallback:
            items = [] if list_type == "buy_again" else cold_start_list(build, request_context, n)
        else:
            items = rerank_by_context(build, published_list(build, key, list_type), request_context, context_weight)
        if session and list_type != "buy_again":
            items = rerank_by_session(build, items, session, bought=bought_products(build, key, list_type, session),
                                      n=n, share=session_share)
        published, live = segment_now(build, key, session)  # the live segment when they have events
        log.info("recommendations customer_id=%s list_type=%s fallback=%s", customer_id, list_type, fallback)
        return JSONResponse({
            "customer_id": customer_id, "list_type": list_type, "context": request_context.label(),
            "fallback": fallback, "session_reranked": bool(session) and list_type != "buy_again",
            "segment_name": (live or published).get("segment_name"),
            # the strategy the bandit allocated this customer for the period (null: none), for
            # the page to show and log with its impressions
            "allocated_strategy": allocated,
            "model_version": next(iter(build.model_versions.get("customer_recommendations", [])), None),
            "items": items[:n],
        })

    def segment_now(build: ServingBuild, key: str | None, session: list[LiveEvent]) -> tuple[dict, dict | None]:
        """The published segment row and the live one (None without live events since the build)."""
        row = segment_of(build, key)
        if rules is None or not session:
            return row, None
        live = live_segment(build, key, session, datetime.now(UTC).replace(tzinfo=None),
                            new_arrival_days=rules.new_arrival_days, session_gap=rules.session_gap)
        return row, live

    @app.get("/customers/{customer_id}/segment")
    async def segment(customer_id: str) -> dict:
        build = holder.build
        key = build.customer_keys.get(customer_id)
        row, live = segment_now(build, key, sessions.events(customer_id))
        prediction = next(iter(build.predictions.rows(key, PREDICTION_COLUMNS)), {}) if key else {}
        current = {**row, **live} if live else row
        return {"customer_id": customer_id, "fallback": not row and not live, "live": live is not None,
                "published_segment_id": row.get("segment_id"),
                **{c: current.get(c) for c in SEGMENT_COLUMNS}, **{c: prediction.get(c) for c in PREDICTION_COLUMNS}}

    @app.get("/products/{product_id}/similar")
    async def similar(
        product_id: str,
        method: str | None = Query(None, description=f"one of {', '.join(SIMILARITY_METHODS)} (default: all)"),
        n: int = Query(20, ge=1, le=MAX_N),
    ) -> JSONResponse:
        if method is not None and method not in SIMILARITY_METHODS:
            raise HTTPException(422, f"method: {method!r} is not one of {', '.join(SIMILARITY_METHODS)}")
        build = holder.build
        if product_id not in build.similar and product_id not in build.categories:
            raise HTTPException(404, f"unknown product_id {product_id!r}")
        rows = [r for r in build.similar.rows(product_id, ("method", "rank", "similar_product_id", "score"))
                if method is None or r["method"] == method]
        return JSONResponse({"product_id": product_id, "items": [r for r in rows if r["rank"] <= n]})

    @app.get("/segments")
    def segments() -> dict:
        return {"segments": [_finite(row) for row in holder.build.segment_profiles]}

    @app.get("/health")
    def health() -> dict:
        build = holder.build
        return {"status": "ok", "generated_at": build.generated_at, "model_versions": build.model_versions,
                "row_counts": build.row_counts, "list_length": build.list_length,
                "last_reload_error": holder.last_error}

    @app.post("/reload")
    def reload(x_api_key: str | None = Header(None)) -> dict:
        require_key(x_api_key)
        swapped = holder.reload()
        if holder.last_error and not swapped:
            raise HTTPException(409, holder.last_error)
        return {"reloaded": swapped, "generated_at": holder.build.generated_at}

    @app.post("/events")
    async def events(request: Request, x_api_key: str | None = Header(None)) -> dict:
        require_key(x_api_key)
        if journal is None or rules is None:
            raise HTTPException(403, "disabled: start the service with a raw folder (--raw-dir)")
        batch = await _json_body(request, max_body_bytes)
        if not isinstance(batch, dict) or not isinstance(batch.get("events"), list) or not batch["events"] \
                or not all(isinstance(e, dict) for e in batch["events"]):
            raise HTTPException(422, 'body: expected {"events": [ {event}, ... ]} with at least one event object')
        if len(batch["events"]) > max_events:
            raise HTTPException(413, f"at most {max_events} events per request, got {len(batch['events'])}")
        # checking and writing the file run in the thread pool: the event loop keeps answering
        return await run_in_threadpool(accept, batch["events"])

    def accept(events: list[dict]) -> dict:
        loaded_at = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
        with append_lock:  # checks against accepted ids and the append are one step
            ids = [e.get("event_id") for e in events]
            seen = sessions.seen(str(i).strip() for i in ids if i is not None)
            types, rejected = check_events(events, rules, loaded_at, seen)
            if rejected:
                raise HTTPException(422, {"message": f"{len(rejected)} of {len(events)} events rejected; "
                                                     "none written", "rejected": rejected})
            journal.write(events, loaded_at)
            for event, event_type in zip(events, types, strict=True):
                visitor = str(event.get("customer_id") or event.get("anonymous_id")).strip()
                sessions.add(visitor, live_event(event, event_type, rules))
        log.info("events accepted=%d", len(types))
        return {"accepted": len(types)}

    return app


def segment_of(build: ServingBuild, customer_key: str | None) -> dict:
    """The customer's row of the latest segmentation run ({} when none)."""
    return next(iter(build.segments.rows(customer_key, SEGMENT_COLUMNS)), {}) if customer_key else {}


def bought_products(build: ServingBuild, customer_key: str | None, list_type: str,
                    session: list[LiveEvent]) -> set[str]:
    """Products the list may not propose again: bought in the session; for discover also the
    customer's past purchases as far as the build shows them (their buy_again list)."""
    bought = {e.product_id for e in session if e.event_type == "purchase" and e.product_id}
    if list_type == "discover" and customer_key:
        bought |= {row["product_id"] for row in published_list(build, customer_key, "buy_again")}
    return bought


def _finite(row: dict) -> dict:
    """A row with NaN/inf as None (JSON has no NaN)."""
    return {k: None if isinstance(v, float) and not math.isfinite(v) else v for k, v in row.items()}


async def _json_body(request: Request, limit: int) -> object:
    """The request's JSON body, read at most ``limit`` bytes far (413 beyond, 422 when not JSON)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, f"request body over {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise HTTPException(413, f"request body over {limit} bytes")
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise HTTPException(422, "body: not valid JSON") from None
