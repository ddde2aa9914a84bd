"""What the benchmarks share: sizes, running a step as its own measured process, dbt command
lines on a private warehouse, the newest-events split for incremental loads, and per-node and
per-layer times from dbt's run_results.json and manifest.json.

One copy of each, so `make bench` (bench/bench_build.py) and the single-purpose benchmarks
measure the same way. Nothing here imports the benchmark scripts or is imported by segrec.
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

# The generator's yield at its default 120 days: 19,000 customers gave 998,218 events.
EVENTS_PER_CUSTOMER = 52.5
SIZE_UNITS: dict[str, int] = {"": 1, "k": 1_000, "m": 1_000_000}
_SIZE_PATTERN = re.compile(r"(\d+(?:\.\d+)?)([km]?)")

# Layers in the order a build runs them; a model folder outside these is its own layer.
LAYERS: tuple[str, ...] = ("seeds", "staging", "intermediate", "marts", "monitoring", "snapshots", "tests",
                           "exposures")
# Nodes that are not models count to a layer named after their kind.
RESOURCE_LAYERS: dict[str, str] = {"test": "tests", "unit_test": "tests", "seed": "seeds", "snapshot": "snapshots",
                                   "exposure": "exposures"}


class BenchError(RuntimeError):
    """A benchmark step failed; the message carries the end of its output."""


def parse_size(text: str) -> int:
    """An event count from ``100k``, ``1M``, ``2.5M`` or ``5000`` (case-insensitive), so the
    sizes in BENCH_SIZES read the way people say them; anything else is a clear error."""
    match = _SIZE_PATTERN.fullmatch(text.strip().lower())
    if match is None:
        raise ValueError(f"bad size {text!r}: expected a number with an optional k or M suffix, e.g. 100k, 1M, 10M")
    count = round(float(match.group(1)) * SIZE_UNITS[match.group(2)])
    if count <= 0:
        raise ValueError(f"bad size {text!r}: the event count must be positive")
    return count


def customers_for(n_events: int) -> int:
    """Customers to generate for about ``n_events`` events (the generator takes customers)."""
    return max(1, round(n_events / EVENTS_PER_CUSTOMER))


# Runs the command as a grandchild with its output in a log file, samples the resident set of
# the grandchild and its children every SAMPLE_SECONDS into a timeline file (epoch seconds and
# KiB per line: which node held the memory, see node_peaks), then prints the peak RSS (MiB) of
# the largest process below it: RUSAGE_CHILDREN of this process covers only them.
SAMPLE_SECONDS = 0.5
_MEASURE = """
import os, resource, subprocess, sys, time
from pathlib import Path

PAGE_KIB = os.sysconf('SC_PAGE_SIZE') // 1024

def rss_kib(root):
    # the tree below root from every process's parent (/proc/<pid>/task/*/children is not
    # in every kernel), then the sum of their resident sets
    parents, rss = {}, {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        pid = int(stat.parent.name)
        parents[pid], rss[pid] = int(fields[1]), int(fields[21]) * PAGE_KIB
    tree, frontier = {root}, [root]
    while frontier:
        frontier = [pid for pid, parent in parents.items() if parent in frontier and pid not in tree]
        tree.update(frontier)
    return sum(rss.get(pid, 0) for pid in tree)

log_path, timeline_path, interval = sys.argv[1], sys.argv[2], float(sys.argv[3])
with open(log_path, "w") as log, open(timeline_path, "w") as timeline:
    child = subprocess.Popen(sys.argv[4:], stdout=log, stderr=subprocess.STDOUT)
    while child.poll() is None:
        if Path("/proc").is_dir():
            timeline.write(f"{time.time():.2f} {rss_kib(child.pid)}\\n")
            timeline.flush()
        time.sleep(interval)
if child.returncode:
    sys.exit(child.returncode)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)
