"""The raw-data contract of CONTRACT.md section 1: one definition, used by every reader and writer.

Each table is a :class:`TableSpec` of :class:`ColumnSpec`. The loader (:mod:`riskml.data`)
validates a data directory against these specs, the synthetic generator writes through
:func:`arrow_schema`, and the service store derives its columns from the same place.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field
from importlib import resources
from typing import Literal

import pandas as pd
import pyarrow as pa

from riskml.errors import ConfigError

Kind = Literal["str", "date", "timestamp", "float", "int", "bool"]

BENEFIT_TYPES = (
    "outpatient",
    "inpatient",
    "pharmacy",
    "work_injury",
    "maternity",
    "unemployment",
    "pension",
)
MEDICAL_BENEFITS = ("outpatient", "inpatient", "pharmacy")
CASH_BENEFITS = ("pension", "unemployment")
PROVIDER_TYPES = ("hospital", "clinic", "pharmacy", "rehab")
ITEM_CATEGORIES = ("drug", "exam", "procedure", "bed", "material", "service")
CHANNELS = ("provider_direct", "counter", "online")
OUTCOMES = ("fraud", "abuse", "error", "unfounded")
INDUSTRIES = tuple("ABCDEFGHIJKLMNOPQRST")
SIZE_BANDS = ("micro", "small", "medium", "large")

TYPOLOGIES = (
    "pension_after_death",
    "duplicate_benefit",
    "unemployment_while_employed",
    "fictitious_employment",
    "work_injury_fabricated",
    "phantom_hospitalization",
    "split_hospitalization",
    "upcoding",
    "unbundling",
    "duplicate_claim",
    "identity_impersonation",
    "drug_reselling",
    "collusion_ring",
)

REGION_CODE_PATTERN = r"^\d{6}$"

#: Largest amount of money any one value may hold (claimed amount, unit price, line amount,
#: monthly contribution base), CNY: far above the dearest single treatment (a few million) and
#: far below what a damaged file or a unit mix-up (fen for yuan, 1e12) produces.
MAX_AMOUNT_CNY = 1e8
#: Cash benefits are claimed per benefit month and may reach the administration before that
#: month begins; a medical service never starts after its claim was submitted.
CASH_ADVANCE_DAYS = 31
#: A claim submitted more than this long after its service ended is unusual (schemes set claim
#: deadlines), but a scheme's rules may allow it: a warning.
LATE_SUBMISSION_DAYS = 365
#: A claim whose service period is longer than this is unusual (a pension or unemployment
#: benefit is claimed month by month, a hospital stay rarely lasts a year): a warning.
LONG_SERVICE_DAYS = 366
#: What rounding explains between an amount and its computation, per line item, CNY.
ROUNDING_CNY = 0.01
#: How far past now a timestamp may lie by default (clock skew between systems).
DEFAULT_FUTURE_TOLERANCE = pd.Timedelta(days=1)


@dataclass(frozen=True)
class Plausibility:
    """Tolerances of the plausibility rules that are configured rather than fixed by the contract.

    ``future_tolerance`` is how far past the current time (Asia/Shanghai local, as the data) a
    timestamp or an event date may lie before it is refused: clock skew between the source
    system and this one. ``RISKML_FUTURE_TOLERANCE`` (a pandas Timedelta such as ``1D`` or
    ``36h``) overrides the default of one day; it is read when the rules run, not at import.
    """

    future_tolerance: pd.Timedelta = DEFAULT_FUTURE_TOLERANCE
    #: False for data dated on a calendar of its own (``riskml synth``, see
    #: :func:`riskml.data.plausibility_for`), where "the future" of today's clock means nothing
    check_future: bool = True

    @classmethod
    def from_env(cls, check_future: bool = True) -> Plausibility:
        raw = os.environ.get("RISKML_FUTURE_TOLERANCE")
        if not raw:
            return cls(check_future=check_future)
        try:
            tolerance = pd.Timedelta(raw)
        except ValueError as exc:
            raise ConfigError(
                f"RISKML_FUTURE_TOLERANCE={raw!r} is not a duration (e.g. 1D, 36h)"
            ) from exc
        if tolerance < pd.Timedelta(0):
            raise ConfigError(f"RISKML_FUTURE_TOLERANCE={raw!r} must not be negative")
        return cls(future_tolerance=tolerance, check_future=check_future)

    def latest(self) -> pd.Timestamp:
        """The latest instant a timestamp may hold: now (Shanghai local) plus the tolerance."""
        return pd.Timestamp.now(tz="Asia/Shanghai").tz_localize(None) + self.future_tolerance


@functools.cache
def region_codes() -> pd.Series:
    """Every GB/T 2260 administrative division code (6 digits, as strings) published since
    1980, from the package data ``refdata/gbt2260.csv`` (sources and date in its README)."""
    ref = resources.files("riskml") / "refdata" / "gbt2260.csv"
    with ref.open("rb") as fh:
        table = pd.read_csv(fh, dtype={"code": "str"}, usecols=["code"])
    return pd.Series(table["code"].to_numpy(), dtype="str")


@dataclass(frozen=True)
class ColumnSpec:
    """One column of a contract table.

    ``optional`` columns may be absent from a file; ``nullable`` columns may hold nulls.
    ``references`` names the ``(table, column)`` every non-null value must exist in.
    """

    name: str
    kind: Kind
    description: str
    nullable: bool = False
    optional: bool = False
    allowed: tuple[str, ...] | None = None
    pattern: str | None = None
    min_value: float | None = None
    max_value: float | None = None
    exclusive_min: bool = False
    references: tuple[str, str] | None = None
    #: an id: no surrounding whitespace, no control or bidirectional formatting characters
    identifier: bool = False
    #: a GB/T 2260 region code that exists (:func:`region_codes`)
    region: bool = False
    #: an instant or event date that cannot lie in the future (beyond :class:`Plausibility`)
    not_future: bool = False
    #: personal data (a person id): never printed in an error, a warning or a log; examples
    #: name the row of the table instead
    personal: bool = False


@dataclass(frozen=True)
class TableSpec:
    """One table of a data directory: its columns, key and whether it must be present."""

    name: str
    columns: tuple[ColumnSpec, ...]
    key: tuple[str, ...]
    required: bool = True
    description: str = ""
    checks: tuple[str, ...] = field(default_factory=tuple)

    def column(self, name: str) -> ColumnSpec:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(f"{self.name} has no column {name!r}")

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)


def _c(name: str, kind: Kind, description: str, **kw: object) -> ColumnSpec:
    return ColumnSpec(name=name, kind=kind, description=description, **kw)  # type: ignore[arg-type]


PERSONS = TableSpec(
    "persons",
    (
        _c(
            "person_id",
            "str",
            "pseudonymous scheme id, never the ID-card number",
            identifier=True,
            personal=True,
        ),
        _c("birth_date", "date", "date of birth", not_future=True),
        _c("sex", "str", "F or M", allowed=("F", "M")),
        _c(
            "region_code",
            "str",
            "insured region (参保地)",
            pattern=REGION_CODE_PATTERN,
            region=True,
        ),
        _c("hukou_type", "str", "household registration type", allowed=("urban", "rural")),
        _c("enrolled_on", "date", "first enrolment in social insurance", not_future=True),
        _c(
            "death_date",
            "date",
            "date of death from civil-registry linkage",
            nullable=True,
            not_future=True,
        ),
        _c(
            "death_reported_on",
            "date",
            "when the death became known to the administration",
            nullable=True,
            not_future=True,
        ),
    ),
    key=("person_id",),
    checks=("death_not_before_birth", "person_dates_in_order"),
)

EMPLOYERS = TableSpec(
    "employers",
    (
        _c("employer_id", "str", "employer id", identifier=True),
        _c("region_code", "str", "registered region", pattern=REGION_CODE_PATTERN, region=True),
        _c("industry", "str", "GB/T 4754 section letter", allowed=INDUSTRIES),
        _c("size_band", "str", "employer size band", allowed=SIZE_BANDS),
        _c("registered_on", "date", "date of registration", not_future=True),
    ),
    key=("employer_id",),
    required=False,
    description="absent for a scheme without employer-linked benefits",
)

PROVIDERS = TableSpec(
    "providers",
    (
        _c("provider_id", "str", "designated provider id (定点)", identifier=True),
        _c("provider_type", "str", "kind of provider", allowed=PROVIDER_TYPES),
        _c("tier", "int", "hospital grade 1..3", nullable=True, min_value=1, max_value=3),
        _c("ownership", "str", "public or private", allowed=("public", "private")),
        _c("region_code", "str", "provider region", pattern=REGION_CODE_PATTERN, region=True),
        _c("designated_on", "date", "date of designation", not_future=True),
        _c("beds", "int", "licensed beds", nullable=True, optional=True, min_value=0),
    ),
    key=("provider_id",),
)

CONTRIBUTIONS = TableSpec(
    "contributions",
    (
        _c(
            "person_id",
            "str",
            "contributor",
            references=("persons", "person_id"),
            identifier=True,
            personal=True,
        ),
        _c(
            "employer_id",
            "str",
            "employer; null for flexible contributors",
            nullable=True,
            references=("employers", "employer_id"),
            identifier=True,
        ),
        _c("month", "date", "first day of the contribution month"),
        _c(
            "contribution_base",
            "float",
            "monthly contribution base, CNY",
            min_value=0,
            max_value=MAX_AMOUNT_CNY,
        ),
    ),
    key=("person_id", "employer_id", "month"),
    required=False,
    description="absent for a scheme without contribution-linked benefits",
    checks=("month_is_first_day",),
)

CLAIMS = TableSpec(
    "claims",
    (
        _c("claim_id", "str", "claim id", identifier=True),
        _c(
            "person_id",
            "str",
            "claimant",
            references=("persons", "person_id"),
            identifier=True,
            personal=True,
        ),
        _c("benefit_type", "str", "benefit claimed", allowed=BENEFIT_TYPES),
        _c(
            "provider_id",
            "str",
            "provider; null for cash benefits",
            nullable=True,
            references=("providers", "provider_id"),
            identifier=True,
        ),
        _c(
            "employer_id",
            "str",
            "employer the claim is tied to",
            nullable=True,
            references=("employers", "employer_id"),
            identifier=True,
        ),
        _c(
            "region_code",
            "str",
            "where the service was given",
            pattern=REGION_CODE_PATTERN,
            region=True,
        ),
        _c(
            "submitted_at",
            "timestamp",
            "when the claim reached the administration",
            not_future=True,
        ),
        _c("service_start", "date", "admission / service / benefit period start"),
        _c("service_end", "date", "discharge / service / benefit period end"),
        _c("diagnosis_code", "str", "ICD-10 code", nullable=True),
        _c("amount_claimed", "float", "CNY claimed", min_value=0, max_value=MAX_AMOUNT_CNY),
        _c("channel", "str", "submission channel", allowed=CHANNELS),
        _c("doctor_id", "str", "treating doctor", nullable=True, optional=True, identifier=True),
    ),
    key=("claim_id",),
    checks=("service_end_not_before_start", "service_after_submission", "claim_shape"),
)

CLAIM_ITEMS = TableSpec(
    "claim_items",
    (
        _c("claim_id", "str", "claim", references=("claims", "claim_id"), identifier=True),
        _c("line_no", "int", "line number within the claim"),
        _c("item_code", "str", "scheme item code"),
        _c("item_category", "str", "kind of item", allowed=ITEM_CATEGORIES),
        _c("quantity", "float", "quantity", min_value=0, exclusive_min=True),
        _c("unit_price", "float", "CNY per unit", min_value=0, max_value=MAX_AMOUNT_CNY),
        _c(
            "amount",
            "float",
            "quantity x unit_price, CNY",
            min_value=0,
            max_value=MAX_AMOUNT_CNY,
        ),
        _c("trace_code", "str", "drug traceability code", nullable=True, optional=True),
    ),
    key=("claim_id", "line_no"),
    required=False,
    checks=("amount_is_quantity_times_price",),
)

LABELS = TableSpec(
    "labels",
    (
        _c("claim_id", "str", "claim", references=("claims", "claim_id"), identifier=True),
        _c("is_fraud", "bool", "confirmed fraud or abuse"),
        _c("typology", "str", "fraud typology; null when not fraud", nullable=True),
        _c(
            "decided_at",
            "timestamp",
            "when the outcome became known",
            nullable=True,
            not_future=True,
        ),
        _c("source", "str", "investigation, random_audit, synthetic, ..."),
        _c(
            "outcome",
            "str",
            "fraud, abuse, error, unfounded",
            nullable=True,
            optional=True,
            allowed=OUTCOMES,
        ),
        _c(
            "selection_probability",
            "float",
            "chance the claim had of being drawn for its random audit (random_audit labels); "
            "weights the unbiased estimates of prevalence, precision and recall",
            nullable=True,
            optional=True,
            min_value=0,
            exclusive_min=True,
            max_value=1,
        ),
    ),
    key=("claim_id",),
    required=False,
)

TABLES: dict[str, TableSpec] = {
    t.name: t for t in (PERSONS, EMPLOYERS, PROVIDERS, CONTRIBUTIONS, CLAIMS, CLAIM_ITEMS, LABELS)
}

_ARROW_TYPES: dict[Kind, pa.DataType] = {
    "str": pa.string(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("us"),
    "float": pa.float64(),
    "int": pa.int64(),
    "bool": pa.bool_(),
}


def arrow_schema(table: str, columns: tuple[str, ...] | None = None) -> pa.Schema:
    """The Parquet schema of a contract table, optionally limited to ``columns``."""
    spec = TABLES[table]
    cols = [c for c in spec.columns if columns is None or c.name in columns]
    return pa.schema([pa.field(c.name, _ARROW_TYPES[c.kind], nullable=c.nullable) for c in cols])
