"""dbt-duckdb plugin (profiles.yml `plugins: - module: segrec.dbt_plugin`).

Puts the PII hashing salt into a DuckDB variable on every cursor dbt opens, so the SQL
calls ``getvariable('segrec_pii_salt')`` and the salt never appears in compiled SQL,
logs or the manifest. The salt comes from the environment variable SEGREC_HASH_SALT.
"""

from __future__ import annotations

import os

from dbt.adapters.duckdb.plugins import BasePlugin

DEMO_SALT = "segrec-demo-salt"


def pii_salt() -> str:
    """The salt for hashing personal data: SEGREC_HASH_SALT, or the public demo salt."""
    return os.environ.get("SEGREC_HASH_SALT") or DEMO_SALT


class Plugin(BasePlugin):
    def configure_cursor(self, cursor):
        cursor.execute("set variable segrec_pii_salt = ?", [pii_salt()])
        cursor.execute("set variable segrec_pii_salt_is_demo = ?", [pii_salt() == DEMO_SALT])
        return cursor
