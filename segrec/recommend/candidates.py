"""Re-purchase-aware candidate generation and per-(customer, product) features for a learned ranker.

Why: on real (wholesale) shops most of what a customer buys next is something they bought
before (Li et al., "A Next Basket Recommendation Reality Check", TOIS 2023). A global
"may repeat" switch cannot express that; instead every own past product is a candidate,
described by how often, how recently and how "due" it is (days since the last own purchase
against the customer's and the product's typical re-order interval), next to discovery
candidates (ALS, item co-occurrence, popularity, trending) described by the same columns.
A ranker (``segrec.recommend.ranker``) learns from a past window how to blend them.

Everything is computed at a ``cutoff``: only purchases strictly before it are read, and
"days since" are measured to it, so the same function gives training pairs (cutoff = start
of the validation window) and serving pairs (cutoff = now / start of the test window).

Input ``purchases``: one row per purchase line with ``customer_key``, ``product_id``,
``order_id``, ``event_time`` (datetime64), ``quantity`` and ``unit_price`` (see
:func:`purchase_lines`). A day is a calendar day of ``event_time``.
"""

from __future__ import annotations

import bisect
import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import scipy.sparse as sp

from segrec.errors import SegrecError
from segrec.io import require_columns
from segrec.recommend._arrays import row_blocks, row_ranks, text_in, top_k_rows
from segrec.recommend.als import ALSFactory, ALSRecommender
from segrec.recommend.interactions import InteractionMatrix
from segrec.schemas import plain_frame

PURCHASE_COLUMNS: tuple[str, ...] = ("customer_key", "product_id", "order_id", "event_time", "quantity", "unit_price")
DAY = pd.Timedelta(days=1)
# "Never" for day counts of pairs the customer did not buy: larger than any history, so
# trees split it off, and finite, so linear models can use it (with the is_own flag).
NEVER_DAYS = 10_000.0
# Cells of the dense slice of the co-occurrence cosine made at a time (64 MB of float32).
DENSE_CELLS = 16_000_000
SOURCES: tuple[str, ...] = ("own", "als", "cooc", "popular", "trending", "hybrid")
# A pair's 0/1 flag per source that proposed it.
SOURCE_COLUMNS: tuple[str, ...] = tuple(f"src_{source}" for source in SOURCES)
# Columns of the pair frame the ranker may learn from (keys, labels and flags excluded).
FEATURE_COLUMNS: tuple[str, ...] = (
    "is_own",
    "own_lines",
    "own_days",
    "own_day_share",
    "own_quantity_log",
    "days_since_last_own",
    "days_since_first_own",
    "own_days_30d",
    "own_days_90d",
    "own_days_last_year",
    "own_last3_days",
    "own_last5_days",
    "own_gap_days",
    "due_own",
    "due_product",
    "product_gap_days",
    "product_repeat_share",
    "pop_7d",
    "pop_30d",
    "pop_90d",
    "pop_365d",
    "trend",
    "pop_last_year",
    "als_score",
    "als_rank",
    "cooc_score",
    "cooc_max",
    "product_age_days",
    "price_fit",
    "customer_repeat_share",
    "customer_orders",
    "customer_days",
    "customer_products",
    "days_since_last_order",
    "customer_gap_days",
    "due_customer",
    "tenure_days",
    "customer_active_last_year",
    "hybrid_score",
    "hybrid_rank",
)
# Columns of an external candidate source (the hybrid's lists at the same cutoff).
EXTRA_COLUMNS: tuple[str, ...] = ("customer_key", "product_id", "hybrid_score", "hybrid_rank")


def purchase_lines(events: pd.DataFrame) -> pd.DataFrame:
    """Raw-contract events -> purchase lines: event_type purchase, quantity > 0, known customer
    and product; ``customer_key`` = ``customer_id`` (anonymous orders cannot be personalised)."""
    require_columns(events, "events", ("event_type", "customer_id", "product_id", "order_id", "event_time",
                                       "quantity", "unit_price"))
    quantity = pd.to_numeric(events["quantity"], errors="coerce")
    keep = (
        (events["event_type"] == "purchase").fillna(False).to_numpy(dtype=bool)
        & (quantity > 0).fillna(False).to_numpy(dtype=bool)
        & events["customer_id"].notna().to_numpy()
        & events["product_id"].notna().to_numpy()
    )
    chosen = events.loc[keep]
    return pd.DataFrame(
        {
            "customer_key": chosen["customer_id"].astype(str).to_numpy(dtype=object),
            "product_id": chosen["product_id"].astype(str).to_numpy(dtype=object),
            "order_id": chosen["order_id"].astype(str).to_numpy(dtype=object),
            "event_time": pd.to_datetime(chosen["event_time"]).to_numpy(),
            "quantity": quantity[keep].to_numpy(dtype=float),
            "unit_price": pd.to_numeric(chosen["unit_price"], errors="coerce").to_numpy(dtype=float),
        }
    )


