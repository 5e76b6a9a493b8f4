"""Calibration: measure kernels, fit efficiency curves, apply profiles, validate against measurements.

Sub-modules (import what you need; heavy ones import JAX):

* :mod:`~simulator.calibration.kernel_cases` the suite's kernels (GEMM grid per dtype, copy/triad
  streams, GELU/RMSNorm/softmax, prefill/decode attention, all-reduce/all-gather on several devices)
  and their work counts;
* :mod:`~simulator.calibration.suite`     the kernel suite: timed with warm-up and interleaved repeats,
  written incrementally to Parquet;
* :mod:`~simulator.calibration.model`     predicted row times for efficiency parameters (through
  :func:`simulator.roofline.kernel_time_s` and :mod:`simulator.collectives`) and the fit objective;
* :mod:`~simulator.calibration.fit`       gradient fit (optax, float64) of the ``Efficiency`` fields
  and a device's profile from measured rows;
* :mod:`~simulator.calibration.profile`   profile JSON (``data/calibration/<device>.json``): read,
  write, apply to a ``Device``;
* :mod:`~simulator.calibration.measured`  Vidur and LLMCompass tables as ``(flops, bytes, time)`` rows;
* :mod:`~simulator.calibration.validate`  median / p90 absolute % error and bias, before and after;
* :mod:`~simulator.calibration.datasets`  registry entries of the measured tables (imported here).

Command line: ``simlab calibrate`` and ``simlab validate`` (``cli/calibrate.py``); guide:
``docs/calibration.md``.
"""

from simulator.calibration import datasets  # noqa: F401  (registers the measured tables)
from simulator.calibration.errors import CalibrationError

__all__ = ["CalibrationError"]
