"""Publish a built warehouse: marts as Parquet, a Tableau extract, a read-only DuckDB copy,
marketing audience files and a manifest, so BI and marketing tools never hold the file
``dbt build`` writes.

Layout under ``--out`` (default ``exports/``)::

    marts/<table>.parquet           every mart
    tableau/segrec.hyper            every mart as a table in schema "Extract" (read back and counted)
    segrec_published.duckdb         the marts, for tools that want SQL
    audiences/<audience>.csv|.parquet   one file pair per marketing audience, hashed ids only
    manifest.json                   generated_at, per file rows / sha256 / columns, model versions

Privacy gates, checked before anything is written: the PII salt must not be the public demo
salt (unless ``--allow-demo-salt``), and no exported text column may hold a clear-text e-mail
address. Every file is written to a temporary name and renamed into place, and files of marts
or audiences that no longer exist are removed, so a deleted customer leaves no stale file.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from segrec.dbt_plugin import DEMO_SALT
from segrec.exports.audiences import AUDIENCE_TABLE, check_build_salt, write_audiences
from segrec.exports.hyper import HYPER_PATH, check_counts, hyper_cast, hyper_row_counts, stage_for_hyper, write_hyper
from segrec.exports.parquet import model_versions, prune_stale, sha256_file, snapshot_marts, write_marts
from segrec.exports.privacy import HASH_SALT_ENV, check_salt, find_emails, is_text_like
from segrec.io import atomic_path, write_text_atomic
from segrec.warehouse import row_counts

__all__ = [
    "HASH_SALT_ENV", "HYPER_PATH", "PUBLISHED_NAME", "check_counts", "check_salt", "export_warehouse", "find_emails",
    "hyper_cast", "hyper_row_counts", "is_text_like",
]

PUBLISHED_NAME = "segrec_published.duckdb"


def export_warehouse(
    db_path: str | Path,
    out_dir: str | Path,
    manifest: Mapping | None = None,
    *,
    salt: str | None,
    allow_demo_salt: bool = False,
) -> dict:
    """Write every export of the warehouse at ``db_path`` under ``out_dir``; returns the
    manifest document (also written as ``out_dir/manifest.json``).

    ``manifest`` is the parsed dbt manifest that names the output tables (required);
    ``salt`` is the PII salt the build used (SEGREC_HASH_SALT), checked by :func:`check_salt`.
    """
    check_salt(salt, allow_demo_salt)
    db_path, out_dir = Path(db_path), Path(out_dir)
    files: dict[Path, dict] = {}
    with (
        atomic_path(out_dir / PUBLISHED_NAME) as published,
        tempfile.TemporaryDirectory(prefix="segrec-export-") as scratch,
    ):
        # The published copy is the snapshot every other file is written from.
        with duckdb.connect(str(published)) as con:
            marts, notes = snapshot_marts(con, db_path, manifest)
            check_build_salt(con, marts, allow_demo_salt)
            counts = row_counts(con, marts, {name: "main" for name in marts})
            files |= write_marts(con, marts, out_dir / "marts")
            files |= write_audiences(con, marts, out_dir / "audiences")
            if AUDIENCE_TABLE not in marts:
                notes.append(f"{AUDIENCE_TABLE} absent: no audience files")
            versions = model_versions(con, marts)
            staged = stage_for_hyper(con, marts, Path(scratch))
        hyper_path = out_dir / HYPER_PATH
        with atomic_path(hyper_path) as tmp_hyper:
            write_hyper(staged, tmp_hyper, Path(scratch) / "hyper_logs")
            check_counts(counts, hyper_row_counts(tmp_hyper, Path(scratch) / "hyper_logs"), f"{hyper_path}")
    files[hyper_path] = {"kind": "tableau", "tables": counts, "sha256": sha256_file(hyper_path)}
    files[out_dir / PUBLISHED_NAME] = {
        "kind": "warehouse", "tables": counts, "sha256": sha256_file(out_dir / PUBLISHED_NAME)
    }
    removed = prune_stale(out_dir / "marts", set(files), (".parquet",))
    removed += prune_stale(out_dir / "audiences", set(files), (".csv", ".parquet"))
    notes += [f"removed stale {path.relative_to(out_dir).as_posix()}" for path in removed]
    document = {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "source": str(db_path),
        "demo_salt": not salt or salt == DEMO_SALT,
        "model_versions": versions,
        "notes": notes,
        "files": {path.relative_to(out_dir).as_posix(): entry for path, entry in sorted(files.items())},
    }
    write_text_atomic(out_dir / "manifest.json", json.dumps(document, indent=2, default=str) + "\n")
    return document
