"""Multi-site deployments: sites of a catalog system joined by a WAN.

A system TOML with a ``[sites]`` table (``count``, ``source``, ``[sites.wan_link]``: bandwidth per
site per direction, one-way latency, source) describes ``count`` sites of its shape
(``hardware_db.System.sites`` / ``wan_link``; e.g. ``hardware_db/systems/h100-two-site.toml``).
:func:`multi_site` reads them for the cross-site planner.
"""

from __future__ import annotations

#: Fibre propagation delay: group index ~1.468 of single-mode fibre at 1550 nm (Corning SMF-28
#: datasheet) -> c / 1.468 = 2.04e8 m/s = 4.9 us per km, one way.
FIBER_S_PER_KM = 4.9e-6



def multi_site(system) -> dict | None:
    """The multi-site fields of a catalog system (its ``[sites]`` table), or None for one site:
    ``sites``, ``wan_gbps`` (per site, per direction), ``wan_latency_s`` and their sources."""
    if getattr(system, "wan_link", None) is None:
        return None
    wan = system.wan_link
    return {"sites": int(system.sites), "wan_gbps": wan.bandwidth_bytes_per_s * 8.0 / 1e9,
            "wan_latency_s": wan.latency_s, "source": wan.source}
