"""Load test of `segrec serve` on loopback: latency percentiles and throughput of
GET /customers/{id}/recommendations and POST /events (with the session re-rank) at a fixed
request rate and at saturation, and failed requests while a reload swaps the build.

    .venv/bin/python -m bench.bench_serve --exports exports --rate 200 --seconds 20

The service runs as its own process (uvicorn, one worker, 127.0.0.1) on a copy of the export
folder, so the reload phase can rewrite the copy's manifest without touching the original.
Bounded: every phase stops after --seconds and at most --max-requests requests. Not part of
`make test`; run it on a quiet machine (the load generator shares the 2 cores with the server).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np
import pyarrow.parquet as pq

KEY = "bench-key"


@dataclass
class Phase:
    """What one phase measured."""

    name: str
    latencies_ms: list[float]
    failures: int
    seconds: float
    failure_kinds: Counter = field(default_factory=Counter)

    def summary(self) -> dict:
        lat = np.asarray(self.latencies_ms) if self.latencies_ms else np.asarray([np.nan])
        return {
            "phase": self.name, "requests": len(self.latencies_ms) + self.failures, "failures": self.failures,
            "failure_kinds": dict(self.failure_kinds),
            "throughput_rps": round(len(self.latencies_ms) / self.seconds, 1),
            **{f"p{q}_ms": round(float(np.percentile(lat, q)), 2) for q in (50, 95, 99)},
        }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(exports: Path, raw_dir: Path, port: int) -> subprocess.Popen:
    env = {**os.environ, "SEGREC_SERVE_API_KEY": KEY}
    command = [str(Path(sys.executable).with_name("segrec")), "serve", "--exports", str(exports), "--port", str(port),
               "--raw-dir", str(raw_dir), "--reload-interval", "0"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit(f"the service did not start: {process.stderr.read().decode()[-2000:]}")


class StaleConnection(ConnectionError):
    """A keep-alive connection the server had closed: nothing came back."""


@dataclass(frozen=True)
class Response:
    status_code: int
    body: bytes

    def json(self) -> object:
        return json.loads(self.body)


class LoopbackClient:
    """A minimal HTTP/1.1 keep-alive client for the load: a pool of connections, one request at a
    time on each, responses read by Content-Length. httpx spends about a millisecond of CPU per
    request, which on 2 shared cores becomes the service's measured latency; this spends a tenth."""

    def __init__(self, port: int, max_connections: int = 256) -> None:
        self.port, self.max_connections = port, max_connections
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self.open = 0

    async def __aenter__(self) -> LoopbackClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        for _, writer in self.idle:
            writer.close()
        self.idle.clear()

    async def get(self, path: str) -> Response:
        return await self.request("GET", path)

    async def post(self, path: str, payload: object, headers: dict[str, str] | None = None) -> Response:
        return await self.request("POST", path, json.dumps(payload).encode(), headers)

    async def request(self, method: str, path: str, body: bytes = b"",
                      headers: dict[str, str] | None = None) -> Response:
        if self.idle:
            reader, writer = self.idle.pop()
            try:
                return await self._exchange(reader, writer, method, path, body, headers)
            except (StaleConnection, ConnectionResetError, BrokenPipeError):
                pass  # the server closed the idle keep-alive connection (uvicorn after 5 s) as it was
                # reused: nothing was answered, so the request goes again on a new one, as any client does
        if self.open >= self.max_connections:
            raise ConnectionError("connection pool exhausted")
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        self.open += 1
        return await self._exchange(reader, writer, method, path, body, headers)

    async def _exchange(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, method: str, path: str,
                        body: bytes, headers: dict[str, str] | None) -> Response:
        try:
            lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1",
                     *(f"{name}: {value}" for name, value in (headers or {}).items())]
            if body:
                lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
            writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
            status_line = await reader.readline()
            if not status_line:
                raise StaleConnection
            status = int(status_line.split()[1])
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode("latin-1").partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            content = await reader.readexactly(length)
        except BaseException:
            writer.close()
            self.open -= 1
            raise
        self.idle.append((reader, writer))
        return Response(status, content)


def customer_ids(exports: Path) -> list[str]:
    table = pq.read_table(exports / "marts" / "dim_customers.parquet", columns=["customer_id"])
    return [c for c in table["customer_id"].to_pylist() if c is not None]


def product_ids(exports: Path) -> list[str]:
    return pq.read_table(exports / "marts" / "item_similarities.parquet", columns=["product_id"])[
        "product_id"].unique().to_pylist()


class Requests:
    """Request factories: a random known customer's list; a product view of a random customer
    (now: after the build, so it counts for their live segment too); and the list and the segment
    of a customer with live events (session re-rank, live segment re-assignment)."""

    def __init__(self, customers: list[str], products: list[str], seed: int) -> None:
        self.customers, self.products = customers, products
        self.rng = np.random.default_rng(seed)
        self.counter = 0
        self.live: list[str] = []  # customers with accepted live events

    def live_customer(self) -> str:
        return self.live[self.rng.integers(len(self.live))] if self.live else self.customers[0]

    async def get_live_list(self, client: LoopbackClient) -> int:
        return (await client.get(f"/customers/{self.live_customer()}/recommendations")).status_code

    async def get_live_segment(self, client: LoopbackClient) -> int:
        return (await client.get(f"/customers/{self.live_customer()}/segment")).status_code

    async def get_list(self, client: LoopbackClient) -> int:
        customer = self.customers[self.rng.integers(len(self.customers))]
        return (await client.get(f"/customers/{customer}/recommendations")).status_code

    async def post_event(self, client: LoopbackClient) -> int:
        self.counter += 1
        customer = self.customers[self.rng.integers(len(self.customers))]
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        event = {"event_id": f"bench-{os.getpid()}-{self.counter}", "event_time": now,
                 "event_type": "product_view", "customer_id": customer,
                 "product_id": self.products[self.rng.integers(len(self.products))]}
        response = await client.post("/events", {"events": [event]}, headers={"X-API-Key": KEY})
        if response.status_code == 200:
            self.live.append(customer)
        return response.status_code


