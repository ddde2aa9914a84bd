"""Helpers shared by the source adapters.

Every adapter follows the same shape: ``read(paths)`` loads the source files as text
columns, ``to_raw(frame)`` is a pure function that maps them onto the raw contract and
returns an :class:`IngestResult` (tables + :class:`IngestSummary`), and
:func:`write_result` writes the tables through :func:`segrec.rawio.write_raw_table`.

Two rules hold for every source:

* an adapter decides *what* a source row is (an event of some type, a catalog row, or
  not a customer event at all: then it is dropped and counted with a reason); staging
  decides whether its *values* are valid. Rows with bad values (a zero price, an
  unparseable date) are written as they are, so staging quarantines them with a reason;
* the summary accounts for every source row: ``rows read = rows written to the primary
  table + rows dropped``, checked by :func:`make_result`.
"""

from __future__ import annotations

import hashlib
import json
import re
import zipfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from segrec.contract import RAW_TABLES
from segrec.errors import SegrecError
from segrec.rawio import raw_table_files, write_raw_table

# File name endings the adapters can read; a directory argument expands to these files.
DATA_SUFFIXES: tuple[str, ...] = (
    ".parquet", ".csv", ".csv.gz", ".txt", ".txt.gz", ".tsv", ".tsv.gz", ".xlsx",
)
SUMMARY_FILE = "ingest_summary.json"


@dataclass
class IngestSummary:
    """What an adapter read, wrote and deliberately dropped (every source row counted once).

    ``special_cases`` counts written rows that got a non-obvious mapping (anonymous actor,
    non-product charge line, a value staging will quarantine, ...); ``dropped`` counts rows
    not written at all, by reason.
    """

    source: str
    primary_table: str
    rows_read: dict[str, int]
    rows_written: dict[str, int]
    events_by_type: dict[str, int] = field(default_factory=dict)
    special_cases: dict[str, int] = field(default_factory=dict)
    dropped: dict[str, int] = field(default_factory=dict)

    @property
    def total_read(self) -> int:
        return sum(self.rows_read.values())

    @property
    def unaccounted(self) -> int:
        """Source rows neither written to the primary table nor dropped with a reason (0)."""
        written = self.rows_written.get(self.primary_table, 0)
        return self.total_read - written - sum(self.dropped.values())

    def to_dict(self) -> dict:
        return {**asdict(self), "total_read": self.total_read, "unaccounted": self.unaccounted}

    def format(self) -> str:
        """A few human-readable lines for the terminal."""

        def counts(mapping: Mapping[str, int]) -> str:
            return ", ".join(f"{k} {v:,}" for k, v in mapping.items()) or "none"

        written = self.rows_written.get(self.primary_table, 0)
        read = f"{self.total_read:,} source rows read ({counts(self.rows_read)})"
        lines = [f"segrec ingest {self.source}: {read}"]
        lines.append(f"  written: {counts(self.rows_written)}")
        if self.events_by_type:
            lines.append(f"  events by type: {counts(self.events_by_type)}")
        lines.append(f"  special cases (written): {counts(self.special_cases)}")
        lines.append(f"  dropped on purpose: {counts(self.dropped)}")
        lines.append(
            f"  accounted: read {self.total_read:,} = written {written:,}"
            f" + dropped {sum(self.dropped.values()):,} ({self.unaccounted} unaccounted)"
        )
        return "\n".join(lines)


@dataclass
class IngestResult:
    """Raw contract tables produced by an adapter, and its summary."""

    tables: dict[str, pd.DataFrame]
    summary: IngestSummary


@dataclass(frozen=True)
class Source:
    """One entry of the adapter registry: ``to_raw(read(paths))`` gives the raw tables."""

    name: str
    description: str
    read: Callable[[Sequence[Path]], pd.DataFrame]
    to_raw: Callable[[pd.DataFrame], IngestResult]

    def ingest(self, paths: Sequence[str | Path]) -> IngestResult:
        return self.to_raw(self.read(expand_inputs(paths)))


def make_result(
    source: str,
    tables: dict[str, pd.DataFrame],
    *,
    rows_read: Mapping[str, int],
    special_cases: Mapping[str, int] | None = None,
    dropped: Mapping[str, int] | None = None,
    primary_table: str = "events",
) -> IngestResult:
    """Bundle tables with their summary; fail loudly if a source row is unaccounted for."""
    events = tables.get("events")
    by_type = {} if events is None else dict(events["event_type"].value_counts(dropna=False).sort_index())
    summary = IngestSummary(
        source=source,
        primary_table=primary_table,
        rows_read={k: int(v) for k, v in rows_read.items()},
        rows_written={name: len(frame) for name, frame in tables.items()},
        events_by_type={str(k): int(v) for k, v in by_type.items()},
        special_cases={k: int(v) for k, v in (special_cases or {}).items() if v},
        dropped={k: int(v) for k, v in (dropped or {}).items() if v},
    )
    if summary.unaccounted:  # an adapter bug, not bad input
        raise RuntimeError(f"ingest {source}: {summary.unaccounted} source rows unaccounted for")
    return IngestResult(tables=tables, summary=summary)


