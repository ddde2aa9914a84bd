"""The raw input contract of DESIGN.md, in one place for Python code.

The generator and the source adapters write these tables; dbt reads them through the
sources in ``models/staging/_staging__sources.yml``, which must list the same columns
(``tests/python/test_contract.py`` checks that the two agree).

Raw columns are written as text: staging parses them with ``try_cast`` and quarantines
what cannot be used, so a writer never has to decide what is valid.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RawTable:
    name: str
    required: tuple[str, ...]
    optional: tuple[str, ...] = ()
    is_required_table: bool = False

    @property
    def columns(self) -> tuple[str, ...]:
        return self.required + self.optional


RAW_TABLES: dict[str, RawTable] = {
    t.name: t
    for t in (
        RawTable(
            "events",
            required=("event_id", "event_time", "loaded_at", "event_type"),
            optional=(
                "customer_id", "anonymous_id", "session_id", "product_id", "order_id",
                "quantity", "unit_price", "currency", "device_type", "user_agent",
                "country", "city", "channel", "campaign",
            ),
            is_required_table=True,
        ),
        RawTable(
            "customers",
            required=("customer_id",),
            optional=(
                "email", "birth_date", "age", "gender", "country", "city", "signup_at",
                "marketing_consent", "updated_at",
            ),
        ),
        RawTable(
            "products",
            required=("product_id",),
            optional=(
                "name", "category_path", "brand", "color", "price", "cost", "launched_at",
                "is_active",
            ),
        ),
        RawTable(
            "email_events",
            required=("customer_id", "event_type", "event_time"),
            optional=("campaign_id",),
        ),
        RawTable(
            "promotion_responses",
            required=("customer_id", "promotion_id", "offered_at"),
            optional=("promotion_type", "redeemed_at"),
        ),
        RawTable(
            "experiment_assignments",
            required=("experiment_id", "customer_id", "variant"),
            optional=("assigned_at",),
        ),
        RawTable(
            "recommendation_impressions",
            required=("customer_id", "product_id", "shown_at"),
            optional=("strategy", "clicked_at"),
        ),
        RawTable(
            "privacy_requests",
            required=("customer_id", "request_type", "requested_at"),
        ),
    )
}

# Canonical event types (DESIGN.md). Aliases map onto these through seeds/event_type_aliases.csv.
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
