"""Every group's measures as columns, and turning result columns into JSON values.

The engine computes a KPI for all groups at once (one numpy operation per figure, not one
Python call per group and figure): `Measures` hands the statistic kinds the sufficient
statistics of every group as aligned float arrays, and the `json_*` functions turn result
arrays into the plain values of the KPI document (None for null, rounded as `round` would).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

DIGITS = 4  # decimals of every reported figure


class Measures:
    """The measures (and order statistics) of a list of groups: the rows of `frame` at
    `rows` (all its rows when None; -1: a group without a row, all NULL)."""

    def __init__(self, frame: pd.DataFrame, rows: np.ndarray | None = None) -> None:
        self.frame = frame
        self.rows = rows
        self.size = len(frame) if rows is None else len(rows)
        self._raw: dict[str, np.ndarray] = {}
        # figures several results read (a mean's moments: its figures and its test)
        self.derived: dict[str, Any] = {}

    def subset(self, positions: np.ndarray) -> Measures:
        """The groups at these positions (of this list of groups)."""
        rows = positions if self.rows is None else self.rows[positions]
        return Measures(self.frame, rows)

    def raw(self, name: str) -> np.ndarray:
        """The column as floats, NaN where the database gave NULL or the group has none
        (read-only: converted once, however many figures read it)."""
        values = self._raw.get(name)
        if values is None:
            if name not in self.frame.columns:
                values = np.full(self.size, np.nan)
            else:
                values = self.frame[name].to_numpy(dtype="float64", na_value=np.nan)
                if self.rows is not None:
                    taken = values[np.maximum(self.rows, 0)] if len(values) else \
                        np.full(self.size, np.nan)
                    values = np.where(self.rows >= 0, taken, np.nan)
            values.flags.writeable = False
            self._raw[name] = values
        return values

    def number(self, name: str) -> np.ndarray:
        """The column with NULL read as 0 (a sum over no rows)."""
        values = self.raw(name)
        return np.where(np.isnan(values), 0.0, values)

    def count(self, name: str) -> np.ndarray:
        return self.number(name).astype(np.int64)


def round_like_python(values: np.ndarray, digits: int = DIGITS) -> np.ndarray:
    """`round(value, digits)` of every element, exactly as Python rounds.

    numpy's rounding scales by 10^digits first, which can land on the other side of a tie
    than the exact decimal value does; the few elements near a tie (or too large to scale)
    are rounded by Python itself.
    """
    scale = 10.0**digits
    with np.errstate(invalid="ignore", over="ignore"):
        scaled = values * scale
        rounded = np.round(scaled) / scale
        fraction = np.abs(scaled - np.floor(scaled) - 0.5)
        doubtful = (fraction < 1e-6) | (np.abs(values) > 1e9)
    for index in np.flatnonzero(doubtful & np.isfinite(values)):
        rounded[index] = round(float(values[index]), digits)
    return rounded


def json_floats(values: np.ndarray, digits: int | None = DIGITS) -> list[float | None]:
    """Rounded floats, None for NaN."""
    rounded = round_like_python(values, digits) if digits is not None else values
    listed: list[float | None] = rounded.tolist()
    for index in np.flatnonzero(np.isnan(values)):
        listed[index] = None
    return listed


def json_ints(values: np.ndarray) -> list[int]:
    listed: list[int] = values.astype(np.int64).tolist()
    return listed


def json_pairs(low: np.ndarray, high: np.ndarray, digits: int | None = DIGITS
               ) -> list[list[float] | None]:
    """[low, high] intervals (rounded), None where either end is unknown."""
    if digits is not None:
        low, high = round_like_python(low, digits), round_like_python(high, digits)
    pairs: list[list[float] | None] = np.column_stack((low, high)).tolist()
    for index in np.flatnonzero(np.isnan(low) | np.isnan(high)):
        pairs[index] = None
    return pairs


def json_flags(values: np.ndarray, known: np.ndarray) -> list[bool | None]:
    """Booleans, None where not known."""
    flags: list[bool | None] = values.astype(bool).tolist()
    for index in np.flatnonzero(~known):
        flags[index] = None
    return flags


def records(fields: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """Column lists to one dict per row (keys in the fields' order)."""
    keys = list(fields)
    return [dict(zip(keys, row, strict=True)) for row in zip(*fields.values(), strict=True)]
