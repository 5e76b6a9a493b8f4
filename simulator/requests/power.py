"""Power and energy of a replica: utilisation-dependent draw between idle and TDP, and power caps.

Per device, an iteration of time ``t`` with roofline utilisation ``u`` (the share of the busier of
matrix peak and memory bandwidth it achieves; :func:`simulator.requests.costs._grid_times`) draws

    P(u) = P_idle + (P_max - P_idle) u,        E_iteration = t P(u)

and an idle device draws ``P_idle``. ``P_max`` is the board power (TDP) of the catalog, or the cap.
``u`` is taken per iteration (the busier unit over the whole forward pass), not per operator class:
a simplification that lets one table lookup price each event. The linear-in-activity form is the
standard utilisation-based GPU power model (Kandiah et al., AccelWattch, MICRO 2021: constant plus
activity-proportional dynamic power); that memory-bound LLM decode draws well below TDP while
compute-bound prefill approaches it is the power characterisation of Splitwise (Patel et al., ISCA
2024) and POLCA (Patel et al., ASPLOS 2024, arXiv:2308.12908).

``P_idle``: the catalog's ``idle_w`` when it has one (no catalog device has a vendor idle figure
today), else ``idle_frac * TDP`` with ``idle_frac = 0.12`` **(an assumption, not a vendor
number)**: 80.3 W idle of an H200 (TDP 700 W, 11.5 %) in a third-party vLLM power benchmark
(api.serialalice.pt/alice-benchmark, "H200 ghost power: 80.3 W idle vs 592.8 W at load",
retrieved 2026-12-01), rounded up; other devices' idle shares are unverified. Pass ``idle_w``.

Power cap (POLCA-style frequency capping): dynamic CMOS power is ``C V^2 f`` and in the DVFS range
``V`` scales roughly with ``f``, so dynamic power scales as ``f^3`` (Weste & Harris, CMOS VLSI
Design, 4th ed., ch. 5 "Power"). A cap ``P_cap < TDP`` lowers the core clock to
``f / f_max = ((P_cap - P_idle) / (TDP - P_idle))^(1/3)``, which scales the compute peaks (matrix
and vector FLOP/s) and leaves HBM bandwidth unchanged (memory clock is separate); the iteration
times then come from the core at the lower peaks (:func:`capped_hw`). Memory-bound decode barely
slows, compute-bound prefill slows by ``f_max / f``: POLCA's finding that inference tolerates caps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from simulator.errors import ConfigError

DEFAULT_IDLE_FRAC = 0.12  # assumption (see the module docstring)


@dataclass(frozen=True)
class PowerModel:
    """Per-device power of one replica of ``devices`` devices (W); energies in J for the replica."""

    idle_w: float
    max_w: float
    devices: int

    def energy_j(self, t_s: float, util: float) -> float:
        return t_s * self.devices * (self.idle_w + (self.max_w - self.idle_w) * util)

    def idle_energy_j(self, idle_s: float) -> float:
        return max(idle_s, 0.0) * self.devices * self.idle_w


def power_model(device, devices: int, idle_w=None, power_cap_w=None) -> PowerModel:
    """The :class:`PowerModel` of ``devices`` catalog devices (``hardware_db.Device``)."""
    tdp = float(device.tdp_w)
    idle = idle_w if idle_w is not None else (device.idle_w if isinstance(device.idle_w, (int, float)) else None)
    idle = DEFAULT_IDLE_FRAC * tdp if idle is None else float(idle)
    if not 0 <= idle < tdp:
        raise ConfigError(f"idle power {idle} W; allowed: 0 <= idle < TDP ({tdp:g} W)")
    top = tdp
    if power_cap_w is not None:
        cap = float(power_cap_w)
        if not idle < cap:
            raise ConfigError(f"power cap {cap:g} W; allowed: above the idle power {idle:g} W")
        top = min(cap, tdp)
    return PowerModel(idle, top, int(devices))


def clock_fraction(device, power_cap_w, idle_w=None) -> float:
    """``f / f_max`` under a power cap (cube law, see the module docstring); 1 without a binding cap."""
    if power_cap_w is None:
        return 1.0
    pm = power_model(device, 1, idle_w, power_cap_w)
    tdp = float(device.tdp_w)
    if pm.max_w >= tdp:
        return 1.0
    return ((pm.max_w - pm.idle_w) / (tdp - pm.idle_w)) ** (1.0 / 3.0)


def capped_hw(device, power_cap_w, idle_w=None):
    """A function ``HwSpec -> HwSpec`` with compute peaks scaled by :func:`clock_fraction` (or None)."""
    f = clock_fraction(device, power_cap_w, idle_w)
    if f >= 1.0 or math.isclose(f, 1.0):
        return None
    return lambda hws: hws.replace(matrix_flops_per_s=hws.matrix_flops_per_s * f,
                                   vector_flops_per_s=hws.vector_flops_per_s * f)


__all__ = ["DEFAULT_IDLE_FRAC", "PowerModel", "capped_hw", "clock_fraction", "power_model"]
