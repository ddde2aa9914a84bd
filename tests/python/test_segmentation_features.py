"""prepare_features / FeatureScaler: the Python twin of the SQL feature matrix."""

import math

import numpy as np
import pandas as pd
import pytest

from segrec.errors import SegrecError
from segrec.segmentation import FeatureScaler, prepare_features, signed_log1p
from segrec.segmentation.features import as_matrix

E = math.e
SQRT_1_5 = math.sqrt(1.5)  # z of the extreme values of three equally spaced points


@pytest.fixture
def readable() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_key": ["a", "b", "c"],
            "monetary": [0.0, E - 1, E**2 - 1],  # log1p -> 0, 1, 2
            "premium_share": [0.2, 0.4, np.nan],  # median fill -> 0.3
            "share_mobile": [0.5, 0.5, 0.5],  # constant -> zeros
            "top_category": ["beauty", "toys", "home"],  # not numeric: ignored
        }
    )


def test_prepare_features_logs_imputes_and_standardizes(readable):
    scaled = prepare_features(readable, log_columns=("monetary", "frequency"))
    assert list(scaled.index) == ["a", "b", "c"]
    assert list(scaled.columns) == ["monetary", "premium_share", "share_mobile"]
    np.testing.assert_allclose(scaled["monetary"], [-SQRT_1_5, 0.0, SQRT_1_5])
    np.testing.assert_allclose(scaled["premium_share"], [-SQRT_1_5, SQRT_1_5, 0.0])
    assert (scaled["share_mobile"] == 0.0).all()


def test_signed_log1p_is_odd_and_defined_for_negative_revenue():
    np.testing.assert_allclose(signed_log1p(np.array([-(E - 1), 0.0, E - 1])), [-1.0, 0.0, 1.0])


def test_scaler_reuses_fitted_parameters_on_new_customers(readable):
    scaler = FeatureScaler(log_columns=("monetary",)).fit(readable)
    new = pd.DataFrame(
        {"customer_key": ["d"], "monetary": [E - 1], "premium_share": [np.nan], "share_mobile": [0.9]}
    )
    out = scaler.transform(new)
    assert out.index.tolist() == ["d"]
    # monetary at the fitted mean, premium filled with the fitted median (= the fitted mean)
    np.testing.assert_allclose(out.loc["d", ["monetary", "premium_share"]], [0.0, 0.0], atol=1e-12)
    # a constant fitted column keeps scale 1: the new value shows as its raw offset
    assert out.loc["d", "share_mobile"] == pytest.approx(0.4)


def test_duplicate_customer_key_is_a_clear_error(readable):
    with pytest.raises(SegrecError, match="customer_key is not unique"):
        prepare_features(pd.concat([readable, readable.iloc[:1]]))


def test_requested_non_numeric_or_missing_column_is_named(readable):
    with pytest.raises(SegrecError, match="top_category"):
        prepare_features(readable, columns=["monetary", "top_category"])
    with pytest.raises(SegrecError, match="missing column.*frequency"):
        prepare_features(readable, columns=["frequency"])


def test_as_matrix_rejects_missing_values_and_text():
    with pytest.raises(SegrecError, match="missing or infinite"):
        as_matrix(np.array([[1.0, np.nan]]))
    with pytest.raises(SegrecError, match="customer_key"):
        as_matrix(pd.DataFrame({"customer_key": ["a"], "x": [1.0]}))
