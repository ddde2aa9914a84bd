"""Product groups from product names, for catalogs without categories (issue 12, part 2).

Real shops often load a catalog with names only (UCI Online Retail: 99% "uncategorized"), so
the category-share features are constant and customer taste is invisible to the clustering.
Names still say what a product is ("JUMBO BAG RED RETROSPOT", "PAPER CHAIN KIT 50'S
CHRISTMAS"), so we derive groups from them:

1. TF-IDF over the words of the names (unigrams and bigrams, sublinear tf, L2-normalised rows).
   Colour, size and pack words ("red", "small", "set", "pack", "12") are stop words by default:
   they describe variants, and left in they form groups such as "everything pink" that cut
   across what a product is for.
2. NMF topics (the default; each product goes to its strongest topic) or K-Means on the
   normalised TF-IDF rows (close to spherical k-means). On UCI Online Retail (3,800 names, 12
   groups) K-Means put 2,500 products in one catch-all group, NMF gave groups of 80 to 740
   products that read as product types ("metal sign", "christmas tree", "cushion cover").
   Products can be weighted (e.g. by revenue); unweighted worked better there: revenue
   weights let a few best sellers pull the topics.
3. Each group is labelled by its top terms (by centroid weight) and shown with example names.

Customers then get their spend share per group (:func:`group_spend_shares`), a compositional
"taste" feature block that replaces the category shares.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.decomposition import NMF
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfVectorizer

from segrec.errors import SegrecError

GROUP_PREFIX = "group_share__"
NO_GROUP = "other"

# Words that name a variant (colour, size, pack, count) rather than what a product is.
MODIFIER_WORDS: frozenset[str] = frozenset(
    """
    red blue green pink white black yellow purple orange ivory cream gold silver grey gray brown
    natural pastel assorted colour colours colour colored coloured
    small large big mini medium jumbo giant tiny tall long round square
    set sets pack packs box boxes bag piece pcs pc lot of and with in the
    """.split()
)


@dataclass(frozen=True)
class ProductGroups:
    """Outcome of :func:`product_groups`.

    ``assignment``: product_id -> group id (int, -1 for products without a usable name);
    ``groups``: one row per group id with ``label`` (top terms joined by " / "), ``n_products``,
    ``weight_share`` (share of the fitting weight, e.g. revenue) and ``examples`` (top names).
    """

    assignment: pd.Series
    groups: pd.DataFrame


def _vectorizer(stop_words: Iterable[str], min_df: int) -> TfidfVectorizer:
    return TfidfVectorizer(
        lowercase=True,
        # words of at least 3 letters: drops sizes ("12", "3.5g") and stray initials
        token_pattern=r"(?u)\b[a-zA-Z][a-zA-Z]{2,}\b",
        stop_words=sorted(set(ENGLISH_STOP_WORDS) | set(stop_words)),
        ngram_range=(1, 2),
        min_df=min_df,
        sublinear_tf=True,
        norm="l2",
    )


def product_groups(
    names: pd.Series,
    n_groups: int = 12,
    *,
    method: str = "nmf",
    weights: pd.Series | None = None,
    stop_words: Iterable[str] = MODIFIER_WORDS,
    min_df: int = 3,
    n_terms: int = 3,
    n_examples: int = 4,
    random_state: int = 0,
) -> ProductGroups:
    """Group products by the words of their names.

    ``names``: product name per product_id (the index). ``weights`` (same index, e.g. revenue)
    weight the fit: K-Means with ``sample_weight``, NMF on rows scaled by sqrt(weight), so big
    sellers shape the groups; missing weights count 0 but their products are still assigned.
    ``method`` is ``"kmeans"`` or ``"nmf"``. Products whose name has no known term get -1.
    Deterministic for a given ``random_state``.
    """
    if method not in ("kmeans", "nmf"):
        raise SegrecError(f"product_groups: method must be 'kmeans' or 'nmf', not {method!r}")
    text = names.fillna("").astype(str)
    vectorizer = _vectorizer(stop_words, min_df)
    try:
        tfidf = vectorizer.fit_transform(text.to_numpy())
    except ValueError as error:  # empty vocabulary
        raise SegrecError(f"product_groups: no usable words in the product names ({error})") from error
    has_terms = np.asarray(tfidf.getnnz(axis=1) > 0)
    if has_terms.sum() <= n_groups:
        raise SegrecError(f"product_groups: {has_terms.sum()} named products for {n_groups} groups")
    w = np.ones(len(text)) if weights is None else weights.reindex(text.index).fillna(0.0).clip(lower=0).to_numpy()
    w = np.where(has_terms, w, 0.0)
    if w.sum() <= 0:
        w = has_terms.astype(float)
    terms = np.asarray(vectorizer.get_feature_names_out())
    rows = np.flatnonzero(has_terms)
    if method == "kmeans":
        # Weighted fit on the named products (w > 0), then every named product to its nearest centre.
        fit_rows = rows[w[rows] > 0]
        model = KMeans(n_clusters=n_groups, n_init=4, random_state=random_state)
        model.fit(tfidf[fit_rows], sample_weight=w[fit_rows])
        label_of = model.predict(tfidf[rows])
        centres = model.cluster_centers_
    else:
        scaled = tfidf[rows].multiply(np.sqrt(w[rows])[:, None]).tocsr()
        model = NMF(n_components=n_groups, init="nndsvda", random_state=random_state, max_iter=400)
        model.fit(scaled)
        label_of = np.argmax(model.transform(tfidf[rows]), axis=1)
        centres = model.components_
    group = np.full(len(text), -1, dtype=np.int64)
    group[rows] = label_of
    assignment = pd.Series(group, index=text.index, name="product_group")
    table = []
    for g in range(n_groups):
        members = np.flatnonzero(group == g)
        top_terms = terms[np.argsort(-centres[g], kind="stable")[:n_terms]]
        # Examples: the heaviest members (by weight, then by closeness to the centre).
        order = members[np.lexsort((-np.asarray(tfidf[members] @ centres[g]).ravel(), -w[members]))]
        table.append({
            "product_group": g,
            "label": " / ".join(top_terms),
            "n_products": len(members),
            "weight_share": float(w[members].sum() / w.sum()),
            "examples": list(text.iloc[order[:n_examples]]),
        })
    groups = pd.DataFrame(table).set_index("product_group").sort_values("weight_share", ascending=False)
    return ProductGroups(assignment=assignment, groups=groups)


def group_spend_shares(
    lines: pd.DataFrame,
    assignment: pd.Series,
    *,
    customer: str = "customer_id",
    product: str = "product_id",
    amount: str = "revenue",
    group_names: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Each customer's share of spend per product group (rows sum to 1 where spend > 0).

    ``lines`` are purchase lines with ``customer``, ``product`` and ``amount``; products not in
    ``assignment`` (or in group -1) count towards ``other``. Negative amounts (returns) are left
    out so shares stay in [0, 1]. Columns are ``group_share__<g>`` (or ``group_share__<name>``
    with ``group_names``, one per group id 0..n-1) plus ``group_share__other`` when needed.
    A customer without positive spend gets all zeros.
    """
    positive = lines.loc[lines[amount] > 0, [customer, product, amount]]
    group = positive[product].map(assignment).fillna(-1).astype(np.int64)
    pivot = positive.groupby([positive[customer], group.rename("g")])[amount].sum().unstack(fill_value=0.0)
    customers = pd.Index(lines[customer].unique(), name=customer)
    pivot = pivot.reindex(customers, fill_value=0.0)
    n = int(assignment.max()) + 1 if len(assignment) else 0
    ids = list(range(n)) + ([-1] if -1 in pivot.columns else [])
    pivot = pivot.reindex(columns=ids, fill_value=0.0)
    total = pivot.sum(axis=1)
    shares = pivot.div(total.where(total > 0), axis=0).fillna(0.0)
    labels = list(group_names) if group_names is not None else [str(g) for g in range(n)]
    if len(labels) != n:
        raise SegrecError(f"group_spend_shares: {len(labels)} group names for {n} groups")
    shares.columns = [GROUP_PREFIX + (labels[g] if g >= 0 else NO_GROUP) for g in ids]
    return shares


