"""Rendering helpers shared by all commands: rich tables for people, JSON (SI units) for machines."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from rich.console import Console

console = Console()


def to_jsonable(value: Any) -> Any:
    """Convert numpy/JAX scalars, arrays, dataclasses-as-dicts and NaN to plain JSON values."""
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):
        import numpy as np  # only when a numpy/JAX value is present (keeps `simlab --help` light)

        return to_jsonable(np.asarray(value).tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def print_json(obj: Any) -> None:
    """Print ``obj`` as indented JSON on stdout (plain print: no rich markup or wrapping)."""
    print(json.dumps(to_jsonable(obj), indent=2, sort_keys=False))


def format_si(value: float | None, unit: str = "", digits: int = 3) -> str:
    """Format ``value`` with an SI prefix (k, M, G, T, P, E), e.g. 3.35e12 B/s -> '3.35 TB/s'."""
    if value is None:
        return "-"
    value = float(value)
    if not math.isfinite(value):
        return str(value)
    if value == 0:
        return f"0 {unit}".strip()
    prefixes = [(1e18, "E"), (1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"), (1.0, "")]
    small = [(1e-3, "m"), (1e-6, "µ"), (1e-9, "n")]
    for scale, prefix in prefixes:
        if abs(value) >= scale:
            return f"{value / scale:.{digits}g} {prefix}{unit}".strip()
    for scale, prefix in small:
        if abs(value) >= scale:
            return f"{value / scale:.{digits}g} {prefix}{unit}".strip()
    return f"{value:.{digits}g} {unit}".strip()


def print_table(title: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """Print a rich table with the given column headers; cells are converted with ``str``."""
    from rich.table import Table

    table = Table(title=title, show_lines=False)
    for index, column in enumerate(columns):
        table.add_column(column, no_wrap=index == 0)
    for row in rows:
        table.add_row(*["-" if cell is None else str(cell) for cell in row])
    console.print(table)