def history_before(purchases: pd.DataFrame, cutoff: pd.Timestamp) -> pd.DataFrame:
    """Purchase lines strictly before ``cutoff`` (what a model built at ``cutoff`` may read)."""
    require_columns(purchases, "purchases", PURCHASE_COLUMNS)
    return purchases[purchases["event_time"] < pd.Timestamp(cutoff)]


def window_truth(purchases: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp | None = None) -> pd.DataFrame:
    """Distinct (customer_key, product_id) bought in ``[start, end)`` (``end`` None: to the last
    event) by customers with a purchase before ``start``: the pairs a list is judged on."""
    require_columns(purchases, "purchases", PURCHASE_COLUMNS)
    times = purchases["event_time"]
    inside = times >= pd.Timestamp(start)
    if end is not None:
        inside &= times < pd.Timestamp(end)
    known = set(purchases.loc[times < pd.Timestamp(start), "customer_key"])
    pairs = purchases.loc[inside, ["customer_key", "product_id"]].drop_duplicates()
    pairs = pairs[pairs["customer_key"].isin(known)]
    return pairs.sort_values(["customer_key", "product_id"]).reset_index(drop=True)


def _days_before(cutoff: pd.Timestamp, times: pd.Series) -> np.ndarray:
    return ((pd.Timestamp(cutoff) - times) / DAY).to_numpy(dtype=float)


def _median_gap(days: pd.DataFrame, keys: list[str]) -> pd.Series:
    """Median gap in days between consecutive distinct purchase days per ``keys`` group
    (NaN when a group has one day). ``days`` holds distinct (keys, day) rows."""
    ordered = days.sort_values([*keys, "day"], kind="stable")
    gaps = ordered.groupby(keys, sort=False)["day"].diff() / DAY
    return gaps.groupby([ordered[k] for k in keys]).median()


def own_pair_stats(history: pd.DataFrame, cutoff: pd.Timestamp) -> pd.DataFrame:
    """Per bought (customer, product): frequency, recency and the own re-order interval.

    Columns: ``own_lines`` (purchase lines), ``own_days`` (distinct purchase days),
    ``own_quantity_log`` (log1p of units), ``days_since_last_own`` / ``days_since_first_own``
    (to ``cutoff``, from the line times), ``own_days_30d`` / ``own_days_90d`` (purchase days in
    the last 30 / 90 days), ``own_last3_days`` / ``own_last5_days`` (how many of the customer's
    last 3 / 5 purchase days held it), ``own_gap_days`` (median days between consecutive
    distinct purchase days; NaN with a single day).
    """
    require_columns(history, "purchases", PURCHASE_COLUMNS)
    frame = history.assign(day=history["event_time"].dt.floor("D"))
    grouped = frame.groupby(["customer_key", "product_id"], sort=True)
    stats = grouped.agg(
        own_lines=("order_id", "size"),
        own_days=("day", "nunique"),
        units=("quantity", "sum"),
        last_time=("event_time", "max"),
        first_time=("event_time", "min"),
    )
    days = frame[["customer_key", "product_id", "day"]].drop_duplicates()
    stats["own_gap_days"] = _median_gap(days, ["customer_key", "product_id"]).reindex(stats.index)
    for w in (30, 90):
        recent = days[days["day"] >= pd.Timestamp(cutoff) - pd.Timedelta(days=w)]
        stats[f"own_days_{w}d"] = recent.groupby(["customer_key", "product_id"]).size().reindex(stats.index)
    # Rank of each purchase day among the customer's own purchase days, latest = 1: what
    # the last few baskets held is the strongest next-basket signal (Li et al. 2023).
    customer_days = days[["customer_key", "day"]].drop_duplicates()
    day_rank = customer_days.groupby("customer_key")["day"].rank(method="first", ascending=False)
    ranked = days.merge(customer_days.assign(day_rank=day_rank.to_numpy()), on=["customer_key", "day"])
    for n in (3, 5):
        latest = ranked[ranked["day_rank"] <= n]
        stats[f"own_last{n}_days"] = latest.groupby(["customer_key", "product_id"]).size().reindex(stats.index)
    out = pd.DataFrame(
        {
            "own_lines": stats["own_lines"].to_numpy(dtype=float),
            "own_days": stats["own_days"].to_numpy(dtype=float),
            "own_quantity_log": np.log1p(stats["units"].clip(lower=0).to_numpy(dtype=float)),
            "days_since_last_own": _days_before(cutoff, stats["last_time"]),
            "days_since_first_own": _days_before(cutoff, stats["first_time"]),
            "own_days_30d": stats["own_days_30d"].fillna(0).to_numpy(dtype=float),
            "own_days_90d": stats["own_days_90d"].fillna(0).to_numpy(dtype=float),
            "own_last3_days": stats["own_last3_days"].fillna(0).to_numpy(dtype=float),
            "own_last5_days": stats["own_last5_days"].fillna(0).to_numpy(dtype=float),
            "own_gap_days": stats["own_gap_days"].to_numpy(dtype=float),
        },
        index=stats.index,
    )
    return out.reset_index()


