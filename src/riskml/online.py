"""Online scoring: a request's claims scored in the world a batch run would see.

The service scores claims one request at a time, but a claim's features must be the ones a batch
run over a data directory gives it (DESIGN principle 1, tested to 1e-9). So the request's claims
and items become contract frames with the loader's dtypes (:func:`request_frames`), the store
reads the history their features need (:meth:`riskml.store.Store.history_for`, the rows
:mod:`riskml.reach` states), and the two are joined into one :class:`riskml.data.ClaimsData`
(:func:`world_for`) that the model scores (:func:`score_against_store`). Nothing here knows HTTP:
the service's route validates, answers and persists around these functions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import pandas as pd

from riskml.contract import TABLES
from riskml.data import ClaimsData, null_column, validate_frame
from riskml.errors import DataContractError
from riskml.scoring import ScoreResult

if TYPE_CHECKING:
    from riskml.store import Store


class ScoringModel(Protocol):
    """What online scoring needs of a model; :class:`riskml.scoring.Scorer` is the real one.

    ``score(data, claims)`` answers one :class:`~riskml.scoring.ScoreResult` per row of
    ``claims`` (rows of ``data.claims``), scored in the world ``data``.
    """

    @property
    def model_version(self) -> str: ...

    def model_info(self) -> dict[str, Any]: ...

    def score(self, data: ClaimsData, claims: pd.DataFrame) -> Sequence[ScoreResult]: ...


class InvalidClaims(ValueError):
    """A request whose claims the contract refuses; ``loc`` is the path of the bad value from
    the request's ``claims`` list (``("claims", 3, "items", 0, "line_no")``)."""

    def __init__(self, loc: tuple[str | int, ...], problem: str, value: object) -> None:
        super().__init__(f"{'.'.join(map(str, loc))}: {problem}")
        self.loc = loc
        self.problem = problem
        self.value = value


def _optional_absent(frame: pd.DataFrame, table: str) -> pd.DataFrame:
    """Drop optional contract columns no row filled, as if the client had not sent them."""
    optional = [c.name for c in TABLES[table].columns if c.optional and c.name in frame.columns]
    empty = [c for c in optional if frame[c].isna().all()]
    return frame.drop(columns=empty)


