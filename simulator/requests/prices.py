"""Price per device-hour (USD) for cost per token and fleet planning.

Order of precedence: an explicit ``override`` (``--price``), the catalog's ``price_per_hour_usd``
(``hardware_db``), then :file:`prices.toml` next to this module (sourced on-demand prices with
retrieval date, for catalog devices without one). ``None`` when nothing is known: cost is then
left out, and fleet planning asks for ``--price``.
"""

from __future__ import annotations

import math
import tomllib
from functools import lru_cache
from pathlib import Path

from simulator.errors import ConfigError

PRICES_FILE = Path(__file__).with_name("prices.toml")


@lru_cache(maxsize=1)
def _table() -> dict:
    with PRICES_FILE.open("rb") as fh:
        return tomllib.load(fh)


def price_entry(device) -> dict | None:
    """``{"price_per_hour_usd", "source", "retrieved"}`` of a catalog device, or None."""
    cat = getattr(device, "price_per_hour_usd", None)
    if isinstance(cat, (int, float)) and not isinstance(cat, bool):
        return {"price_per_hour_usd": float(cat), "source": getattr(device, "sources", {}).get("price_per_hour_usd", "catalog"),
                "retrieved": ""}
    path = Path(getattr(device, "path", "") or "")
    key = path.stem if path.stem else str(getattr(device, "name", "")).lower()
    return _table().get(key)


def price_per_hour(device, override=None) -> float | None:
    """USD per device-hour (see the module docstring); ``override`` must be a number > 0."""
    if override is not None:
        v = float(override)
        if not math.isfinite(v) or v <= 0:
            raise ConfigError(f"price = {override!r} USD per device-hour; allowed: a number > 0")
        return v
    e = price_entry(device)
    return None if e is None else float(e["price_per_hour_usd"])


__all__ = ["PRICES_FILE", "price_entry", "price_per_hour"]