def last_year_stats(history: pd.DataFrame, cutoff: pd.Timestamp, *, horizon_days: int) -> tuple[
    pd.DataFrame, pd.DataFrame, pd.DataFrame
]:
    """What happened one year earlier in the window about to be predicted,
    ``[cutoff - 365d, cutoff - 365d + horizon_days)``: seasonal shops (gifts before Christmas)
    re-live their calendar. Returns per (customer, product) ``own_days_last_year``, per
    product ``pop_last_year`` (distinct buyers) and per customer ``customer_active_last_year``
    (purchase days); all empty when the history is shorter than a year."""
    require_columns(history, "purchases", PURCHASE_COLUMNS)
    start = pd.Timestamp(cutoff) - pd.Timedelta(days=365)
    times = history["event_time"]
    window = history[(times >= start) & (times < start + pd.Timedelta(days=horizon_days))]
    window = window.assign(day=window["event_time"].dt.floor("D"))
    pairs = window.groupby(["customer_key", "product_id"])["day"].nunique().rename("own_days_last_year")
    pop = window.groupby("product_id")["customer_key"].nunique().rename("pop_last_year")
    active = window.groupby("customer_key")["day"].nunique().rename("customer_active_last_year")
    return pairs.reset_index(), pop.reset_index(), active.reset_index()


def customer_stats(history: pd.DataFrame, cutoff: pd.Timestamp) -> pd.DataFrame:
    """Per customer: orders, purchase days, distinct products, recency, tenure, the median
    days between purchase days, ``customer_repeat_share`` (share of their products bought on
    2+ days: how much of a re-orderer they are), and the mean/spread of log unit prices (for price fit)."""
    require_columns(history, "purchases", PURCHASE_COLUMNS)
    frame = history.assign(day=history["event_time"].dt.floor("D"),
                           log_price=np.log(history["unit_price"].clip(lower=0.01)))
    stats = frame.groupby("customer_key", sort=True).agg(
        customer_orders=("order_id", "nunique"),
        customer_days=("day", "nunique"),
        customer_products=("product_id", "nunique"),
        last_time=("event_time", "max"),
        first_time=("event_time", "min"),
        price_mean=("log_price", "mean"),
        price_std=("log_price", "std"),
    )
    pair_days = frame[["customer_key", "product_id", "day"]].drop_duplicates().groupby(
        ["customer_key", "product_id"]).size()
    repeat_share = (pair_days >= 2).groupby(level=0).mean()
    days = frame[["customer_key", "day"]].drop_duplicates()
    gap = _median_gap(days, ["customer_key"])
    gap.index = gap.index.get_level_values(0)
    return pd.DataFrame(
        {
            "customer_orders": stats["customer_orders"].to_numpy(dtype=float),
            "customer_days": stats["customer_days"].to_numpy(dtype=float),
            "customer_products": stats["customer_products"].to_numpy(dtype=float),
            "days_since_last_order": _days_before(cutoff, stats["last_time"]),
            "tenure_days": _days_before(cutoff, stats["first_time"]),
            "customer_gap_days": gap.reindex(stats.index).to_numpy(dtype=float),
            "customer_repeat_share": repeat_share.reindex(stats.index).to_numpy(dtype=float),
            "price_mean": stats["price_mean"].to_numpy(dtype=float),
            "price_std": stats["price_std"].fillna(0.0).to_numpy(dtype=float),
        },
        index=stats.index,
    ).reset_index()


def product_stats(
    history: pd.DataFrame, cutoff: pd.Timestamp, *, windows: Sequence[int] = (7, 30, 90, 365)
) -> pd.DataFrame:
    """Per product: distinct buyers in the last ``w`` days for each window (``pop_{w}d``),
    ``trend`` (buyers of the last 30 days against the 30-day average of the last 90, +1
    smoothed), ``product_gap_days`` (median gap between a customer's consecutive purchase
    days of it, pooled over customers: the typical re-order interval), ``product_repeat_share``
    (share of its buyers who bought it on 2+ days), ``product_age_days`` (days since its first
    sale: new lines sell to many shops at once) and ``price_log`` (log median unit price)."""
    require_columns(history, "purchases", PURCHASE_COLUMNS)
    cutoff = pd.Timestamp(cutoff)
    frame = history.assign(day=history["event_time"].dt.floor("D"))
    out = pd.DataFrame(index=pd.Index(np.sort(frame["product_id"].unique()), name="product_id"))
    for w in sorted(set(windows) | {30, 90}):
        recent = frame[frame["event_time"] >= cutoff - pd.Timedelta(days=w)]
        out[f"pop_{w}d"] = recent.groupby("product_id")["customer_key"].nunique().reindex(out.index).fillna(0.0)
    out["trend"] = (out["pop_30d"] + 1.0) / (out["pop_90d"] / 3.0 + 1.0)
    days = frame[["customer_key", "product_id", "day"]].drop_duplicates()
    ordered = days.sort_values(["product_id", "customer_key", "day"], kind="stable")
    gaps = ordered.groupby(["product_id", "customer_key"], sort=False)["day"].diff() / DAY
    out["product_gap_days"] = gaps.groupby(ordered["product_id"]).median().reindex(out.index)
    per_pair = days.groupby(["product_id", "customer_key"]).size()
    out["product_repeat_share"] = (per_pair >= 2).groupby(level=0).mean().reindex(out.index)
    out["product_age_days"] = ((cutoff - frame.groupby("product_id")["event_time"].min()) / DAY).reindex(out.index)
    out["price_log"] = np.log(frame.groupby("product_id")["unit_price"].median().clip(lower=0.01)).reindex(out.index)
    keep = [c for c in out.columns if not c.startswith("pop_") or int(c[4:-1]) in set(windows)]
    return out[keep].reset_index()


