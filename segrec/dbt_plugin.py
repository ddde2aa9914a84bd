"""dbt-duckdb plugin (profiles.yml `plugins: - module: segrec.dbt_plugin`).

Puts the PII hashing salt into a DuckDB variable on every cursor dbt opens, so the SQL
calls ``getvariable('segrec_pii_salt')`` and the salt never appears in compiled SQL,
logs or the manifest. The salt comes from the environment variable SEGREC_HASH_SALT.

When dbt loads it, it also makes the C library's allocator pyarrow's default memory pool
for the dbt process (:func:`use_system_arrow_pool`), where the Python models run.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import pyarrow as pa
from dbt.adapters.duckdb.plugins import BasePlugin

DEMO_SALT = "segrec-demo-salt"
# pyarrow's own switch: a pool named here (jemalloc, mimalloc, system) is left as it is
ARROW_POOL_VARIABLE = "ARROW_DEFAULT_MEMORY_POOL"


def pii_salt() -> str:
    """The salt for hashing personal data: SEGREC_HASH_SALT, or the public demo salt."""
    return os.environ.get("SEGREC_HASH_SALT") or DEMO_SALT


def use_system_arrow_pool(environ: Mapping[str, str] = os.environ) -> str:
    """Make the C allocator pyarrow's default memory pool, unless ``ARROW_DEFAULT_MEMORY_POOL``
    names one; returns the default pool's backend name.

    Why: with pyarrow 26's default, mimalloc, the large Arrow buffers of the Python models
    fault their pages in afresh time and again (measured on this project's 10M-event shop: a
    filter of its 3.7M interactions 1.0-1.7 s against 0.12 s with the C allocator; the served
    ranker lists of the 1M-event shop 21.6 s against 16.5 s whole process, 8.7 s of it system
    time against 2.3 s; docs/performance.md)."""
    if not environ.get(ARROW_POOL_VARIABLE):
        pa.set_memory_pool(pa.system_memory_pool())
    return pa.default_memory_pool().backend_name


class Plugin(BasePlugin):
    def initialize(self, plugin_config):
        use_system_arrow_pool()

    def configure_cursor(self, cursor):
        cursor.execute("set variable segrec_pii_salt = ?", [pii_salt()])
        cursor.execute("set variable segrec_pii_salt_is_demo = ?", [pii_salt() == DEMO_SALT])
        return cursor
