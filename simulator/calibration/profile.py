"""Calibration profiles: JSON files that replace a device's efficiency curve with measured values.

A profile (``data/calibration/<device>.json`` for the ones shipped with simlab, or any path) holds::

    {
      "format": "simlab-calibration-profile/1",
      "device": "A100-SXM4-80GB",           # catalog name the profile belongs to (checked)
      "backend": "gpu" | "cpu" | "table",   # where the timings came from ("table": published measurements)
      "date_utc": "2026-11-26T12:00:00+00:00",
      "source": "llmcompass-a100: ...",     # what was measured / which table
      "efficiency": {"compute": 0.91, "memory": 0.74, "link": 0.8, "compute_half_flop": 1.3e10,
                     "memory_half_bytes": 5.2e7, "kernel_overhead_s": 1.2e-6},
      "per_dtype": {"bf16": {"compute": ..., "compute_half_flop": ...}},      # optional
      "link_latency_s": 4.2e-6 | null,      # fitted per-hop latency of the intra-node link, optional
      "peaks_raised": {"fp32": 3.1e11, "bandwidth_bytes_per_s": 6e10} | {},  # see below
      "fit": {"rows": 84, "loss": ..., "ops": [...], "table": ..., "train_groups": [...],
              "median_abs_pct": ..., "p90_abs_pct": ..., "bias_pct": ...},
      "software": {"jax_version": ..., ...},
      "classes": {"gemm": {"compute": ..., "memory": ..., "compute_half_flop": ..., "memory_half_bytes": ...,
                           "kernel_overhead_s": ..., "gemm_rows_half": ...},   # gemm_rows_half optional
                  "elementwise": {...}, "attention": {...}, "collective": {"link": ...}},   # optional
      "class_per_dtype": {"bf16": {"compute": ..., "compute_half_flop": ...}},          # optional, GEMM class
      "held_out": {"rule": ..., "tables": {"vidur-a100": {"rows": ..., "median_abs_pct_catalog": ...,
                   "median_abs_pct_calibrated": ..., "p90_abs_pct_catalog": ..., "p90_abs_pct_calibrated": ...}},
                   "default": false}                                                 # optional, see below
    }

Defaults that cannot degrade: ``--calibration default`` (and ``calibration="default"``) applies the
shipped profile ``data/calibration/<device>.json`` only when it qualifies (:data:`DEFAULT_RULE`,
:func:`qualifies_as_default`): on every measured table of its device other than the one it was
fitted on (:func:`held_out_tables`; at least one) its median |error| is below the catalog's and its
p90 |error| is not above it. ``held_out`` records that evaluation; it is computed by
:func:`evaluate_held_out` (written by :func:`record_held_out`, never typed by hand) and a test
recomputes it. A profile that does not qualify stays opt-in by name or path
(``--calibration a100-sxm4-80gb``); :func:`default_profile` says which profile, if any, is the default.

``classes`` (optional; profiles written before kernel classes existed have none and still load) maps
onto ``hardware_db.Efficiency.classes``: each kernel class's own curve, fitted jointly
(:func:`simulator.calibration.fit.fit_efficiency` with ``classes=True``); ``efficiency`` is then the
best single curve, used by whatever knows no classes. ``class_per_dtype`` is the GEMM class's
compute efficiency per dtype.

``efficiency`` maps 1:1 onto :class:`hardware_db.Efficiency` (achieved = peak * e * x / (x + x_half),
see :mod:`simulator.roofline`). ``peaks_raised`` is only non-empty when a measured rate exceeded the
catalog's peak (a placeholder catalog entry, e.g. ``host-cpu``): efficiency cannot exceed 1, so the
peak is raised to the best measured rate and the profile says so. :func:`apply_profile` applies all
of it and refuses a profile written for another device.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from simulator.calibration.errors import CalibrationError
from simulator.resources import data_dir, shipped_names, shipped_or_path

FORMAT = "simlab-calibration-profile/1"
EFFICIENCY_FIELDS = ("compute", "memory", "link", "compute_half_flop", "memory_half_bytes", "kernel_overhead_s")
PROFILE_DIR = data_dir("calibration")  # shipped profiles (the repository's data/calibration/)


@dataclass
class CalibrationProfile:
    """In-memory form of a profile file (fields as in the module docstring)."""

    device: str
    efficiency: dict[str, float]
    source: str
    backend: str = "table"
    date_utc: str = ""
    per_dtype: dict[str, dict[str, float]] = field(default_factory=dict)
    link_latency_s: float | None = None
    peaks_raised: dict[str, float] = field(default_factory=dict)
    fit: dict[str, Any] = field(default_factory=dict)
    software: dict[str, str] = field(default_factory=dict)
    classes: dict[str, dict[str, float]] = field(default_factory=dict)
    class_per_dtype: dict[str, dict[str, float]] = field(default_factory=dict)
    held_out: dict[str, Any] = field(default_factory=dict)
    path: str = ""

    def to_dict(self) -> dict[str, Any]:
        d = {"format": FORMAT, **dataclasses.asdict(self)}
        d.pop("path")
        return d


def _check_number(where: str, value, lo: float, hi: float, lo_open: bool) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise CalibrationError(f"{where} = {value!r}; allowed: a finite number")
    if (value <= lo if lo_open else value < lo) or value > hi:
        rng = f"({lo}, {hi}]" if lo_open else f"[{lo}, {hi}]"
        raise CalibrationError(f"{where} = {value!r}; allowed: {rng}")
    return float(value)


def profile_from_dict(d: Any, where: str = "calibration profile") -> CalibrationProfile:
    """Validate a parsed profile; :class:`CalibrationError` names the bad field."""
    if not isinstance(d, dict):
        raise CalibrationError(f"{where} is not a JSON object")
    fmt = d.get("format")
    if fmt != FORMAT:
        raise CalibrationError(f"{where}: field 'format' is {fmt!r}; expected {FORMAT!r}")
    for key in ("device", "source", "efficiency"):
        if key not in d:
            raise CalibrationError(f"{where} lacks field '{key}'")
    if not isinstance(d["device"], str) or not d["device"].strip():
        raise CalibrationError(f"{where}: field 'device' must be a non-empty string")
    eff = d["efficiency"]
    if not isinstance(eff, dict):
        raise CalibrationError(f"{where}: field 'efficiency' must be an object with {', '.join(EFFICIENCY_FIELDS)}")
    clean = {}
    for f in EFFICIENCY_FIELDS:
        if f not in eff:
            raise CalibrationError(f"{where} lacks field 'efficiency.{f}'")
        bounded = f in ("compute", "memory", "link")
        clean[f] = _check_number(f"{where}: efficiency.{f}", eff[f], 0.0, 1.0 if bounded else math.inf, bounded)
    per = d.get("per_dtype") or {}
    if not isinstance(per, dict):
        raise CalibrationError(f"{where}: field 'per_dtype' must be an object dtype -> {{compute, compute_half_flop}}")
    per_clean = {}
    for dt, v in per.items():
        if not isinstance(v, dict) or "compute" not in v or "compute_half_flop" not in v:
            raise CalibrationError(f"{where}: per_dtype.{dt} needs 'compute' and 'compute_half_flop'")
        per_clean[str(dt)] = {
            "compute": _check_number(f"{where}: per_dtype.{dt}.compute", v["compute"], 0.0, 1.0, True),
            "compute_half_flop": _check_number(f"{where}: per_dtype.{dt}.compute_half_flop", v["compute_half_flop"],
                                               0.0, math.inf, False),
        }
    lat = d.get("link_latency_s")
    if lat is not None:
        lat = _check_number(f"{where}: link_latency_s", lat, 0.0, math.inf, False)
    raised = d.get("peaks_raised") or {}
    if not isinstance(raised, dict):
        raise CalibrationError(f"{where}: field 'peaks_raised' must be an object")
    raised = {k: _check_number(f"{where}: peaks_raised.{k}", v, 0.0, math.inf, True) for k, v in raised.items()}
    from hardware_db.schema import CLASS_FIELDS

    cls_raw = d.get("classes") or {}
    if not isinstance(cls_raw, dict):
        raise CalibrationError(f"{where}: field 'classes' must be an object class -> {{field: number}}")
    classes = {}
    for c, v in cls_raw.items():
        if c not in CLASS_FIELDS:
            raise CalibrationError(f"{where}: classes.{c} is not a kernel class; allowed: {', '.join(CLASS_FIELDS)}")
        if not isinstance(v, dict):
            raise CalibrationError(f"{where}: classes.{c} must be an object field -> number")
        bad = sorted(set(v) - set(CLASS_FIELDS[c]))
        if bad:
            raise CalibrationError(f"{where}: classes.{c}.{bad[0]} is not allowed; allowed: {', '.join(CLASS_FIELDS[c])}")
        classes[str(c)] = {f: _check_number(f"{where}: classes.{c}.{f}", x, 0.0,
                                            1.0 if f in ("compute", "memory", "link") else math.inf,
                                            f in ("compute", "memory", "link")) for f, x in v.items()}
    cpd_raw = d.get("class_per_dtype") or {}
    if not isinstance(cpd_raw, dict):
        raise CalibrationError(f"{where}: field 'class_per_dtype' must be an object dtype -> {{compute, compute_half_flop}}")
    cpd = {}
    for dt, v in cpd_raw.items():
        if not isinstance(v, dict) or "compute" not in v or "compute_half_flop" not in v:
            raise CalibrationError(f"{where}: class_per_dtype.{dt} needs 'compute' and 'compute_half_flop'")
        cpd[str(dt)] = {
            "compute": _check_number(f"{where}: class_per_dtype.{dt}.compute", v["compute"], 0.0, 1.0, True),
            "compute_half_flop": _check_number(f"{where}: class_per_dtype.{dt}.compute_half_flop",
                                               v["compute_half_flop"], 0.0, math.inf, False),
        }
    return CalibrationProfile(device=d["device"], efficiency=clean, source=str(d["source"]),
                              backend=str(d.get("backend", "table")), date_utc=str(d.get("date_utc", "")),
                              per_dtype=per_clean, link_latency_s=lat, peaks_raised=raised,
                              fit=dict(d.get("fit") or {}), software=dict(d.get("software") or {}),
                              classes=classes, class_per_dtype=cpd, held_out=dict(d.get("held_out") or {}))


def read_profile(path: str | Path) -> CalibrationProfile:
    """Read and validate a profile file; a missing or corrupt file is a one-line :class:`CalibrationError`.

    ``path`` may also name a shipped profile (``a100-sxm4-80gb-vidur``) or be the checkout-relative
    path of one (``data/calibration/a100-sxm4-80gb-vidur.json``), which works from an installed wheel
    too (:func:`simulator.resources.shipped_or_path`)."""
    p = shipped_or_path("calibration", path, ".json")
    if not p.is_file():
        raise CalibrationError(f"calibration profile {p} not found; allowed: a profile JSON path or a shipped "
                               f"profile name ({', '.join(shipped_names('calibration', '.json'))})")
    try:
        d = json.loads(p.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise CalibrationError(f"calibration profile {p} is corrupt: not UTF-8 text") from None
    except json.JSONDecodeError as err:
        raise CalibrationError(f"calibration profile {p} is corrupt: invalid JSON at line {err.lineno} "
                               f"column {err.colno} ({err.msg})") from None
    prof = profile_from_dict(d, where=f"calibration profile {p}")
    prof.path = str(p)
    return prof


def check_profile_path(path: str | Path) -> Path:
    """``path`` as a Path if a profile can be written there; CalibrationError naming --profile otherwise."""
    p = Path(path).expanduser()
    if p.is_dir():
        raise CalibrationError(f"--profile '{p}' is a folder; allowed: a file path such as my-device.json")
    for q in p.parents:
        if q.exists() and not q.is_dir():
            raise CalibrationError(f"--profile '{p}': '{q}' is a file, not a folder; allowed: a path in a folder")
    return p


def write_profile(profile: CalibrationProfile, path: str | Path) -> Path:
    """Write ``profile`` as indented JSON (atomically: temp file then rename); returns the path."""
    p = Path(path).expanduser()
    profile_from_dict(profile.to_dict(), where="profile to write")  # never write an invalid file
    check_profile_path(p)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_suffix(p.suffix + ".tmp")
    tmp.write_text(json.dumps(profile.to_dict(), indent=2, sort_keys=False) + "\n", encoding="utf-8")
    tmp.replace(p)
    return p


def profile_slug(device_name: str) -> str:
    """File stem of a device's profile: lower case, spaces to dashes (``A100-SXM4-80GB`` -> ``a100-sxm4-80gb``)."""
    return "-".join(str(device_name).lower().split())


