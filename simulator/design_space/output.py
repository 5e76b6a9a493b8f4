"""The output folder of a sweep: one Parquet part per chunk and a JSON manifest.

Layout and guarantees (see :mod:`simulator.design_space.runner`): ``out/_manifest.json`` (spec,
spec hash, chunk size, sizes, status, versions) and ``out/part-<chunk:06d>.parquet``. Parts and the
manifest are written to a hidden temporary file and renamed into place, so a part that exists is
complete; :func:`prepare_output` opens (resumes) or creates a folder and refuses, touching nothing,
one that holds another sweep or unrelated files.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from simulator.design_space.errors import SweepError
from simulator.design_space.grid import Grid
from simulator.design_space.spec import FORMAT_VERSION, SweepSpec, parse_spec

MANIFEST = "_manifest.json"
PART_RE = re.compile(r"^part-(\d+)\.parquet$")


def part_name(chunk: int) -> str:
    """File name of chunk ``chunk``'s part (``part-000042.parquet``)."""
    return f"part-{chunk:06d}.parquet"


def dictionary_columns(schema: pa.Schema) -> list[str]:
    """Columns worth Parquet dictionary encoding: names (dictionary/string) and integer axes (few
    distinct values). Float results and ``config_id`` (all distinct) are written plain, which is
    both faster and smaller than trying a dictionary first."""
    out = []
    for f in schema:
        t = f.type
        if f.name != "config_id" and (pa.types.is_dictionary(t) or pa.types.is_string(t)
                                      or pa.types.is_large_string(t) or pa.types.is_integer(t)):
            out.append(f.name)
    return out


def write_part(table: pa.Table, out_dir: str | Path, chunk: int, compression: str = "zstd") -> Path:
    """Write one part atomically (hidden temporary file, then rename); returns its path."""
    out = Path(out_dir)
    final = out / part_name(chunk)
    tmp = out / f".{part_name(chunk)}.{uuid.uuid4().hex}.tmp"
    try:
        pq.write_table(table, tmp, compression=None if compression == "none" else compression,
                       use_dictionary=dictionary_columns(table.schema))
        os.replace(tmp, final)
    finally:
        if tmp.exists():  # our own incomplete temporary file only
            tmp.unlink()
    return final


# -------------------------------------------------------------------------------- output folder
def completed_chunks(out_dir: str | Path) -> set[int]:
    """Chunk indices whose part file exists in ``out_dir``."""
    out = Path(out_dir)
    if not out.is_dir():
        return set()
    done = set()
    with os.scandir(out) as it:
        for entry in it:
            m = PART_RE.match(entry.name)
            if m:
                done.add(int(m.group(1)))
    return done


def read_manifest(out_dir: str | Path) -> dict | None:
    """The manifest of a sweep folder, or None when there is none."""
    path = Path(out_dir) / MANIFEST
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError, OSError) as err:
        raise SweepError(f"{path}: unreadable sweep manifest ({err}); choose another --out") from None
    if not isinstance(data, dict) or "spec_hash" not in data:
        raise SweepError(f"{path}: not a simlab sweep manifest; choose another --out")
    return data


def _write_manifest(out_dir: Path, data: dict) -> None:
    tmp = out_dir / f".{MANIFEST}.{uuid.uuid4().hex}.tmp"
    tmp.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n")
    os.replace(tmp, out_dir / MANIFEST)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("simlab")
    except Exception:  # pragma: no cover - not installed
        return "unknown"


def prepare_output(spec: SweepSpec, out_dir: str | Path, chunk_size: int | None = None) -> tuple[dict, Grid]:
    """Open (resume) or create the sweep folder for ``spec``; returns (manifest, grid).

    Refuses, without touching anything: a path that is a file; a folder whose manifest has another
    spec hash; a resume with an explicit ``chunk_size`` other than the one the parts were written
    with; a non-empty folder without a manifest (hidden files aside).
    """
    out = Path(out_dir).expanduser()
    if out.exists() and not out.is_dir():
        raise SweepError(f"--out '{out}' is a file; give a folder (new, empty, or holding this sweep)")
    manifest = read_manifest(out) if out.exists() else None
    if manifest is not None:
        if manifest.get("spec_hash") != spec.spec_hash:
            raise SweepError(
                f"--out '{out}' holds a different sweep (spec hash {str(manifest.get('spec_hash'))[:12]}, "
                f"this spec {spec.spec_hash[:12]}); nothing was changed; choose another --out"
            )
        written = int(manifest["chunk_size"])
        if chunk_size is not None and int(chunk_size) != written:
            raise SweepError(f"--chunk-size {chunk_size}: '{out}' was written with chunk size {written}; "
                             f"resume with --chunk-size {written} (or omit it) or choose another --out")
        return manifest, Grid.from_spec(spec, written)
    if out.exists():
        with os.scandir(out) as it:
            visible = sorted(e.name for e in it if not e.name.startswith("."))
        if visible:
            raise SweepError(f"--out '{out}' is not empty and holds no sweep manifest (found '{visible[0]}'); "
                             "choose a new or empty folder")
    grid = Grid.from_spec(spec, chunk_size)
    manifest = {
        "format": FORMAT_VERSION,
        "spec_hash": spec.spec_hash,
        "spec": spec.to_dict(),
        "kind": spec.kind,
        "name": spec.name,
        "axes_shape": {k: len(v) for k, v in spec.axes.items()},
        "n_configs": grid.size,
        "chunk_size": grid.chunk_size,
        "n_chunks": grid.n_chunks,
        "part_pattern": "part-<chunk:06d>.parquet",
        "status": "running",
        "created_utc": _now(),
        "simlab_version": _version(),
    }
    out.mkdir(parents=True, exist_ok=True)
    _write_manifest(out, manifest)
    return manifest, grid


def spec_from_manifest(manifest: dict) -> SweepSpec:
    """Rebuild the :class:`SweepSpec` recorded in a manifest (no catalog look-ups)."""
    spec = parse_spec(manifest["spec"], source=MANIFEST, check_catalog=False)
    if spec.spec_hash != manifest.get("spec_hash"):
        raise SweepError(f"{MANIFEST}: the recorded spec does not match its spec hash; the folder was edited")
    return spec


__all__ = ["MANIFEST", "PART_RE", "completed_chunks", "dictionary_columns", "part_name", "prepare_output",
           "read_manifest", "spec_from_manifest", "write_part"]