def _binary_matrix(history: pd.DataFrame) -> tuple[InteractionMatrix, InteractionMatrix]:
    """(distinct purchase days, 0/1) customers x products matrices on sorted keys."""
    days = history.assign(day=history["event_time"].dt.floor("D"))[["customer_key", "product_id", "day"]]
    days = days.drop_duplicates()
    users, user_keys = pd.factorize(days["customer_key"], sort=True)
    items, item_keys = pd.factorize(days["product_id"], sort=True)
    shape = (len(user_keys), len(item_keys))
    counts = sp.csr_matrix((np.ones(len(days), dtype=np.float32), (users, items)), shape=shape)
    counts.sum_duplicates()
    counts.sort_indices()
    binary = counts.copy()
    binary.data = np.ones_like(binary.data)
    ukeys, ikeys = np.asarray(user_keys, dtype=object), np.asarray(item_keys, dtype=object)
    return InteractionMatrix(counts, ukeys, ikeys), InteractionMatrix(binary, ukeys, ikeys)


def cooccurrence_cosine(binary: sp.csr_matrix) -> sp.csr_matrix:
    """Item x item cosine of the customer sets (0/1 columns), diagonal zeroed: two products
    are alike when the same customers buy both. Sparse float32: only pairs with a common
    customer are stored (a dense items^2 array was 1.45 GB at 19,000 products)."""
    gram = (binary.T @ binary).tocsr().astype(np.float32)
    gram.sort_indices()
    norms = np.sqrt(gram.diagonal()).astype(np.float32)
    rows = np.repeat(np.arange(gram.shape[0]), np.diff(gram.indptr))
    denom = norms[rows] * norms[gram.indices]
    gram.data = np.divide(gram.data, denom, out=np.zeros_like(gram.data), where=denom > 0)
    gram.data[rows == gram.indices] = 0.0
    gram.eliminate_zeros()
    return gram


def _top_columns(scores: np.ndarray, n: int, exclude: sp.csr_matrix) -> np.ndarray:
    """Column indices of the ``n`` best scores per row (best first, ties by lower index), the
    ``exclude`` cells ranked last (at -inf)."""
    top = np.empty((scores.shape[0], min(n, scores.shape[1])), dtype=np.int64)
    for block in row_blocks(*scores.shape):  # a masked copy and a selection per block, in cache
        masked = scores[block].astype(np.float32, copy=True)
        rows, cols = exclude[block].nonzero()
        masked[rows, cols] = -np.inf
        top[block] = top_k_rows(masked, n)[0]
    return top


def _top_positive(scores: np.ndarray, n: int, exclude: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns of each row's ``n`` best positive scores outside ``exclude`` (best
    first, ties by lower column; :func:`_top_columns` then the positive ones): a row with fewer
    positive scores proposes fewer, not the catalog's first columns at score 0."""
    top = _top_columns(scores, n, exclude)
    rows = np.broadcast_to(np.arange(len(top))[:, None], top.shape)
    positive = np.take_along_axis(scores, top, axis=1) > 0
    if positive.any():  # excluded cells rank last, but a row with fewer than n others still has them
        positive[positive] = np.asarray(exclude[rows[positive], top[positive]]).ravel() == 0
    return rows[positive], top[positive]


@dataclass(frozen=True)
class CandidateConfig:
    """How many candidates each source proposes per customer, and the ALS settings.

    ``n_own``: own past products kept (most purchase days first; wholesale customers can
    have thousands); ``n_als`` / ``n_cooc``: unbought products by ALS score / by summed
    co-occurrence cosine with the customer's products (positive only: a product no buyer of
    theirs bought is no co-occurrence candidate); ``n_popular`` / ``n_trending``: the
    products most bought in the last 30 days / rising most (``trend``) among those with at
    least ``min_trending_buyers`` buyers in 30 days. ``horizon_days``: the length of the
    window predicted (for the same-window-last-year features). ``als`` holds ALSRecommender params.
    """

    n_own: int = 200
    n_als: int = 50
    n_cooc: int = 50
    n_popular: int = 50
    n_trending: int = 20
    min_trending_buyers: int = 5
    popularity_windows: tuple[int, ...] = (7, 30, 90, 365)
    horizon_days: int = 30
    als: Mapping[str, Any] = field(
        default_factory=lambda: {"factors": 32, "regularization": 0.1, "alpha": 5.0, "iterations": 15}
    )