async def timed(call, client: LoopbackClient, phase: Phase) -> None:
    start = time.perf_counter()
    try:
        outcome = str(await call(client))
    except (OSError, asyncio.IncompleteReadError, ValueError, IndexError) as exc:
        outcome = type(exc).__name__
    if outcome == "200":
        phase.latencies_ms.append((time.perf_counter() - start) * 1000)
    else:
        phase.failures += 1
        phase.failure_kinds[outcome] += 1


async def fixed_rate(port: int, call, name: str, rate: float, seconds: float, max_requests: int,
                     during=None) -> Phase:
    """Open loop: one request every 1/rate s whatever the answers (latency includes queueing)."""
    phase = Phase(name, [], 0, seconds)
    async with LoopbackClient(port) as client:
        tasks, start = [], time.perf_counter()
        side = asyncio.create_task(during(client)) if during else None
        for i in range(min(int(rate * seconds), max_requests)):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(timed(call, client, phase)))
        await asyncio.gather(*tasks)
        if side:
            await side
        phase.seconds = time.perf_counter() - start
    return phase


async def saturation(port: int, call, name: str, concurrency: int, seconds: float, max_requests: int) -> Phase:
    """Closed loop: ``concurrency`` clients, each sending its next request when answered."""
    phase = Phase(name, [], 0, seconds)
    async with LoopbackClient(port, max_connections=concurrency) as client:
        start, sent = time.perf_counter(), 0

        async def worker() -> None:
            nonlocal sent
            while time.perf_counter() - start < seconds and sent < max_requests:
                sent += 1
                await timed(call, client, phase)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        phase.seconds = time.perf_counter() - start
    return phase


def touch_manifest(exports: Path) -> None:
    """A new export as far as the service can tell: the same files under a new manifest."""
    path = exports / "manifest.json"
    document = json.loads(path.read_text())
    document["generated_at"] = f"bench-{time.time()}"
    tmp = path.with_name(".manifest.bench.tmp")
    tmp.write_text(json.dumps(document, indent=2))
    os.replace(tmp, path)


async def run(args: argparse.Namespace, exports: Path, raw_dir: Path, port: int) -> list[dict]:
    requests = Requests(customer_ids(exports), product_ids(exports), args.random_state)
    phases = [
        await fixed_rate(port, requests.get_list, f"GET recommendations @ {args.rate:g}/s", args.rate,
                         args.seconds, args.max_requests),
        await saturation(port, requests.get_list, f"GET recommendations, saturation x{args.concurrency}",
                         args.concurrency, args.seconds, args.max_requests),
        await fixed_rate(port, requests.post_event, f"POST /events @ {args.event_rate:g}/s", args.event_rate,
                         args.seconds, args.max_requests),
        await saturation(port, requests.post_event, f"POST /events, saturation x{args.concurrency}",
                         args.concurrency, args.seconds, args.max_requests),
        await fixed_rate(port, requests.get_live_list, f"GET recommendations of live visitors @ {args.rate:g}/s",
                         args.rate, args.seconds, args.max_requests),
        await fixed_rate(port, requests.get_live_segment, f"GET segment of live visitors @ {args.rate:g}/s",
                         args.rate, args.seconds, args.max_requests),
    ]

    async def reload_midway(client: LoopbackClient) -> None:
        await asyncio.sleep(args.seconds / 3)
        touch_manifest(exports)
        response = await client.request("POST", "/reload", b"{}", {"X-API-Key": KEY})
        print(f"reload: {response.status_code} {response.json()}", file=sys.stderr)

    phases.append(await fixed_rate(port, requests.get_list, f"GET recommendations @ {args.rate:g}/s during a reload",
                                   args.rate, args.seconds, args.max_requests, during=reload_midway))
    return [phase.summary() for phase in phases]


def _loop_factory():
    """uvloop's event loop for the load generator when installed (the serve extra has it)."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--exports", default="exports", help="export folder of `segrec export` (copied)")
    parser.add_argument("--rate", type=float, default=200.0, help="GET requests per second of the fixed-rate phase")
    parser.add_argument("--event-rate", type=float, default=100.0, help="POST /events per second, fixed rate")
    parser.add_argument("--concurrency", type=int, default=16, help="clients of the saturation phases")
    parser.add_argument("--seconds", type=float, default=15.0, help="length of every phase")
    parser.add_argument("--max-requests", type=int, default=20_000, help="cap per phase")
    parser.add_argument("--random-state", type=int, default=0)
    parser.add_argument("--out", default=None, help="write the results as JSON here")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="segrec-bench-serve-") as work:
        exports, raw_dir = Path(work) / "exports", Path(work) / "raw"
        shutil.copytree(args.exports, exports)
        port = free_port()
        server = start_server(exports, raw_dir, port)
        try:
            with asyncio.Runner(loop_factory=_loop_factory()) as runner:
                results = runner.run(run(args, exports, raw_dir, port))
        finally:
            server.terminate()
            server.wait(timeout=30)
    for row in results:
        print(json.dumps(row))
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