def default_profile_path(device_name: str) -> Path:
    """The shipped profile ``data/calibration/<slug>.json`` (package data, see :mod:`simulator.resources`)."""
    return PROFILE_DIR / f"{profile_slug(device_name)}.json"


#: when a shipped profile may be a default (see the module doc)
DEFAULT_RULE = ("default only if, on every held-out measured table of its device other than the one it was "
                "fitted on (at least one), median |error| is below the catalog's and p90 |error| is not above it")


def held_out_tables(profile: CalibrationProfile) -> list[str]:
    """Measured tables of the profile's device other than the one it was fitted on: the per-kernel tables
    of :data:`simulator.calibration.measured.TABLE_DEVICE` and ``measured-public`` (rows on that device)."""
    from hardware_db import load_device
    from simulator.calibration import measured
    from simulator.calibration.validate import PUBLIC_DEVICES

    fitted = str(profile.fit.get("table", "")).lower()
    out = [t for t, dev in measured.TABLE_DEVICE.items() if matches_device(profile, load_device(dev))]
    if any(matches_device(profile, load_device(d)) for d in set(PUBLIC_DEVICES.values())):
        out.append("measured-public")
    return [t for t in out if t != fitted]


def evaluate_held_out(profile: CalibrationProfile | str | Path) -> dict[str, Any]:
    """Catalog vs calibrated median and p90 |error| on each :func:`held_out_tables` table (computed
    with :mod:`simulator.calibration.validate`), with the :func:`qualifies_as_default` verdict."""
    from simulator.calibration import validate as V

    if not isinstance(profile, CalibrationProfile):
        profile = read_profile(profile)
    tables = {}
    for name in held_out_tables(profile):
        if name == "measured-public":
            stats, _ = V.validate_public(profile.path)
        else:
            stats, _, _ = V.validate_table(name, profile.path)
        total = stats[stats.op == "all"].set_index("calibration")
        tables[name] = {"rows": int(total.loc["catalog", "n"]),
                        "median_abs_pct_catalog": round(float(total.loc["catalog", "median_abs_pct"]), 3),
                        "median_abs_pct_calibrated": round(float(total.loc["calibrated", "median_abs_pct"]), 3),
                        "p90_abs_pct_catalog": round(float(total.loc["catalog", "p90_abs_pct"]), 3),
                        "p90_abs_pct_calibrated": round(float(total.loc["calibrated", "p90_abs_pct"]), 3)}
    out = {"rule": DEFAULT_RULE, "fitted_on": str(profile.fit.get("table", "")), "tables": tables}
    out["default"] = qualifies_as_default(out)
    return out