TASTE_COLUMNS = ("product_id", "product_group", "group_label", "group_feature", "source")


def _slug(text: str) -> str:
    return "_".join("".join(c if c.isalnum() else " " for c in text.lower()).split())


def taste_groups(
    products: pd.DataFrame,
    n_groups: int = 12,
    *,
    min_category_coverage: float = 0.5,
    random_state: int = 0,
) -> pd.DataFrame:
    """The product group of each product for the customers' "taste" features.

    ``products`` has ``product_id``, ``category`` and ``product_name``. The catalog's top-level
    categories when they exist (at least two, on at least ``min_category_coverage`` of the
    products), else groups from the names (:func:`product_groups`, NMF, ``n_groups``); products
    without a group are left out. One row per grouped product with ``product_group`` (int),
    ``group_label``, ``group_feature`` (``group_share__<label or id>``, the feature column) and
    ``source`` ("category" or "name"). Empty (with those columns) when neither works, e.g. a
    catalog of a few unnamed products: the segmentation then has no taste features.
    """
    if missing := {"product_id", "category", "product_name"} - set(products.columns):
        raise SegrecError(f"taste_groups: products lack {sorted(missing)}")
    products = products.drop_duplicates("product_id").set_index("product_id")
    category = products["category"].where(products["category"].str.lower() != "uncategorized")
    if category.nunique() >= 2 and category.notna().mean() >= min_category_coverage:
        labels = sorted(category.dropna().unique())
        ids = {label: i for i, label in enumerate(labels)}
        known = category.dropna()
        return pd.DataFrame({
            "product_id": known.index,
            "product_group": known.map(ids).astype(np.int64).to_numpy(),
            "group_label": known.to_numpy(),
            "group_feature": [GROUP_PREFIX + _slug(label) for label in known],
            "source": "category",
        })[list(TASTE_COLUMNS)]
    try:
        fitted = product_groups(products["product_name"], n_groups, random_state=random_state)
    except SegrecError:
        return pd.DataFrame({c: pd.Series(dtype="int64" if c == "product_group" else "object") for c in TASTE_COLUMNS})
    grouped = fitted.assignment.loc[fitted.assignment >= 0]
    return pd.DataFrame({
        "product_id": grouped.index,
        "product_group": grouped.to_numpy(dtype=np.int64),
        "group_label": grouped.map(fitted.groups["label"]).to_numpy(),
        "group_feature": [f"{GROUP_PREFIX}{g}" for g in grouped],
        "source": "name",
    })[list(TASTE_COLUMNS)]