# --- inputs ------------------------------------------------------------------------------

def data_suffix(path: Path) -> str:
    """The data suffix of ``path`` (``.csv.gz`` counts as one), or ``''``."""
    name = path.name.lower()
    return next((s for s in sorted(DATA_SUFFIXES, key=len, reverse=True) if name.endswith(s)), "")


def expand_inputs(paths: Iterable[str | Path]) -> list[Path]:
    """Resolve the command-line paths: files as given, a directory as its data files.

    A directory that holds the same data in several formats (``x.xlsx`` and ``x.csv.gz``)
    is ambiguous: reading both would double count, so the user must name one file.
    """
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.is_file() and data_suffix(p))
            if not found:
                raise SegrecError(f"{path}: no data files ({', '.join(DATA_SUFFIXES)}) in this directory")
            stems = [p.name[: -len(data_suffix(p))] for p in found]
            repeated = sorted({s for s in stems if stems.count(s) > 1})
            if repeated:
                raise SegrecError(
                    f"{path}: holds {', '.join(repeated)} in several formats; pass the one file to read"
                )
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            raise SegrecError(f"{path}: no such file or directory")
    if not files:
        raise SegrecError("no input files given")
    return files


def map_unique(values: pd.Series, func: Callable[[pd.Index], Sequence[str]]) -> pd.Series:
    """``func`` applied to the distinct non-missing values only, spread back as text.

    Prices, dates and codes repeat a lot: formatting each distinct value once is what makes
    a million-line ledger fast.
    """
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    mapped = np.asarray(list(func(pd.Index(uniques))) + [None], dtype=object)
    return pd.Series(mapped[codes], index=values.index, dtype="string")  # code -1 -> None


def text_column(values: pd.Series) -> pd.Series:
    """Any column as nullable text; whole floats lose their ``.0`` (ids read as floats)."""
    if pd.api.types.is_float_dtype(values.dtype):
        return number_text(values)
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        return map_unique(values, lambda u: u.strftime("%Y-%m-%d %H:%M:%S"))
    text = values.astype("string")
    return text.where(values.notna(), pd.NA)


def number_str(value: float) -> str:
    """Shortest text that reads back as ``value``: ``12`` for 12.0, ``2.55`` for 2.55."""
    value = float(value)
    return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)


def number_text(values: pd.Series) -> pd.Series:
    """Numbers as exact text (:func:`number_str`), missing as NA."""
    return map_unique(values.astype("float64"), lambda u: [number_str(v) for v in u])


def parse_number(text: pd.Series) -> pd.Series:
    """Parse text to float; what is not a number becomes NaN."""
    return pd.to_numeric(text.str.strip(), errors="coerce").astype("float64")


def read_text_file(
    path: Path, *, sep: str = ",", header: int | None = 0, names: Sequence[str] | None = None,
    na_values: Sequence[str] = (),
) -> pd.DataFrame:
    """Read a CSV/text (optionally gzipped) or Parquet file with every column as text.

    Only empty fields (and ``na_values``) are missing: a literal ``NA`` stays text unless
    the source says it means null.
    """
    suffix = data_suffix(path)
    if suffix == ".parquet":
        try:
            table = pq.read_table(path).to_pandas()
        except (pa.ArrowException, OSError) as exc:
            raise SegrecError(f"{path}: cannot read as Parquet ({exc})") from exc
        return pd.DataFrame({c: text_column(table[c]) for c in table.columns})
    if suffix == ".xlsx":
        raise SegrecError(f"{path}: this source is not read from .xlsx; pass a CSV or Parquet file")
    try:
        frame = pd.read_csv(
            path, sep=sep, header=header, names=names, dtype=str, keep_default_na=False,
            na_values=list(na_values) + [""], encoding="utf-8-sig", engine="python" if len(sep) > 1 else "c",
        )
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError, OSError, EOFError) as exc:
        raise SegrecError(f"{path}: cannot read as text table ({exc})") from exc
    return frame.astype("string")


def read_xlsx_sheets(path: Path) -> dict[str, pd.DataFrame]:
    """Every sheet of a workbook, all columns as text (needs the openpyxl package)."""
    try:
        import openpyxl  # noqa: F401  (pandas' xlsx engine; imported here to fail clearly)
    except ImportError as exc:
        raise SegrecError(
            f"{path}: reading .xlsx needs the openpyxl package (pip install openpyxl), "
            "or pass the CSV/Parquet export of the workbook"
        ) from exc
    try:
        sheets = pd.read_excel(path, sheet_name=None, engine="openpyxl")
    except (ValueError, OSError, zipfile.BadZipFile) as exc:
        raise SegrecError(f"{path}: cannot read as an xlsx workbook ({exc})") from exc
    return {name: pd.DataFrame({c: text_column(s[c]) for c in s.columns}) for name, s in sheets.items()}