"""


@dataclass(frozen=True)
class Measured:
    """Wall time and peak resident set of one step run in its own process tree."""

    seconds: float
    peak_mib: float
    # (epoch seconds, MiB) samples of the step's resident set; empty where /proc is missing
    timeline: tuple[tuple[float, float], ...] = ()


def run_measured(command: list[str], env: Mapping[str, str] | None = None, log: Path | None = None,
                 cwd: Path = ROOT) -> Measured:
    """Run ``command`` as a grandchild and measure it: a fresh measuring process per step, so
    the peak belongs to that step alone. Its output goes to ``log`` (default: a temporary
    file); a failure raises BenchError with the log's end."""
    with tempfile.TemporaryDirectory() as scratch:
        log_path = log or Path(scratch) / "output.log"
        timeline_path = Path(scratch) / "timeline.txt"
        start = time.perf_counter()
        child = subprocess.run(
            [sys.executable, "-c", _MEASURE, str(log_path), str(timeline_path), str(SAMPLE_SECONDS), *command],
            cwd=cwd, env={**os.environ, **(env or {})}, capture_output=True, text=True,
        )
        seconds = time.perf_counter() - start
        output = log_path.read_text(errors="replace") if log_path.is_file() else ""
        timeline = read_timeline(timeline_path)
    if child.returncode != 0:
        raise BenchError(f"{' '.join(command[:3])} ... failed (exit {child.returncode}):\n{output[-3000:]}"
                         f"\n{child.stderr[-2000:]}")
    return Measured(seconds=seconds, peak_mib=float(child.stdout.strip().splitlines()[-1]), timeline=timeline)


def read_timeline(path: Path) -> tuple[tuple[float, float], ...]:
    """The (epoch seconds, MiB) samples a measured step wrote (none if it wrote no file)."""
    if not path.is_file():
        return ()
    samples = []
    for line in path.read_text().splitlines():
        parts = line.split()
        if len(parts) == 2:
            samples.append((float(parts[0]), float(parts[1]) / 1024))
    return tuple(samples)


