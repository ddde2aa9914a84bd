"""Read and write raw contract tables (docs/raw-contract.md: one Parquet file or folder per table).

Every writer of raw data (the generator, the source adapters) goes through
:func:`write_raw_table`, so raw folders look the same whatever produced them: all
columns as text, contract column order, deterministic bytes.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from segrec.contract import RAW_TABLES
from segrec.errors import SegrecError

TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%S"


def _as_text(column: pd.Series) -> pd.Series:
    """Render a column as nullable text the way staging parses it back."""
    if isinstance(column.dtype, pd.DatetimeTZDtype):
        column = column.dt.tz_convert("UTC").dt.tz_localize(None)
    if pd.api.types.is_datetime64_any_dtype(column.dtype):
        return column.dt.strftime(TIMESTAMP_FORMAT).astype("string")
    if pd.api.types.is_bool_dtype(column.dtype):
        return column.map({True: "true", False: "false"}).astype("string")
    if pd.api.types.is_float_dtype(column.dtype):
        # 3.0 -> "3", 2.5 -> "2.5": integers written as floats by pandas stay readable.
        text = column.map(lambda v: None if pd.isna(v) else format(v, ".10g"))
        return text.astype("string")
    return column.astype("string")


def write_raw_table(
    frame: pd.DataFrame, table: str, out_dir: str | Path, *, part: str | None = None
) -> Path:
    """Write ``frame`` as raw table ``table`` under ``out_dir``.

    Missing optional columns are added as nulls; a missing required or an unknown column is
    an error. With ``part`` the file goes to ``<table>/<part>.parquet`` (a load of several
    files), otherwise to ``<table>.parquet``.
    """
    if table not in RAW_TABLES:
        raise SegrecError(f"unknown raw table {table!r}; expected one of {sorted(RAW_TABLES)}")
    spec = RAW_TABLES[table]
    missing = [c for c in spec.required if c not in frame.columns]
    if missing:
        raise SegrecError(f"raw table {table}: missing required column(s) {', '.join(missing)}")
    unknown = [c for c in frame.columns if c not in spec.columns]
    if unknown:
        raise SegrecError(f"raw table {table}: columns not in the contract: {', '.join(unknown)}")

    text = pd.DataFrame(
        {c: _as_text(frame[c]) if c in frame.columns else pd.Series(pd.NA, index=frame.index, dtype="string")
         for c in spec.columns}
    )
    schema = pa.schema([(c, pa.string()) for c in spec.columns])
    arrow = pa.Table.from_pandas(text, schema=schema, preserve_index=False)

    out_dir = Path(out_dir)
    path = out_dir / table / f"{part}.parquet" if part else out_dir / f"{table}.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(arrow, path, compression="zstd", row_group_size=256_000)
    return path


def raw_table_files(raw_dir: str | Path, table: str) -> list[Path]:
    """The Parquet files that hold ``table`` in ``raw_dir`` (either layout), sorted."""
    raw_dir = Path(raw_dir)
    single = raw_dir / f"{table}.parquet"
    files = ([single] if single.is_file() else []) + sorted((raw_dir / table).glob("*.parquet"))
    return files


def read_raw_table(raw_dir: str | Path, table: str) -> pd.DataFrame:
    """Read a raw table back as text columns (empty, with the contract columns, if absent)."""
    files = raw_table_files(raw_dir, table)
    if not files:
        return pd.DataFrame({c: pd.Series(dtype="string") for c in RAW_TABLES[table].columns})
    return pd.concat([pq.read_table(f).to_pandas() for f in files], ignore_index=True)