def request_frames(claims: Sequence[Mapping[str, Any]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A request's claims and their ``items`` as contract frames with the loader's dtypes.

    Each claim maps the contract's claim columns (absent optional ones as None) and may carry
    ``items``, rows of ``claim_items`` without ``claim_id``. Raises :class:`InvalidClaims` for
    what per-field checks cannot see alone: a ``claim_id`` twice in one request, a ``line_no``
    twice in one claim, or a row the contract's rules refuse.
    """
    claim_cols = list(TABLES["claims"].column_names)
    item_cols = [c for c in TABLES["claim_items"].column_names if c != "claim_id"]
    frame = pd.DataFrame([{c: claim.get(c) for c in claim_cols} for claim in claims])
    frame = frame.reindex(columns=claim_cols)
    dup = frame["claim_id"].duplicated()
    if dup.any():
        pos = int(dup.to_numpy().nonzero()[0][0])
        raise InvalidClaims(
            ("claims", pos, "claim_id"),
            "claim_id appears more than once in the request",
            frame["claim_id"].iloc[pos],
        )
    rows: list[dict[str, Any]] = []
    for i, claim in enumerate(claims):
        seen: set[int] = set()
        for j, item in enumerate(claim.get("items") or ()):
            if item["line_no"] in seen:
                raise InvalidClaims(
                    ("claims", i, "items", j, "line_no"),
                    "line_no appears more than once in this claim",
                    item["line_no"],
                )
            seen.add(item["line_no"])
            rows.append({"claim_id": claim["claim_id"], **{c: item.get(c) for c in item_cols}})
    items = pd.DataFrame(rows, columns=list(TABLES["claim_items"].column_names))
    try:
        claims_v = validate_frame(_optional_absent(frame, "claims"), "claims")
        items_v = validate_frame(_optional_absent(items, "claim_items"), "claim_items")
    except DataContractError as exc:
        raise InvalidClaims(("claims", exc.column or ""), exc.problem, exc.example) from exc
    return claims_v, items_v


def _padded(frame: pd.DataFrame, columns: list[str], table: str) -> pd.DataFrame:
    """``frame`` with ``columns`` in that order, the optional contract columns it lacks added as
    nulls in the loader's dtype (what validating a concatenation with a frame that has them
    gives its rows)."""
    missing = [c for c in columns if c not in frame.columns]
    if not missing:
        return frame if list(frame.columns) == columns else frame[columns]
    spec = TABLES[table]
    extra = {c: null_column(spec.column(c).kind, frame.index) for c in missing}
    return pd.concat([frame, pd.DataFrame(extra, index=frame.index)], axis=1)[columns]


def _combine(history: pd.DataFrame, new: pd.DataFrame, table: str) -> pd.DataFrame:
    """History rows followed by the request's rows, with the loader's dtypes.

    Both parts are contract-clean already (the store's rows were validated when they entered it,
    the request's by :func:`request_frames`), and the contract's row rules are per row, so when
    both have the same columns and dtypes and share no ``claim_id`` (no key can repeat), their
    concatenation is what :func:`validate_frame` would return, and the second validation (the
    costliest step of a small request) is skipped. An optional column only one side has (a claim
    sent without ``doctor_id``, items without ``trace_code``) is added to the other as nulls
    first, as that validation would; anything else goes through it.
    """
    if not len(history):
        return new.reset_index(drop=True)
    spec = TABLES[table]
    columns = [c.name for c in spec.columns if c.name in history.columns or c.name in new.columns]
    one_sided = set(columns) - (set(history.columns) & set(new.columns))
    if all(spec.column(c).optional for c in one_sided) and set(columns) == set(
        history.columns
    ) | set(new.columns):
        history, new = _padded(history, columns, table), _padded(new, columns, table)
    same_layout = list(history.columns) == list(new.columns) and list(history.dtypes) == list(
        new.dtypes
    )
    seen = pd.Index(history["claim_id"]).unique().get_indexer(new["claim_id"]) >= 0  # hash lookup
    if same_layout and not seen.any():
        return pd.concat([history, new], ignore_index=True)
    return validate_frame(pd.concat([history, new], ignore_index=True), table)


def world_for(history: ClaimsData, claims: pd.DataFrame, items: pd.DataFrame) -> ClaimsData:
    """The data a batch run would see: the store's history plus the request's claims and items."""
    return ClaimsData(
        persons=history.persons,
        employers=history.employers,
        providers=history.providers,
        contributions=history.contributions,
        claims=_combine(history.claims, claims, "claims"),
        claim_items=_combine(history.claim_items, items, "claim_items"),
        labels=None,
    )


@dataclass(frozen=True)
class RequestWorld:
    """A request's claims in the world they are scored in: ``world`` (the store's history plus
    the request) and ``to_score`` (the request's rows of ``world.claims``). Built once per
    request, so the champion and a shadow challenger score the very same history."""

    world: ClaimsData
    to_score: pd.DataFrame
    claim_ids: list[str]

    def score(self, model: ScoringModel, **options: Any) -> list[ScoreResult]:
        """``model``'s results in the order of the request's claims (``options`` go to
        ``model.score``, e.g. ``explain="none"`` for a :class:`riskml.scoring.Scorer`)."""
        results = {str(r.claim_id): r for r in model.score(self.world, self.to_score, **options)}
        return [results[cid] for cid in self.claim_ids]


def request_world(store: Store, claims: pd.DataFrame, items: pd.DataFrame) -> RequestWorld:
    """The :class:`RequestWorld` of ``claims`` against the store's history as it is now."""
    world = world_for(store.history_for(claims, items), claims, items)
    to_score = world.claims.iloc[len(world.claims) - len(claims) :]
    return RequestWorld(world, to_score, claims["claim_id"].astype(str).tolist())


def score_against_store(
    store: Store, model: ScoringModel, claims: pd.DataFrame, items: pd.DataFrame
) -> list[ScoreResult]:
    """Score ``claims`` (with their ``items``) against the store's history as it is now, in the
    order of ``claims``; nothing is written."""
    return request_world(store, claims, items).score(model)
