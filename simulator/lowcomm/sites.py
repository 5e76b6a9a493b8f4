"""Multi-site deployments: sites of a catalog system joined by a WAN (sourced numbers).

The hardware catalog's schema has no multi-site fields yet; ``hardware_db/systems/h100-two-site.toml``
describes one site, and this table adds the site count and the WAN between sites.
"""

from __future__ import annotations

#: Fibre propagation delay: group index ~1.468 of single-mode fibre at 1550 nm (Corning SMF-28
#: datasheet) -> c / 1.468 = 2.04e8 m/s = 4.9 us per km, one way.
FIBER_S_PER_KM = 4.9e-6

MULTI_SITE = {
    "H100-two-site": {
        "site_system": "H100-two-site",
        "sites": 2,
        "wan_gbps": 400.0,
        "distance_km": 1000.0,
        "wan_latency_s": 1000.0 * FIBER_S_PER_KM,
        "sources": {
            "wan_gbps": "one 400ZR coherent DCI wavelength per site (OIF-400ZR-01.0 implementation agreement)",
            "distance_km": "ASSUMPTION: a what-if distance between the two sites",
            "wan_latency_s": "distance x 4.9 us/km (single-mode fibre, group index 1.468, Corning SMF-28)",
        },
    },
}
