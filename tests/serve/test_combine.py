"""Joining the request's claims to the store's history skips the second validation only when
that validation could change nothing."""

from __future__ import annotations

import pandas as pd
from serve.routes.claims import _combine

from riskml.data import validate_frame
from tests.serve.support import tiny_world


def test_combine_equals_validating_the_concatenation() -> None:
    world = tiny_world()
    for table, frame in (("claims", world.claims), ("claim_items", world.claim_items)):
        frame = validate_frame(frame, table)
        last = frame["claim_id"].iloc[-1]
        history = frame.loc[frame["claim_id"] != last].reset_index(drop=True)
        new = frame.loc[frame["claim_id"] == last].reset_index(drop=True)
        got = _combine(history, new, table)
        expected = validate_frame(pd.concat([history, new], ignore_index=True), table)
        pd.testing.assert_frame_equal(got, expected, check_exact=True)
        assert list(got.dtypes) == list(expected.dtypes)


def test_combine_validates_when_layouts_differ() -> None:
    claims = validate_frame(tiny_world().claims, "claims")
    history = claims.iloc[:-1].drop(columns=["doctor_id"], errors="ignore")
    new = claims.iloc[-1:].assign(amount_claimed=claims["amount_claimed"].iloc[-1:].astype(object))
    got = _combine(history.reset_index(drop=True), new.reset_index(drop=True), "claims")
    expected = validate_frame(pd.concat([history, new], ignore_index=True), "claims")
    pd.testing.assert_frame_equal(got, expected, check_exact=True)
    assert got["amount_claimed"].dtype == "float64"
