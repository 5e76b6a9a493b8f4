"""Design-space sweeps at scale: TOML spec -> lazy grid -> chunked vectorised evaluation -> Parquet.

    >>> from simulator.design_space import load_spec, run_sweep, summarize
    >>> report = run_sweep(load_spec("examples/sweeps/serve_small.toml"), "results/")  # doctest: +SKIP
    >>> summarize("results/").best                                                     # doctest: +SKIP

Modules: :mod:`~simulator.design_space.spec` (TOML spec -> axes), :mod:`~simulator.design_space.grid`
(lazy cartesian product by chunk), :mod:`~simulator.design_space.runner` (chunks -> Parquet parts,
manifest, resume, progress), :mod:`~simulator.design_space.sharding` (a chunk over all JAX devices),
:mod:`~simulator.design_space.distributed` (Dask cluster), :mod:`~simulator.design_space.summarize`
(best configurations, Pareto fronts, plots). Guide: docs/sweeps.md.
"""

from simulator.design_space.errors import SweepError
from simulator.design_space.grid import Grid
from simulator.design_space.runner import SweepReport, read_manifest, run_sweep
from simulator.design_space.spec import SweepSpec, load_spec, parse_spec
from simulator.design_space.summarize import PLANS, Summary, pareto_mask, plot_front, summarize

__all__ = [
    "PLANS",
    "Grid",
    "Summary",
    "SweepError",
    "SweepReport",
    "SweepSpec",
    "load_spec",
    "pareto_mask",
    "parse_spec",
    "plot_front",
    "read_manifest",
    "run_sweep",
    "summarize",
]
