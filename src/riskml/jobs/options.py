"""Options the verbs share, parsed once."""

from __future__ import annotations

import pandas as pd

from riskml.errors import ConfigError

#: The engines of ``riskml features`` and ``riskml score``.
ENGINES: tuple[str, ...] = ("pandas", "spark")


def check_engine(engine: str) -> None:
    """Refuse an ``--engine`` that is not one of :data:`ENGINES`."""
    if engine not in ENGINES:
        raise ConfigError(f"--engine must be {' or '.join(ENGINES)}, not {engine!r}")


def parse_date(text: str, option: str) -> pd.Timestamp:
    """A date or ISO timestamp in naive local time, as the data's timestamps are."""
    try:
        value = pd.Timestamp(text)
    except (ValueError, TypeError):
        raise ConfigError(
            f"{option} {text!r}: not a date (YYYY-MM-DD) or timestamp (YYYY-MM-DDTHH:MM:SS)"
        ) from None
    if pd.isna(value) or value.tzinfo is not None:
        raise ConfigError(f"{option} {text!r}: give a naive local date or time, without an offset")
    return value
