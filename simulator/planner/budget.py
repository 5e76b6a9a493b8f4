"""Training budgets in three currencies, converted to comparable quantities.

A budget is given as

* **FLOPs**: ``C`` model FLOP under the scaling laws' convention ``C = 6 N D`` (Kaplan et al. 2020,
  arXiv:2001.08361 Sec. 2.1; Hoffmann et al. 2022, arXiv:2203.15556 Sec. 3), optionally with a
  system on which the plan is then timed;
* **a cluster for a time**: ``(system, devices, days)``: ``device_seconds = devices x 86400 days``;
* **dollars**: ``($, price per device-hour)`` on a system: ``device_hours = $ / price``, spread over
  ``devices`` (default: every device of the system) so ``wall_s = 3600 device_hours / devices``.

Comparable forms (SI units): ``device_seconds`` and the *nominal* FLOP budget
``C_nom = device_seconds x peak(dtype) x nominal_mfu`` (the hardware-blind "6ND / peak" reading;
``nominal_mfu = 1`` by default, i.e. the devices run at their dense catalog peak), plus the
``$`` ceiling ``price x device_hours`` where a price is known.

Bad input (zero, negative or non-finite numbers, a device count the system cannot form from whole
nodes) raises a one-line :class:`~simulator.planner.errors.PlanError` or the catalog's
``HardwareError`` (both ``SimlabError``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from hardware_db import System, load_system
from simulator.planner.errors import PlanError

SECONDS_PER_DAY = 86400.0
SECONDS_PER_HOUR = 3600.0


def positive(name: str, value, *, allow_none: bool = False) -> float | None:
    """``value`` as a finite float > 0; ``PlanError`` naming ``name`` otherwise."""
    if value is None and allow_none:
        return None
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise PlanError(f"{name} = {value!r}; allowed: a finite number > 0") from None
    if isinstance(value, bool) or not math.isfinite(x) or x <= 0:
        raise PlanError(f"{name} = {value!r}; allowed: a finite number > 0")
    return x


def _count(name: str, value) -> int:
    if isinstance(value, bool) or value is None:
        raise PlanError(f"{name} = {value!r}; allowed: an integer >= 1")
    try:
        f = float(value)
    except (TypeError, ValueError):
        raise PlanError(f"{name} = {value!r}; allowed: an integer >= 1") from None
    if not math.isfinite(f) or not f.is_integer() or f < 1:
        raise PlanError(f"{name} = {value!r}; allowed: an integer >= 1")
    return int(f)


@dataclass(frozen=True)
class Budget:
    """A training budget. ``kind`` is ``"flops"``, ``"cluster"`` or ``"dollars"``.

    Fields (SI units; ``None`` where not applicable):

    * ``compute_flop``: the FLOP budget (``kind == "flops"``), ``C = 6 N D``.
    * ``system``: the catalog system narrowed to ``devices`` (``System.for_devices``).
    * ``devices``: device count; ``wall_s``: wall-clock seconds; ``usd``: dollar budget.
    * ``price_per_device_hour_usd``: price used for $ (given, else the catalog's, else ``None``).
    * ``dtype``: compute dtype whose dense peak defines the nominal FLOP budget.
    """

    kind: str
    compute_flop: float | None = None
    system: System | None = None
    devices: int | None = None
    wall_s: float | None = None
    usd: float | None = None
    price_per_device_hour_usd: float | None = None
    dtype: str = "bf16"

    @property
    def has_hardware(self) -> bool:
        """True when a system and device count are known (the plan can be timed)."""
        return self.system is not None and self.devices is not None

    @property
    def time_limited(self) -> bool:
        """True for cluster and dollar budgets: the limit is device time, not FLOP."""
        return self.kind in ("cluster", "dollars")

    @property
    def device_seconds(self) -> float | None:
        """``devices x wall_s`` (None for a FLOP budget)."""
        return None if self.wall_s is None else float(self.devices) * self.wall_s

    @property
    def device_hours(self) -> float | None:
        ds = self.device_seconds
        return None if ds is None else ds / SECONDS_PER_HOUR

    @property
    def days(self) -> float | None:
        return None if self.wall_s is None else self.wall_s / SECONDS_PER_DAY

    @property
    def peak_flops_per_s(self) -> float | None:
        """Dense peak of all ``devices`` in ``dtype`` (FLOP/s), None without hardware."""
        if not self.has_hardware:
            return None
        return float(self.devices) * float(self.system.device.peak(self.dtype))

    def nominal_flop(self, nominal_mfu: float = 1.0) -> float:
        """Hardware-blind FLOP budget: ``C`` itself, or ``device_seconds x peak x nominal_mfu``."""
        if self.compute_flop is not None:
            return self.compute_flop
        mfu = positive("nominal MFU", nominal_mfu)
        if mfu > 1:
            raise PlanError(f"nominal MFU = {nominal_mfu}; allowed: a fraction in (0, 1]")
        return self.device_seconds * float(self.system.device.peak(self.dtype)) * mfu

    @property
    def max_usd(self) -> float | None:
        """Dollar ceiling: the $ budget, or price x device-hours (None without a price)."""
        if self.usd is not None:
            return self.usd
        if self.price_per_device_hour_usd is None or self.device_hours is None:
            return None
        return self.price_per_device_hour_usd * self.device_hours

    def describe(self) -> dict:
        """Plain-Python summary (SI units) for JSON output."""
        return {
            "kind": self.kind,
            "compute_flop": self.compute_flop,
            "system": None if self.system is None else self.system.name,
            "device": None if self.system is None else self.system.device.name,
            "devices": self.devices,
            "wall_s": self.wall_s,
            "days": self.days,
            "device_hours": self.device_hours,
            "usd": self.max_usd,
            "price_per_device_hour_usd": self.price_per_device_hour_usd,
            "dtype": self.dtype,
            "nominal_flop": self.nominal_flop() if (self.compute_flop or self.device_seconds) else None,
        }


def _resolve_system(system, devices) -> tuple[System, int]:
    sysm = system if isinstance(system, System) else load_system(str(system))
    n = sysm.num_devices if devices is None else _count("devices (--gpus)", devices)
    return sysm.for_devices(n), n  # HardwareError (one line) if n cannot be formed


def _price(sysm: System | None, price) -> float | None:
    if price is not None:
        return positive("price per device-hour (USD)", price)
    if sysm is not None and sysm.device.price_per_hour_usd is not None:
        return float(sysm.device.price_per_hour_usd)
    return None


def flops_budget(compute_flop, system=None, devices=None, price_per_device_hour_usd=None,
                 dtype: str = "bf16") -> Budget:
    """A FLOP budget ``C = 6 N D`` (> 0); with ``system`` the plan is also timed on it."""
    c = positive("compute budget (FLOP)", compute_flop)
    sysm, n = (None, None) if system is None else _resolve_system(system, devices)
    if system is None and devices is not None:
        raise PlanError("devices given without a system; allowed: --system NAME with --gpus N")
    return Budget("flops", compute_flop=c, system=sysm, devices=n,
                  price_per_device_hour_usd=_price(sysm, price_per_device_hour_usd), dtype=dtype)


def cluster_budget(system, devices, days, price_per_device_hour_usd=None, dtype: str = "bf16") -> Budget:
    """``devices`` of ``system`` for ``days`` of wall-clock time (> 0)."""
    d = positive("days", days)
    sysm, n = _resolve_system(system, devices)
    sysm.device.peak(dtype)  # HardwareError if the device lacks the dtype
    return Budget("cluster", system=sysm, devices=n, wall_s=d * SECONDS_PER_DAY,
                  price_per_device_hour_usd=_price(sysm, price_per_device_hour_usd), dtype=dtype)


def dollar_budget(usd, system, devices=None, price_per_device_hour_usd=None, dtype: str = "bf16") -> Budget:
    """``usd`` dollars at ``price`` per device-hour (given or from the catalog) on ``devices``."""
    u = positive("dollar budget (USD)", usd)
    sysm, n = _resolve_system(system, devices)
    price = _price(sysm, price_per_device_hour_usd)
    if price is None:
        raise PlanError(f"a dollar budget needs a price per device-hour; the catalog has none for "
                        f"'{sysm.device.name}'; allowed: --price USD")
    sysm.device.peak(dtype)
    device_hours = u / price
    return Budget("dollars", system=sysm, devices=n, wall_s=device_hours * SECONDS_PER_HOUR / n, usd=u,
                  price_per_device_hour_usd=price, dtype=dtype)


def make_budget(*, compute_flop=None, system=None, devices=None, days=None, usd=None, price=None,
                dtype: str = "bf16") -> Budget:
    """One budget from the CLI's options; exactly one of ``compute_flop``, ``days``, ``usd``."""
    given = [k for k, v in (("--compute", compute_flop), ("--days", days), ("--usd", usd)) if v is not None]
    if len(given) != 1:
        raise PlanError(f"give exactly one budget; got {', '.join(given) or 'none'}; "
                        "allowed: --compute FLOP | --system S --gpus N --days D | --system S --usd $ --price P")
    if compute_flop is not None:
        return flops_budget(compute_flop, system, devices, price, dtype)
    if system is None:
        raise PlanError(f"{given[0]} needs a system; allowed: --system NAME (e.g. dgx-h100)")
    if days is not None:
        return cluster_budget(system, devices, days, price, dtype)
    return dollar_budget(usd, system, devices, price, dtype)
