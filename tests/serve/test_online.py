"""Joining the request's claims to the store's history skips the second validation only when
that validation could change nothing."""

from __future__ import annotations

import pandas as pd
import pytest

import riskml.online
from riskml.data import validate_frame
from riskml.online import _combine
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


def _no_validation(*_: object) -> pd.DataFrame:
    raise AssertionError("validated again")


def test_combine_pads_an_optional_column_only_one_side_has(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No second validation, and the same frame as one."""
    world = tiny_world()
    for table, frame, optional in (
        ("claims", world.claims, "doctor_id"),
        ("claim_items", world.claim_items, "trace_code"),
    ):
        filled = [f"X{i}" if i % 2 else None for i in range(len(frame))]
        frame = validate_frame(frame.assign(**{optional: filled}), table)
        last = frame["claim_id"].iloc[-1]
        history = frame.loc[frame["claim_id"] != last].reset_index(drop=True)
        new = frame.loc[frame["claim_id"] == last].reset_index(drop=True)
        for h, n in (
            (history, new.drop(columns=[optional])),
            (history.drop(columns=[optional]), new),
        ):
            with monkeypatch.context() as mp:
                mp.setattr(riskml.online, "validate_frame", _no_validation)
                got = _combine(h, n, table)
            expected = validate_frame(pd.concat([h, n], ignore_index=True), table)
            pd.testing.assert_frame_equal(got, expected, check_exact=True)
            assert list(got.dtypes) == list(expected.dtypes)
            padded = (
                got[optional].iloc[len(h) :] if optional not in n else got[optional].iloc[: len(h)]
            )
            assert padded.isna().all()