def qualifies_as_default(held_out: dict[str, Any]) -> bool:
    """:data:`DEFAULT_RULE` on a ``held_out`` record (the numbers, not its ``default`` flag)."""
    tables = (held_out or {}).get("tables") or {}
    return bool(tables) and all(
        t["median_abs_pct_calibrated"] < t["median_abs_pct_catalog"]
        and t["p90_abs_pct_calibrated"] <= t["p90_abs_pct_catalog"] for t in tables.values())


def record_held_out(path: str | Path) -> CalibrationProfile:
    """Recompute :func:`evaluate_held_out` for the profile at ``path`` and write it into the file."""
    prof = read_profile(path)
    prof.held_out = evaluate_held_out(prof)
    write_profile(prof, prof.path)
    return prof


def default_profile(device_name: str) -> Path | None:
    """The shipped profile of ``device_name`` if it qualifies as a default (:data:`DEFAULT_RULE`), else None."""
    p = default_profile_path(device_name)
    if not p.is_file():
        return None
    return p if qualifies_as_default(read_profile(p).held_out) else None


def default_note(device_name: str) -> str:
    """One line saying why ``device_name`` has no default profile (missing, or opt-in with its numbers)."""
    p = default_profile_path(device_name)
    if not p.is_file():
        return f"no shipped calibration profile for {device_name}; catalog efficiencies"
    h = read_profile(p).held_out
    tables = h.get("tables") or {}
    if not tables:
        return (f"shipped profile {p.name} is opt-in (no held-out table to show it improves predictions); "
                f"catalog efficiencies (pass --calibration {p.stem} to use it)")
    worse = "; ".join(f"{k} median {v['median_abs_pct_catalog']:.1f}% -> {v['median_abs_pct_calibrated']:.1f}%, "
                      f"p90 {v['p90_abs_pct_catalog']:.0f}% -> {v['p90_abs_pct_calibrated']:.0f}%"
                      for k, v in tables.items())
    return f"shipped profile {p.name} is opt-in ({worse}); catalog efficiencies (pass --calibration {p.stem} to use it)"


