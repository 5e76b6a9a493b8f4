"""Low-communication training across sites: DiLoCo, Streaming DiLoCo, NoLoCo, CO2.

Communication volume and exposed time per step over a WAN link, the published quality cost, and a
cross-site planner comparing data-parallel training with DiLoCo. See ``docs/training.md``
("Time-to-train as it really runs") and the module docstrings.
"""

from simulator.lowcomm.comm import (
    ALGORITHMS,
    LowCommConfig,
    WanLink,
    comm_per_step,
    dp_wan_bytes_per_step,
    outer_sync_bytes,
    paper_outer_step_time_s,
)
from simulator.lowcomm.plan import cross_site_plan
from simulator.lowcomm.sites import FIBER_S_PER_KM, multi_site

__all__ = [
    "ALGORITHMS",
    "FIBER_S_PER_KM",
    "multi_site",
    "LowCommConfig",
    "WanLink",
    "comm_per_step",
    "cross_site_plan",
    "dp_wan_bytes_per_step",
    "outer_sync_bytes",
    "paper_outer_step_time_s",
]