def _empty_history() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series([], dtype=t) for c, t in (
        ("customer_key", object), ("product_id", object), ("order_id", object),
        ("event_time", "datetime64[ns]"), ("quantity", float), ("unit_price", float))})


def sorted_by_customer(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` sorted by ``customer_key`` (as strings, stable), so that
    :func:`customer_slice` can cut out a batch of customers without scanning it."""
    keys = frame["customer_key"].astype(str)
    return frame.assign(customer_key=keys).iloc[np.argsort(keys.to_numpy(dtype=object), kind="stable")] \
        .reset_index(drop=True)


def customer_slice(frame: pd.DataFrame, first: str, last: str) -> pd.DataFrame:
    """The rows of a :func:`sorted_by_customer` frame with ``first <= customer_key <= last``.

    Binary search reading ~log2(rows) keys: converting the (Arrow-backed) key column to
    NumPy for each batch cost a pass over every row of the frame."""
    keys = frame["customer_key"].array
    return frame.iloc[bisect.bisect_left(keys, first):bisect.bisect_right(keys, last)]


class CutoffRows:
    """The rows of a table of several cutoffs (columns ``cutoff``, ``customer_key``, ...), asked
    by cutoff and customer range (:meth:`rows`), the table kept as Arrow.

    Why not pandas: a large shop's hybrid lists (11M rows at 10M events) took several GB as
    pandas, sorted by customer and split by cutoff. Here a batch's rows are a zero-copy slice of
    the table sorted by cutoff and customer_key, made pandas when asked. A table that arrives
    in that order (int_recommendation__hybrid_latest then __hybrid_holdout is) is kept as it is;
    another is sorted once (a copy: a sort in DuckDB kept ~1.5x the table's size in the process)."""

    def __init__(self, table: pa.Table | pd.DataFrame) -> None:
        table = table if isinstance(table, pa.Table) else pa.Table.from_pandas(table, preserve_index=False)
        missing = [c for c in ("cutoff", "customer_key") if c not in table.column_names]
        if missing:
            raise SegrecError(f"CutoffRows: missing column(s) {missing}")
        # keys as text, as the customer batches are; Arrow orders UTF-8 text as Python orders str
        for name in ("cutoff", "customer_key"):
            table = table.set_column(table.column_names.index(name), name, pc.cast(table[name], pa.string()))
        if not _sorted_by_cutoff_and_customer(table):
            table = table.take(pc.sort_indices(table, sort_keys=[("cutoff", "ascending"),
                                                                 ("customer_key", "ascending")]))
        self.table_ = table

    def _key(self, row: int) -> tuple[str, str]:
        return self.table_["cutoff"][row].as_py(), self.table_["customer_key"][row].as_py()

    def rows(self, cutoff: str, first: str, last: str) -> pd.DataFrame:
        """The rows of ``cutoff`` with ``first <= customer_key <= last``, sorted by customer_key
        (found by binary search: ~log2(rows) keys read)."""
        keys = _Positions(self.table_.num_rows, self._key)
        start = bisect.bisect_left(keys, (cutoff, first))
        stop = bisect.bisect_right(keys, (cutoff, last), lo=start)
        return plain_frame(self.table_.slice(start, stop - start))


def _sorted_by_cutoff_and_customer(table: pa.Table) -> bool:
    """Whether the (text) ``cutoff``, ``customer_key`` of ``table`` never decrease (one pass)."""
    if table.num_rows < 2:
        return True
    cutoff, key = table["cutoff"], table["customer_key"]
    c0, c1, k0, k1 = cutoff.slice(0, len(cutoff) - 1), cutoff.slice(1), key.slice(0, len(key) - 1), key.slice(1)
    in_order = pc.or_kleene(pc.less(c0, c1), pc.and_kleene(pc.equal(c0, c1), pc.less_equal(k0, k1)))
    return bool(pc.all(pc.fill_null(in_order, False)).as_py())


@dataclass(frozen=True)
class _Positions:
    """A read-only sequence of ``length`` values ``value(i)`` for :mod:`bisect`."""

    length: int
    value: Any

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, position: int) -> Any:
        return self.value(position)


@dataclass(frozen=True)
class Candidates:
    """A batch's candidate pairs before their features (:meth:`CandidateGenerator.candidates`):
    ``pairs`` (customer_key, product_id and a 0/1 ``src_<source>`` per source, sorted by both
    keys), the batch's score grids the features read (rows, grids by name; None without
    history) and the ``extra`` candidates with their columns."""

    pairs: pd.DataFrame
    grids: tuple[np.ndarray, dict[str, np.ndarray]] | None
    extra: pd.DataFrame | None


class CandidateGenerator:
    """Candidates of every source and their pair features at one ``cutoff``, fitted once and
    asked batch by batch (scikit-learn style ``fit`` / ``transform``).

    Why batches: the purchase sources score every customer against the whole catalog (ALS,
    co-occurrence); a shop of 100,000s of customers cannot hold those grids, nor all its
    pairs, at once. ``fit`` computes what every batch shares (purchase statistics, ALS, the
    co-occurrence cosine, the popular and trending products); ``transform`` builds the pairs of
    the customers asked for, the same rows whether asked one by one or all together.

    Parameters: ``config`` (how many candidates per source, ALS settings), ``random_state``
    (ALS seed), ``num_threads`` (implicit's solver threads; BLAS is held at one), ``als_factory``
    (what trains ALS, segrec.recommend.pipeline.als_factory_for; None: implicit with
    ``num_threads``).
    """

    def __init__(self, config: CandidateConfig | None = None, random_state: int = 0, num_threads: int = 1,
                 als_factory: ALSFactory | None = None) -> None:
        self.config = config
        self.random_state = random_state
        self.num_threads = num_threads
        self.als_factory = als_factory

    def fit(self, purchases: pd.DataFrame, cutoff: pd.Timestamp) -> CandidateGenerator:
        """Learn what the sources need from the purchases strictly before ``cutoff``."""
        config = self.config or CandidateConfig()
        self.config_ = config
        self.cutoff_ = pd.Timestamp(cutoff)
        history = history_before(purchases, self.cutoff_)
        self.has_history_ = not history.empty
        stats_input = history if self.has_history_ else _empty_history()
        own = own_pair_stats(stats_input, self.cutoff_)
        self.own_ = sorted_by_customer(own)
        self.products_ = product_stats(stats_input, self.cutoff_, windows=config.popularity_windows)
        self.customers_ = sorted_by_customer(customer_stats(stats_input, self.cutoff_))
        own_ly, self.pop_last_year_, active_ly = last_year_stats(stats_input, self.cutoff_,
                                                                 horizon_days=config.horizon_days)
        self.own_last_year_, self.active_last_year_ = sorted_by_customer(own_ly), sorted_by_customer(active_ly)
        if not self.has_history_:
            return self
        counts, self.binary_ = _binary_matrix(history)
        confidence = counts.matrix.copy()
        confidence.data = np.log1p(confidence.data).astype(np.float32)
        factory = self.als_factory or functools.partial(ALSRecommender, num_threads=self.num_threads)
        self.als_ = factory(**dict(config.als), random_state=self.random_state).fit(
            InteractionMatrix(confidence, self.binary_.customer_keys, self.binary_.product_ids))
        self.cosine_ = cooccurrence_cosine(self.binary_.matrix)
        own_keep = own.sort_values(["customer_key", "own_days", "days_since_last_own"], ascending=[True, False, True])
        self.own_keep_ = sorted_by_customer(own_keep.groupby("customer_key", sort=False).head(config.n_own)[
            ["customer_key", "product_id"]])
        pop = self.products_.set_index("product_id")
        self.popular_ = pop["pop_30d"].sort_values(ascending=False, kind="stable").index[:config.n_popular] \
            .to_numpy(dtype=object)
        rising = pop.loc[pop["pop_30d"] >= config.min_trending_buyers, "trend"].sort_values(
            ascending=False, kind="stable")
        self.trending_ = rising.index[:config.n_trending].to_numpy(dtype=object)
        return self

    def transform(self, customers: Sequence[object] | None = None, extra: pd.DataFrame | None = None) -> pd.DataFrame:
        """One row per (customer_key, product_id) with a 0/1 ``src_<source>`` column per source
        in SOURCES and the pair features of FEATURE_COLUMNS.

        ``customers`` (default: all with history) limits who gets candidates from the
        purchase sources. ``extra`` (columns EXTRA_COLUMNS: the hybrid's list at the same
        cutoff) adds candidates for any customer, also one without purchases (then only
        those, with the customer features missing); pairs it does not propose get
        ``hybrid_score`` 0 and ``hybrid_rank`` NEVER_DAYS. Further columns of ``extra`` (e.g.
        the hybrid's strategy and reason) come out last, missing where it proposes nothing.
        The same as :meth:`features` of :meth:`candidates`.
        """
        return self.features(self.candidates(customers, extra))

    def candidates(self, customers: Sequence[object] | None = None, extra: pd.DataFrame | None = None) -> Candidates:
        """:meth:`transform`'s pairs with their sources alone, before any feature: a caller that
        keeps only some of them (the ranker's negative sampling keeps about 1 in 16 training
        pairs) asks :meth:`features` for those alone."""
        if not hasattr(self, "config_"):
            raise SegrecError("CandidateGenerator: call fit before transform")
        src_cols = list(SOURCE_COLUMNS)
        parts = []
        if extra is not None:
            require_columns(extra, "extra candidates", EXTRA_COLUMNS)
            extra = extra.assign(customer_key=extra["customer_key"].astype(str))
            parts.append(extra[["customer_key", "product_id"]].assign(src_hybrid=1))
        if not self.has_history_ and not parts:
            raise SegrecError(f"candidate_pairs: no purchases before {self.cutoff_} and no other candidates")
        grids = None
        if self.has_history_:
            rows = self._rows(customers)
            own_parts, grids = self._purchase_candidates(rows)
            parts.extend(own_parts)
        pairs = pd.concat(parts, ignore_index=True)
        for col in src_cols:
            if col not in pairs:
                pairs[col] = 0
        pairs = pairs.groupby(["customer_key", "product_id"], sort=True)[src_cols].max().fillna(0).astype(np.int8)
        return Candidates(pairs.reset_index(), grids, extra)

    def owned(self, pairs: pd.DataFrame) -> np.ndarray:
        """True for each (customer_key, product_id) the customer bought before the cutoff: the
        feature ``is_own``, without the others."""
        own = self._customer_rows(self.own_, pairs)
        keys = pd.MultiIndex.from_frame(pairs[["customer_key", "product_id"]])
        return keys.isin(pd.MultiIndex.from_frame(own[["customer_key", "product_id"]]))

    def features(self, candidates: Candidates, keep: np.ndarray | None = None) -> pd.DataFrame:
        """:meth:`transform`'s rows of the ``candidates`` (of those where ``keep``, a boolean
        mask over them, in their order): a pair's features do not depend on the pairs beside it."""
        src_cols = list(SOURCE_COLUMNS)
        pairs = candidates.pairs if keep is None else candidates.pairs[keep].reset_index(drop=True)
        pairs = self._pair_features(pairs)
        for name in ("als_score", "als_rank", "cooc_score", "cooc_max"):
            pairs[name] = np.nan
        if candidates.grids is not None:
            rows, scores = candidates.grids
            r = pd.Index(self.binary_.customer_keys[rows].astype(str)).get_indexer(pairs["customer_key"])
            c = self.binary_.item_columns(pairs["product_id"])
            known = (r >= 0) & (c >= 0)
            for name, grid in scores.items():
                pairs.loc[known, name] = grid[r[known], c[known]]
            pairs.loc[known, "als_rank"] = row_ranks(scores["als_score"], r[known], c[known]).astype(np.float32)
            pairs.loc[known, "cooc_max"] = _max_similarity(self.binary_.matrix[rows], self.cosine_, r[known],
                                                           c[known])
        extra = candidates.extra
        carried = [] if extra is None else [c for c in extra.columns if c not in EXTRA_COLUMNS]
        if extra is not None:
            pairs = pairs.merge(extra[[*EXTRA_COLUMNS, *carried]], on=["customer_key", "product_id"], how="left")
        else:
            pairs["hybrid_score"], pairs["hybrid_rank"] = np.nan, np.nan
        pairs["hybrid_score"] = pairs["hybrid_score"].astype(float).fillna(0.0)
        pairs["hybrid_rank"] = pairs["hybrid_rank"].astype(float).fillna(NEVER_DAYS)
        # every feature a float, whichever pairs are asked (a product column is integer only
        # while every pair finds its product, and the training data's version hashes types)
        return pairs[["customer_key", "product_id", *src_cols, *FEATURE_COLUMNS, *carried]].astype(
            dict.fromkeys(FEATURE_COLUMNS, float))

    def _rows(self, customers: Sequence[object] | None) -> np.ndarray:
        """Matrix rows of the asked customers who have history, in key order."""
        if customers is None:
            return np.arange(len(self.binary_.customer_keys))
        rows = self.binary_.user_rows(list(customers))
        return np.unique(rows[rows >= 0])

    def _purchase_candidates(self, rows: np.ndarray) -> tuple[list[pd.DataFrame], tuple[np.ndarray, dict]]:
        """The purchase-based candidate sets (own, ALS, co-occurrence, popular, trending) of
        ``rows``, and the score grids (rows x catalog) the pair features read."""
        config = self.config_
        keys = self.binary_.customer_keys[rows].astype(str).astype(object)
        item_keys = self.binary_.product_ids
        sub_binary = self.binary_.matrix[rows]
        als_scores = self.als_.score(rows).astype(np.float32)
        n_own_items = np.maximum(np.diff(sub_binary.indptr), 1).astype(np.float32)
        cooc_sum = (sub_binary @ self.cosine_).toarray().astype(np.float32, copy=False)
        if len(keys):
            own = customer_slice(self.own_keep_, min(keys), max(keys))
            own = own[text_in(own["customer_key"], keys)]
        else:
            own = self.own_keep_.iloc[:0]
        parts = [own.assign(src_own=1)]
        top = _top_columns(als_scores, config.n_als, sub_binary)
        parts.append(pd.DataFrame({
            "customer_key": np.repeat(keys, top.shape[1]),
            "product_id": item_keys[top.ravel()],
            "src_als": 1,
        }))
        cooc_rows, cooc_columns = _top_positive(cooc_sum, config.n_cooc, sub_binary)
        parts.append(pd.DataFrame({"customer_key": keys[cooc_rows], "product_id": item_keys[cooc_columns],
                                   "src_cooc": 1}))
        for name, chosen in (("popular", self.popular_), ("trending", self.trending_)):
            parts.append(pd.DataFrame({
                "customer_key": np.repeat(keys, len(chosen)),
                "product_id": np.tile(chosen, len(keys)),
                f"src_{name}": 1,
            }))
        grids = {"als_score": als_scores, "cooc_score": cooc_sum / n_own_items[:, None]}
        return parts, (rows, grids)

    def _customer_rows(self, frame: pd.DataFrame, pairs: pd.DataFrame) -> pd.DataFrame:
        """The rows of a sorted per-customer frame for the customers of ``pairs``."""
        if pairs.empty:
            return frame.iloc[:0]
        keys = pairs["customer_key"]
        return customer_slice(frame, keys.min(), keys.max())

    def _pair_features(self, pairs: pd.DataFrame) -> pd.DataFrame:
        """The own, product and customer columns of FEATURE_COLUMNS for each (customer, product)."""
        pairs = pairs.merge(self._customer_rows(self.own_, pairs), on=["customer_key", "product_id"], how="left")
        pairs["is_own"] = pairs["own_days"].notna().astype(float)
        for col in ("own_lines", "own_days", "own_quantity_log", "own_last3_days", "own_last5_days"):
            pairs[col] = pairs[col].fillna(0.0)
        for col in ("days_since_last_own", "days_since_first_own"):
            pairs[col] = pairs[col].fillna(NEVER_DAYS)
        pairs = pairs.merge(self.products_, on="product_id", how="left").merge(
            self._customer_rows(self.customers_, pairs), on="customer_key", how="left")
        pairs = pairs.merge(self._customer_rows(self.own_last_year_, pairs), on=["customer_key", "product_id"],
                            how="left")
        pairs = pairs.merge(self.pop_last_year_, on="product_id", how="left").merge(
            self._customer_rows(self.active_last_year_, pairs), on="customer_key", how="left")
        for col in ("own_days_30d", "own_days_90d", "own_days_last_year", "pop_last_year",
                    "customer_active_last_year"):
            pairs[col] = pairs[col].fillna(0.0)
        pairs["own_day_share"] = pairs["own_days"] / pairs["customer_days"]
        # "Due" ratios: > 1 when the usual interval has passed since the last purchase.
        pairs["due_own"] = pairs["days_since_last_own"] / pairs["own_gap_days"]
        pairs["due_product"] = np.where(pairs["is_own"] > 0,
                                        pairs["days_since_last_own"] / pairs["product_gap_days"], np.nan)
        pairs["due_customer"] = pairs["days_since_last_order"] / pairs["customer_gap_days"]
        pairs["price_fit"] = (pairs["price_log"] - pairs["price_mean"]).abs() / (pairs["price_std"] + 0.1)
        return pairs


def candidate_pairs(
    purchases: pd.DataFrame,
    cutoff: pd.Timestamp,
    *,
    customers: Sequence[object] | None = None,
    config: CandidateConfig | None = None,
    extra: pd.DataFrame | None = None,
    random_state: int = 0,
    num_threads: int = 1,
) -> pd.DataFrame:
    """Candidates of every source for ``customers`` at ``cutoff`` in one call:
    :class:`CandidateGenerator` fitted on ``purchases`` and transformed (see there)."""
    generator = CandidateGenerator(config, random_state=random_state, num_threads=num_threads)
    return generator.fit(purchases, cutoff).transform(customers, extra)


def _max_similarity(own_items: sp.csr_matrix, cosine: sp.csr_matrix, rows: np.ndarray, items: np.ndarray) -> np.ndarray:
    """Per (row, item) pair, the largest ``cosine`` between the item and any item of the row in
    ``own_items`` (0 without own items): "bought with something you buy". Rows are handled a
    chunk at a time, with the cosine rows of the chunk's own items made dense (at most about
    DENSE_CELLS cells), and per row on the candidate columns only (not the whole catalog)."""
    out = np.zeros(len(rows), dtype=np.float32)
    order = np.argsort(rows, kind="stable")
    bounds = np.searchsorted(rows[order], np.arange(own_items.shape[0] + 1))
    present = np.unique(rows)
    own_counts = np.diff(own_items.indptr)[present]
    budget = max(1, DENSE_CELLS // max(cosine.shape[1], 1))
    start = 0
    while start < len(present):
        stop = start + max(1, int(np.searchsorted(np.cumsum(own_counts[start:]), budget, side="right")))
        chunk = present[start:stop]
        union = np.unique(own_items[chunk].indices)
        dense = cosine[union].toarray()
        position = np.zeros(cosine.shape[0], dtype=np.int64)
        position[union] = np.arange(len(union))
        for r in chunk:
            own = own_items.indices[own_items.indptr[r]:own_items.indptr[r + 1]]
            if len(own):
                chosen = order[bounds[r]:bounds[r + 1]]
                out[chosen] = dense[np.ix_(position[own], items[chosen])].max(axis=0)
        start = stop
    return out


def label_pairs(pairs: pd.DataFrame, truth: pd.DataFrame) -> np.ndarray:
    """1 for each pair of ``pairs`` the customer bought in the truth window, else 0."""
    require_columns(truth, "truth", ("customer_key", "product_id"))
    keys = pd.MultiIndex.from_frame(pairs[["customer_key", "product_id"]])
    hit = pd.MultiIndex.from_frame(truth[["customer_key", "product_id"]].drop_duplicates())
    return keys.isin(hit).astype(np.int8)