def resolve_default(calibration, device_name: str):
    """``calibration`` with ``"default"`` resolved: the qualifying shipped profile's path or None."""
    if isinstance(calibration, str) and calibration.strip().lower() == "default":
        return default_profile(device_name)
    return calibration


def matches_device(profile: CalibrationProfile, device) -> bool:
    """True when the profile's device is ``device.name`` or one of its aliases (case-insensitive)."""
    names = {str(device.name).lower(), *(str(a).lower() for a in getattr(device, "aliases", ()))}
    return profile.device.strip().lower() in names


def apply_profile(device, profile: CalibrationProfile | str | Path, dtype: str | None = None):
    """``device`` with the profile's efficiency (per-dtype ``compute`` for ``dtype`` when the profile
    has one), fitted link latency and raised peaks. Refuses a profile for another device."""
    from hardware_db import Efficiency

    if not isinstance(profile, CalibrationProfile):
        profile = read_profile(profile)
    if not matches_device(profile, device):
        where = profile.path or "calibration profile"
        raise CalibrationError(f"{where} is for device '{profile.device}', not '{device.name}'; "
                               f"calibrate {device.name} or pass its own profile")
    eff = dict(profile.efficiency)
    key = None if dtype is None else str(dtype).lower()
    if key in profile.per_dtype:
        eff.update(profile.per_dtype[key])
    classes = {c: dict(v) for c, v in profile.classes.items()}
    if classes and key in profile.class_per_dtype:
        classes.setdefault("gemm", {}).update(profile.class_per_dtype[key])
    src = f"calibration profile {profile.path or profile.device} ({profile.source}, {profile.date_utc})"
    out = device.with_efficiency(Efficiency(**{k: float(v) for k, v in eff.items()}, source=src, classes=classes,
                                            lowp_gemm=device.efficiency.lowp_gemm,
                                            lowp_source=device.efficiency.lowp_source))
    changes: dict[str, Any] = {}
    if profile.link_latency_s is not None and device.intra_node_link is not None:
        changes["intra_node_link"] = dataclasses.replace(device.intra_node_link, latency_s=profile.link_latency_s)
    if profile.peaks_raised:
        peaks = dict(device.peak_flops_per_s)
        tiers = list(device.memory_tiers)
        for k, v in profile.peaks_raised.items():
            if k == "bandwidth_bytes_per_s":
                tiers = [dataclasses.replace(t, bandwidth_bytes_per_s=max(t.bandwidth_bytes_per_s, v),
                                             source=f"raised to the measured rate by {src}")
                         if t.name == device.main_memory else t for t in tiers]
            else:
                peaks[k] = max(peaks.get(k, 0.0), v)
        changes["peak_flops_per_s"] = peaks
        changes["memory_tiers"] = tuple(tiers)
    return dataclasses.replace(out, **changes) if changes else out


def load_calibrated_device(name_or_path: str, calibration: str | Path | None = None, dtype: str | None = None):
    """Catalog device ``name_or_path`` with ``calibration`` applied (a profile path or shipped name, or
    ``"default"``: the shipped profile when it qualifies as a default, :func:`default_profile`, else
    the catalog efficiency; ``None`` leaves the catalog efficiency)."""
    from hardware_db import load_device

    device = load_device(name_or_path)
    calibration = resolve_default(calibration, device.name)
    if calibration is None:
        return device
    return apply_profile(device, calibration, dtype=dtype)