def canonical_columns(
    frame: pd.DataFrame, aliases: Mapping[str, str], required: Sequence[str], label: str
) -> pd.DataFrame:
    """Rename source columns through ``aliases`` (matching ignores case and spaces) and
    check that every ``required`` canonical column is there."""

    def norm(name: str) -> str:
        return re.sub(r"[\s_]+", "", str(name)).lower()

    lookup = {norm(k): v for k, v in aliases.items()}
    renamed = frame.rename(columns={c: lookup[norm(c)] for c in frame.columns if norm(c) in lookup})
    missing = [c for c in required if c not in renamed.columns]
    if missing:
        raise SegrecError(
            f"{label}: missing column(s) {', '.join(missing)} (found: {', '.join(map(str, frame.columns))})"
        )
    return renamed[list(required)]


# --- values ------------------------------------------------------------------------------

def occurrence(keys: pd.Series, within: pd.Series | None = None) -> pd.Series:
    """1-based number of each key among identical earlier keys (file order), per ``within``."""
    frame = pd.DataFrame({"key": keys}) if within is None else pd.DataFrame({"within": within, "key": keys})
    return frame.groupby(list(frame.columns), sort=False, dropna=False).cumcount() + 1


def content_ids(
    frame: pd.DataFrame, columns: Sequence[str], namespace: str, *, within: pd.Series | None = None
) -> pd.Series:
    """Deterministic ids: md5 of the row content plus its occurrence number.

    Identical rows get different ids (1st, 2nd, ... occurrence), so genuine repeats survive,
    while the same row read again from another copy of the data (occurrences are numbered
    ``within`` each file or sheet) gets the same id and can be deduplicated.
    """
    # Plain Python over object arrays: about 1 s per million rows, several times faster
    # than string operations on pandas' Arrow-backed columns.
    values = [frame[c].to_numpy(dtype=object, na_value="") for c in columns]
    groups = np.zeros(len(frame)) if within is None else within.to_numpy(dtype=object, na_value="")
    seen: dict[tuple[object, str], int] = {}
    ids = []
    for group, *row in zip(groups, *values, strict=True):
        key = "|".join((namespace, *row))
        n = seen[group, key] = seen.get((group, key), 0) + 1
        ids.append(hashlib.md5(f"{key}|{n}".encode()).hexdigest())
    return pd.Series(ids, index=frame.index, dtype="string")


def iso_text(times: pd.Series) -> pd.Series:
    """UTC times (naive) as ISO-8601 text: seconds, or milliseconds when the source has them."""
    has_fraction = bool((times.dropna().dt.microsecond != 0).any())
    if has_fraction:
        return map_unique(times, lambda u: [t[:-3] for t in u.strftime("%Y-%m-%dT%H:%M:%S.%f")])
    return map_unique(times, lambda u: u.strftime("%Y-%m-%dT%H:%M:%S"))


def next_midnight(times: pd.Series) -> pd.Series:
    """Deterministic ``loaded_at``: the midnight (UTC) after each event's day."""
    return times.dt.normalize() + pd.Timedelta(days=1)


def modal_value(frame: pd.DataFrame, by: str, value: str) -> pd.Series:
    """Most frequent non-missing ``value`` per ``by`` (ties: the smallest value), indexed by ``by``."""
    counts = frame[[by, value]].dropna().value_counts().rename("n").reset_index()
    counts = counts.sort_values(["n", value], ascending=[False, True], kind="mergesort")
    return counts.drop_duplicates(by).set_index(by)[value]


def count_true(**masks: pd.Series) -> dict[str, int]:
    """``{name: number of True}`` for summary counters."""
    return {name: int(mask.sum()) for name, mask in masks.items()}


# --- output ------------------------------------------------------------------------------

def existing_raw_files(out_dir: Path) -> list[Path]:
    return [f for table in RAW_TABLES for f in raw_table_files(out_dir, table)]


def write_result(result: IngestResult, out_dir: str | Path, *, overwrite: bool = False) -> list[Path]:
    """Write the tables (and ``ingest_summary.json``) into ``out_dir``.

    A folder that already holds raw tables is refused unless ``overwrite``: then all its raw
    table files are removed first, so tables of an earlier load never mix with this one.
    """
    out_dir = Path(out_dir)
    existing = existing_raw_files(out_dir)
    if existing and not overwrite:
        names = ", ".join(sorted(str(p.relative_to(out_dir)) for p in existing))
        raise SegrecError(f"{out_dir} already holds raw tables ({names}); pass --overwrite to replace them")
    for path in existing:
        path.unlink()
        if path.parent != out_dir and not any(path.parent.iterdir()):
            path.parent.rmdir()
    written = [write_raw_table(frame, table, out_dir) for table, frame in result.tables.items()]
    summary_path = out_dir / SUMMARY_FILE
    summary_path.write_text(json.dumps(result.summary.to_dict(), indent=2, sort_keys=True) + "\n")
    return [*written, summary_path]
