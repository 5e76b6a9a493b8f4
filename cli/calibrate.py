"""``simlab calibrate`` and ``simlab validate``: fit efficiency profiles and check them against measurements.

Attach to the main app with ``cli.calibrate.register(app)``. The library does the work
(:mod:`simulator.calibration`); this module parses options and renders tables.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from simulator.calibration.errors import CalibrationError

FROM_TABLES = ("vidur-a100", "vidur-a40", "llmcompass-a100", "llmcompass-mi210")
VALIDATE_SOURCES = ("cpu", *FROM_TABLES, "measured-public")


def _status(message: str):
    """A rich spinner on stderr while a step without its own progress bar runs."""
    from rich.console import Console

    return Console(stderr=True).status(message)


def _echo_table(table, title: str) -> None:
    from rich.console import Console
    from rich.table import Table

    t = Table(title=title)
    for c in table.columns:
        t.add_column(str(c), justify="right" if c in ("n", "median_abs_pct", "p90_abs_pct", "bias_pct") else "left")
    for _, r in table.iterrows():
        t.add_row(*[f"{v:.1f}" if isinstance(v, float) else str(v) for v in r.tolist()])
    Console(width=160).print(t)


def calibrate(
    quick: bool = typer.Option(False, "--quick", help="Small kernel sizes (seconds on a laptop CPU); the default suite is sized for GPUs."),
    out: str = typer.Option("calibration-out", "--out", help="Folder for measurements.parquet (+ parts/) and the profile."),
    from_table: str | None = typer.Option(None, "--from-table", help=f"Fit a published measured table instead of running kernels: {', '.join(FROM_TABLES)}."),
    device: str | None = typer.Option(None, "--device", help="Catalog name of the device measured (default: host-cpu on CPU, the table's device with --from-table)."),
    per_dtype: bool = typer.Option(True, "--per-dtype/--no-per-dtype", help="Fit compute efficiency per dtype."),
    repeats: int = typer.Option(7, "--repeats", min=3, help="Timed rounds per kernel (median is kept)."),
    dtypes: str | None = typer.Option(None, "--dtypes", help="Comma-separated GEMM dtypes (default: fp32 on CPU; bf16,fp16,fp32 on GPU)."),
    steps: int = typer.Option(1500, "--steps", min=50, help="Adam steps of the fit."),
    holdout: bool = typer.Option(False, "--holdout/--no-holdout", help="--from-table: fit on every other model / group size only; the rest stays held out for `simlab validate` (recorded in the profile)."),
    profile: str | None = typer.Option(None, "--profile", help="Where to write the profile (default: OUT/<device>.json)."),
    classes: bool = typer.Option(True, "--classes/--single-curve", help="Also fit one curve per kernel class (gemm, attention, elementwise, collective); --single-curve writes only the device-wide curve."),
    shared_overhead: bool = typer.Option(False, "--shared-overhead/--class-overhead", help="Per-class fit: one kernel overhead for all classes instead of one per class."),
    gemm_shape: bool = typer.Option(True, "--gemm-shape/--no-gemm-shape", help="Per-class fit: also fit the GEMM-shape term gemm_rows_half (padded work F (M + R) / M for M GEMM rows)."),
    as_json: bool = typer.Option(False, "--json", help="Print the profile, its path and notes as JSON (SI units)."),
) -> None:
    """Measure kernels on this machine (or read a published table), fit efficiency and write a profile."""
    # before measuring or fitting, not after: where the profile (and measurements) will be written
    from cli.validation import check_options, writable_dir, writable_file
    from hardware_db import load_device
    from simulator.calibration import measured, suite
    from simulator.calibration.fit import fit_profile
    from simulator.calibration.profile import check_profile_path, profile_slug, write_profile

    check_options(repeats=repeats, steps=steps)
    if profile is not None:
        profile = writable_file("--profile", profile)
        check_profile_path(profile)
    if profile is None or from_table is None:  # --out holds the measurements (and the default profile)
        writable_dir("--out", out)
        suite.check_out_dir(out)
    out = Path(out).expanduser()
    notes: list[str] = []
    if from_table is not None:
        key = from_table.lower()
        if key not in FROM_TABLES:
            raise CalibrationError(f"--from-table {from_table!r} is unknown; allowed: {', '.join(FROM_TABLES)}")
        dev = load_device(device or measured.TABLE_DEVICE[key])
        with _status(f"loading {key}"):
            rows = measured.load_table(key)
        train_groups = None
        src = f"{key}: {measured.TABLES[key]}"
        if holdout:
            train_groups, _ = measured.split_groups(rows)
            rows = rows[rows.group.isin(train_groups)]
            src += f" (calibration half: {', '.join(train_groups)})"
        with _status(f"fitting {len(rows)} rows of {key} ({steps} Adam steps x 8 starts)"):
            prof, notes = fit_profile(rows, dev, source=src, backend="table", table=key,
                                      per_dtype=per_dtype, steps=steps, train_groups=train_groups,
                                      classes=classes, shared_overhead=shared_overhead, gemm_shape=gemm_shape)
    else:
        import jax

        backend = jax.default_backend()
        if device is None and backend != "cpu":
            raise CalibrationError(f"--device is required on the {backend} backend (the catalog name of this accelerator, "
                                   "see `simlab hardware list`)")
        dev = load_device(device or "host-cpu")
        wanted = [d.strip() for d in dtypes.split(",")] if dtypes else (["fp32"] if backend == "cpu" else ["bf16", "fp16", "fp32"])
        ok, skipped = suite.supported_dtypes(wanted)
        notes += skipped
        if not ok:
            raise CalibrationError(f"none of the dtypes {wanted} runs on the {backend} backend")
        cases = suite.default_cases(quick=quick, dtypes=ok)
        meas = suite.run_suite(cases, out_dir=out, device_name=dev.name, repeats=repeats)
        rows = suite.suite_rows(meas, source=f"{backend}-suite")
        env = {k: str(meas[k].iloc[0]) for k in ("backend", "device_kind", "jax_version", "jaxlib_version",
                                                 "python_version", "os", "host_cpu", "date_utc")}
        with _status(f"fitting {len(rows)} kernels"):
            prof, more = fit_profile(rows, dev, source=f"simlab kernel suite on {env['device_kind'] or backend} "
                                     f"({'quick' if quick else 'full'}, {len(rows)} kernels)", backend=backend,
                                     per_dtype=per_dtype, raise_peaks=(dev.kind == "cpu"), steps=steps, software=env,
                                     classes=classes, shared_overhead=shared_overhead, gemm_shape=gemm_shape)
        notes += more
        notes.append(f"measurements: {Path(out) / 'measurements.parquet'}")
    path = write_profile(prof, profile or Path(out) / f"{profile_slug(dev.name)}.json")
    if as_json:
        from cli.render import print_json

        print_json({"profile_path": str(path), "notes": notes, "profile": prof.to_dict()})
        return
    for n in notes:
        typer.echo(f"note: {n}")
    e = prof.efficiency
    typer.echo(f"profile: {path}")
    typer.echo(f"  compute {e['compute']:.3f}  memory {e['memory']:.3f}  link {e['link']:.3f}  "
               f"compute_half_flop {e['compute_half_flop']:.3g}  memory_half_bytes {e['memory_half_bytes']:.3g}  "
               f"kernel_overhead_s {e['kernel_overhead_s']:.3g}")
    for c, v in prof.classes.items():
        typer.echo(f"  class {c}: " + "  ".join(f"{k} {x:.3g}" for k, x in v.items()))
    f = prof.fit
    typer.echo(f"  in-sample error: median {f['in_sample_median_abs_pct']:.1f}%  p90 {f['in_sample_p90_abs_pct']:.1f}%  "
               f"bias {f['in_sample_bias_pct']:+.1f}%  ({f['rows']} rows)")
    from simulator.calibration.profile import default_profile_path

    if Path(path).resolve() != default_profile_path(dev.name).resolve():
        typer.echo(f"use it with --calibration {path}, or copy it to {default_profile_path(dev.name)} to ship it (a default "
                   "only if it improves held-out tables: simulator.calibration.profile.record_held_out)")


def validate(
    source: str = typer.Option("cpu", "--source", help=f"What to validate against: {', '.join(VALIDATE_SOURCES)} (cpu = time the quick suite on the local JAX backend now)."),
    calibration: str | None = typer.Option("default", "--calibration", help="Profile to apply: a path or shipped name, 'default' (data/calibration/<device>.json when it improves held-out tables, else none) or 'none'."),
    as_json: bool = typer.Option(False, "--json", help="Print the table as JSON records."),
    measurements: str | None = typer.Option(None, "--measurements", help="cpu: reuse a measurements.parquet instead of timing now."),
    device: str = typer.Option("host-cpu", "--device", help="cpu: catalog name of the device JAX runs on (a GPU's name when JAX sees a GPU)."),
) -> None:
    """Predicted vs measured: median and p90 absolute % error and bias, before and after calibration."""
    from cli.validation import readable_file
    from simulator.calibration import validate as V

    measurements = readable_file("--measurements", measurements)
    key = source.lower()
    if key not in VALIDATE_SOURCES:
        raise CalibrationError(f"--source {source!r} is unknown; allowed: {', '.join(VALIDATE_SOURCES)}")
    cal = None if calibration is None or calibration.lower() == "none" else calibration
    if key == "cpu":
        meas = None
        if measurements is not None:
            from simulator.calibration.suite import load_measurements

            meas = load_measurements(measurements)
        table, _, _, notes = V.validate_cpu(meas, device_name=device, progress=not as_json)
        notes.append("calibrated on half the kernel sizes of this machine's suite, errors on the other half")
    elif key == "measured-public":
        with _status("predicting measured_public.csv rows"):
            table, notes = V.validate_public(cal)
    else:
        with _status(f"loading and predicting {key}"):
            table, _, notes = V.validate_table(key, cal)
    if as_json:
        typer.echo(json.dumps({"source": key, "notes": notes, "rows": table.to_dict(orient="records")}, indent=2))
        return
    _echo_table(table, f"simlab validate --source {key}")
    for n in notes:
        typer.echo(f"note: {n}")


def register(app: typer.Typer) -> None:
    """Add the top-level ``calibrate`` and ``validate`` commands to the ``simlab`` app."""
    app.command("calibrate")(calibrate)
    app.command("validate")(validate)
