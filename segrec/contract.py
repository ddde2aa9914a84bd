"""The raw input contract (docs/raw-contract.md), in one place for Python code.

``models/staging/_staging__sources.yml`` is the source of truth for table and column names,
types and required flags; this module mirrors it for the package, which is installed and so
cannot rely on finding the project's YAML. ``tests/python/test_contract.py`` checks that the
two, docs/raw-contract.md and the seeds agree.

The generator and the source adapters write these tables. Raw columns are written as text:
staging parses each to its ``data_type`` with ``try_cast`` and quarantines what cannot be used,
so a writer never has to decide what is valid.
"""

from __future__ import annotations

from dataclasses import dataclass

# The types staging parses raw text to (DuckDB names, as in the sources' data_type).
VARCHAR = "varchar"
TIMESTAMP = "timestamp"  # UTC, without time zone: naive text is UTC, offsets are honoured
DOUBLE = "double"
INTEGER = "integer"
DATE = "date"
BOOLEAN = "boolean"


@dataclass(frozen=True)
class RawColumn:
    name: str
    data_type: str
    required: bool = False


@dataclass(frozen=True)
class RawTable:
    name: str
    column_specs: tuple[RawColumn, ...]
    is_required_table: bool = False

    @property
    def columns(self) -> tuple[str, ...]:
        """Every contract column, in contract order (the order raw files are written in)."""
        return tuple(c.name for c in self.column_specs)

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.column_specs if c.required)

    @property
    def optional(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.column_specs if not c.required)

    @property
    def data_types(self) -> dict[str, str]:
        return {c.name: c.data_type for c in self.column_specs}


def _required(name: str, data_type: str = VARCHAR) -> RawColumn:
    return RawColumn(name, data_type, required=True)


def _optional(name: str, data_type: str = VARCHAR) -> RawColumn:
    return RawColumn(name, data_type)


RAW_TABLES: dict[str, RawTable] = {
    t.name: t
    for t in (
        RawTable(
            "events",
            (
                _required("event_id"), _required("event_time", TIMESTAMP), _required("loaded_at", TIMESTAMP),
                _required("event_type"),
                _optional("customer_id"), _optional("anonymous_id"), _optional("session_id"),
                _optional("product_id"), _optional("order_id"), _optional("quantity", DOUBLE),
                _optional("unit_price", DOUBLE), _optional("currency"), _optional("device_type"),
                _optional("user_agent"), _optional("country"), _optional("city"), _optional("channel"),
                _optional("campaign"),
            ),
            is_required_table=True,
        ),
        RawTable(
            "customers",
            (
                _required("customer_id"),
                _optional("email"), _optional("birth_date", DATE), _optional("age", INTEGER), _optional("gender"),
                _optional("country"), _optional("city"), _optional("signup_at", TIMESTAMP),
                _optional("marketing_consent", BOOLEAN), _optional("updated_at", TIMESTAMP),
            ),
        ),
        RawTable(
            "products",
            (
                _required("product_id"),
                _optional("name"), _optional("category_path"), _optional("brand"), _optional("color"),
                _optional("price", DOUBLE), _optional("cost", DOUBLE), _optional("launched_at", TIMESTAMP),
                _optional("is_active", BOOLEAN),
            ),
        ),
        RawTable(
            "email_events",
            (
                _required("customer_id"), _required("event_type"), _required("event_time", TIMESTAMP),
                _optional("campaign_id"),
            ),
        ),
        RawTable(
            "promotion_responses",
            (
                _required("customer_id"), _required("promotion_id"), _required("offered_at", TIMESTAMP),
                _optional("promotion_type"), _optional("redeemed_at", TIMESTAMP),
            ),
        ),
        RawTable(
            "experiment_assignments",
            (
                _required("experiment_id"), _required("customer_id"), _required("variant"),
                _optional("assigned_at", TIMESTAMP),
            ),
        ),
        RawTable(
            "recommendation_impressions",
            (
                _required("customer_id"), _required("product_id"), _required("shown_at", TIMESTAMP),
                _optional("strategy"), _optional("clicked_at", TIMESTAMP),
            ),
        ),
        RawTable(
            "privacy_requests",
            (_required("customer_id"), _required("request_type"), _required("requested_at", TIMESTAMP)),
        ),
    )
}

# Canonical event types. Aliases map onto these through seeds/event_type_aliases.csv.
EVENT_TYPES: tuple[str, ...] = (
    "page_view", "product_view", "search", "add_to_cart", "remove_from_cart",
    "begin_checkout", "purchase", "return",
)
# Event types that must name a product. A purchase or return may be order-level instead.
PRODUCT_EVENT_TYPES: tuple[str, ...] = ("product_view", "add_to_cart", "remove_from_cart")
ORDER_EVENT_TYPES: tuple[str, ...] = ("purchase", "return")

# Quarantine reason codes, in the order they are checked: a row gets the first that applies.
# The same list, with descriptions, is the seed seeds/quarantine_reasons.csv.
REASON_CODES: tuple[str, ...] = (
    "privacy_deleted",      # the customer asked to be deleted; identifying raw values are redacted
    "missing_event_id",     # event_id null or blank
    "duplicate_event",      # event_id already seen in an earlier (or the same) load: first load wins
    "invalid_event_time",   # event_time missing or unparseable
    "future_event_time",    # event_time later than loaded_at plus the clock-skew tolerance
    "unknown_event_type",   # event_type neither canonical nor a known alias
    "missing_identity",     # neither customer_id nor anonymous_id
    "missing_product",      # product event without product_id; order event without product_id and order_id
    "invalid_quantity",     # order event whose quantity is present but unparseable or not positive
    "invalid_price",        # order event whose unit_price is missing, unparseable or not positive
    "unknown_currency",     # order event whose currency is not in seeds/currency_rates.csv
    "bot_traffic",          # the device or customer is a bot (user agent or inhuman event rate)
)
