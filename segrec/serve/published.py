"""The published build the service reads: the export folder of `segrec export`, checked
against its manifest before anything is loaded, so a half-written or tampered export is refused
instead of served."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from segrec.errors import SegrecError

MANIFEST_NAME = "manifest.json"


def mart_file(name: str) -> str:
    """The manifest's name of mart ``name``'s Parquet file."""
    return f"marts/{name}.parquet"


def manifest_fingerprint(export_dir: str | Path) -> str | None:
    """sha256 of the export's manifest file (None when absent): changes with every export."""
    try:
        return hashlib.sha256((Path(export_dir) / MANIFEST_NAME).read_bytes()).hexdigest()
    except FileNotFoundError:
        return None


def read_manifest(export_dir: str | Path) -> tuple[dict, str]:
    """The export's manifest document and its fingerprint; a clear error when it is missing or not JSON."""
    path = Path(export_dir) / MANIFEST_NAME
    try:
        data = path.read_bytes()
        return json.loads(data.decode("utf-8")), hashlib.sha256(data).hexdigest()
    except FileNotFoundError as exc:
        raise SegrecError(f"no {MANIFEST_NAME} in {export_dir}: run `segrec export` first") from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SegrecError(f"{path} is not a valid manifest ({exc}): is an export still being written?") from exc


def read_verified(export_dir: str | Path, manifest: dict, name: str) -> bytes:
    """The bytes of export file ``name``, once they match its sha256 in ``manifest``.

    The file is read once and the same bytes are hashed and parsed, so a file replaced in
    between cannot slip through. `segrec export` writes the manifest last: a file that does not
    match it belongs to an export still being written (or is damaged), and is refused.
    """
    entry = (manifest.get("files") or {}).get(name)
    if entry is None:
        raise SegrecError(f"refusing the export in {export_dir}: {name} is not in its manifest")
    try:
        data = (Path(export_dir) / name).read_bytes()
    except FileNotFoundError as exc:
        raise SegrecError(f"refusing the export in {export_dir}: {name} is missing") from exc
    if hashlib.sha256(data).hexdigest() != entry.get("sha256"):
        raise SegrecError(
            f"refusing the export in {export_dir}: {name} does not match its sha256 in the manifest "
            "(an export still being written, or a damaged file)"
        )
    return data


def read_mart(export_dir: str | Path, manifest: dict, name: str, columns: list[str] | None = None) -> pa.Table:
    """Mart ``name`` of the export (only ``columns``, when given), verified by :func:`read_verified`."""
    data = read_verified(export_dir, manifest, mart_file(name))
    return pq.read_table(pa.BufferReader(data), columns=columns)