def dbt_command(args: list[str], work: Path, raw: Path, target: str = "target") -> tuple[list[str], dict[str, str]]:
    """A dbt command line and environment that build from ``raw`` into ``work`` (its own
    warehouse.duckdb, ``target`` folder and logs/), leaving the checkout's target/ alone."""
    env = {"SEGREC_RAW_DIR": str(raw), "SEGREC_DUCKDB_PATH": str(work / "warehouse.duckdb"),
           "OPENBLAS_NUM_THREADS": "1", "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    command = [str(BIN / "dbt"), *args, "--target-path", str(work / target), "--log-path", str(work / "logs")]
    return command, env


def split_newest(raw: Path, out: Path, share: float) -> tuple[Path, Path]:
    """Two raw folders: all but the newest ``share`` of events (by loaded_at), and all of them
    as two loads, the way an incremental run sees a second load arrive."""
    events = pq.read_table(raw / "events.parquet")
    loaded_at = pd.to_datetime(events["loaded_at"].to_pandas(), errors="coerce")
    # unparseable load times stay with the older events
    older = pa.array(((loaded_at <= loaded_at.quantile(1 - share)) | loaded_at.isna()).to_numpy())
    before, after = out / "before", out / "after"
    for folder in (before, after):
        (folder / "events").mkdir(parents=True, exist_ok=True)
        for other in raw.glob("*.parquet"):
            if other.name != "events.parquet":
                shutil.copy(other, folder / other.name)
    pq.write_table(events.filter(older), before / "events" / "load-1.parquet")
    shutil.copy(before / "events" / "load-1.parquet", after / "events" / "load-1.parquet")
    pq.write_table(events.filter(pc.invert(older)), after / "events" / "load-2.parquet")
    return before, after


def node_name(unique_id: str) -> str:
    """The short name of a dbt node (the last part of its unique_id)."""
    return unique_id.split(".")[-1]


def node_seconds(run_results: Mapping, name: str) -> float:
    """The execution time of the node called ``name`` in a run_results.json."""
    for result in run_results["results"]:
        if node_name(result["unique_id"]) == name:
            return float(result["execution_time"])
    raise BenchError(f"{name} is not in the run results")


def layer_of(unique_id: str, manifest: Mapping) -> str:
    """The layer a node's time counts to: a model's folder below models/ in its
    original_file_path (staging, intermediate, marts, monitoring); tests (data and unit tests),
    seeds and the rest by their kind (:data:`RESOURCE_LAYERS`)."""
    resource_type = unique_id.split(".")[0]
    if resource_type in RESOURCE_LAYERS:
        return RESOURCE_LAYERS[resource_type]
    node = manifest.get("nodes", {}).get(unique_id, {})
    parts = Path(node.get("original_file_path", "")).parts
    if len(parts) >= 3 and parts[0] == "models":
        return parts[1]
    return "other"


def node_times(run_results: Mapping, manifest: Mapping) -> list[dict]:
    """One row per executed node: name, layer, status and execution time in seconds."""
    return [
        {"name": node_name(r["unique_id"]), "unique_id": r["unique_id"], "layer": layer_of(r["unique_id"], manifest),
         "status": r["status"], "seconds": float(r["execution_time"])}
        for r in run_results["results"]
    ]


def _execute_interval(result: Mapping) -> tuple[float, float] | None:
    """Epoch seconds of the start and end of a run result's execute step (None if it has none)."""
    for step in result.get("timing", []):
        if step.get("name") == "execute" and step.get("started_at") and step.get("completed_at"):
            start, end = (pd.Timestamp(step[k]).timestamp() for k in ("started_at", "completed_at"))
            return start, end
    return None


def node_peaks(run_results: Mapping, timeline: Sequence[tuple[float, float]], n: int = 10) -> list[dict]:
    """The ``n`` nodes under which the build's resident set grew most, largest growth first (ties
    by name): ``growth_mib`` is the largest sample while the node executed minus the last sample
    before it started, ``peak_rss_mib`` that largest sample. Growth, because memory a finished
    model freed often stays resident in the process, so the peak alone blames whoever runs next.
    Two threads run nodes side by side, so either figure is the whole build's, not the node's
    alone; a node shorter than the sampling interval may have no sample."""
    if not timeline:
        return []
    times = np.asarray([t for t, _ in timeline])
    mib = np.asarray([m for _, m in timeline])
    found = []
    for result in run_results["results"]:
        interval = _execute_interval(result)
        if interval is None:
            continue
        lo, hi = np.searchsorted(times, interval[0], side="left"), np.searchsorted(times, interval[1], side="right")
        if hi > lo:
            peak = float(mib[lo:hi].max())
            found.append({"name": node_name(result["unique_id"]), "peak_rss_mib": round(peak),
                          "growth_mib": round(peak - float(mib[max(lo - 1, 0)]))})
    return sorted(found, key=lambda node: (-node["growth_mib"], node["name"]))[:n]


def layer_totals(nodes: Iterable[Mapping]) -> dict[str, float]:
    """Seconds per layer, summed over nodes (threads overlap, so the sum can exceed wall time),
    known layers first in build order."""
    totals: dict[str, float] = {}
    for node in nodes:
        totals[node["layer"]] = totals.get(node["layer"], 0.0) + node["seconds"]
    order = [layer for layer in LAYERS if layer in totals] + sorted(set(totals) - set(LAYERS))
    return {layer: round(totals[layer], 2) for layer in order}


def top_nodes(nodes: Iterable[Mapping], n: int = 15) -> list[dict]:
    """The ``n`` slowest nodes, slowest first (ties by name, so the list is stable)."""
    ranked = sorted(nodes, key=lambda node: (-node["seconds"], node["name"]))[:n]
    return [{"name": node["name"], "layer": node["layer"], "seconds": round(node["seconds"], 2)} for node in ranked]


def total_memory_gib() -> float | None:
    """Physical memory of the machine, where the platform says (Linux, macOS)."""
    try:
        return round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError, AttributeError):
        return None


def git_commit(cwd: Path = ROOT) -> str | None:
    """The checked-out commit, with ``-dirty`` when tracked files differ, so a result names the
    code it measured; None outside a git checkout."""
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True,
                                check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=cwd,
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return f"{commit}-dirty" if dirty else commit


def machine_info() -> dict:
    """What the timings depend on: cores, memory, platform, Python, DuckDB and dbt versions."""
    return {"cores": os.cpu_count(), "memory_gib": total_memory_gib(), "platform": platform.platform(),
            "python": platform.python_version(), "duckdb": metadata.version("duckdb"),
            "dbt": metadata.version("dbt-core"), "dbt_duckdb": metadata.version("dbt-duckdb")}
