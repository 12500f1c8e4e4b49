"""Exception types a user can act on."""

from __future__ import annotations


class RiskmlError(Exception):
    """Base of every error riskml raises on purpose; the CLI prints its message on one line."""


class DataContractError(RiskmlError):
    """A data directory or frame breaks CONTRACT.md section 1.

    The message names the table, the column and an example of the offending value.
    """

    def __init__(self, table: str, column: str | None, problem: str, example: object = None):
        self.table = table
        self.column = column
        self.problem = problem
        self.example = example
        where = f"{table}.{column}" if column else table
        msg = f"{where}: {problem}"
        if example is not None:
            msg += f" (e.g. {example!r})"
        super().__init__(msg)


class ConfigError(RiskmlError):
    """A run configuration file or option is invalid."""
