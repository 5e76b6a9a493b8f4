"""Summaries of a sweep folder: best configuration per model and hardware, Pareto fronts, plots.

Everything is computed by streaming over the Parquet parts one at a time (only the needed
columns), so a summary of 1e8 rows needs the memory of one part, not of the dataset: the best row
of a group over the whole sweep is the best of the per-part bests, and the Pareto front of a union
is the front of the union of the per-part fronts.

Only rows that are valid (``valid``) and fit in memory (``fits``) and have finite metrics count.

Serving sweeps (``kind = "serve"``):

- best: the highest ``output_tokens_per_s_per_device`` per (model, hardware/system);
- Pareto front *latency vs throughput*, per model: lowest ``e2e_latency_s`` against highest
  ``output_tokens_per_s_per_device``;
- Pareto front *cost vs time*, per model: lowest ``usd_per_million_output_tokens`` (device price
  per hour from the catalog x devices / output tokens/s; rows of devices without a price are left
  out and counted) against lowest ``e2e_latency_s``.

Training sweeps (``kind = "train"``): best = highest ``tokens_per_s`` per (model, system); fronts
``step_time_s`` vs ``tokens_per_s`` and ``cost_usd`` vs ``train_time_s`` (with a ``tokens`` axis;
rows without a catalog price have NaN cost and drop out of that front).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from simulator.design_space.errors import SweepError
from simulator.design_space.output import MANIFEST, PART_RE, completed_chunks, read_manifest

SUMMARY_DIR = "_summary"
PRICE_COLUMN = "usd_per_million_output_tokens"


@dataclass(frozen=True)
class Front:
    """A 2-D Pareto front: ``x`` and ``y`` columns, each minimised (``"min"``) or maximised (``"max"``)."""

    name: str
    x: str
    x_sense: str
    y: str
    y_sense: str
    title: str


@dataclass(frozen=True)
class Plan:
    """What to summarise for a sweep kind: the best-of objective and the fronts."""

    best: str
    best_sense: str
    fronts: tuple[Front, ...]
    show: tuple[str, ...]


PLANS = {
    "serve": Plan(
        best="output_tokens_per_s_per_device", best_sense="max",
        fronts=(
            Front("latency_throughput", "e2e_latency_s", "min", "output_tokens_per_s_per_device", "max",
                  "latency vs throughput"),
            Front("cost_time", "e2e_latency_s", "min", PRICE_COLUMN, "min", "cost vs time"),
        ),
        show=("ttft_s", "tpot_s", "e2e_latency_s", "output_tokens_per_s", "output_tokens_per_s_per_device",
              "memory_bytes", "devices", PRICE_COLUMN),
    ),
    "train": Plan(
        best="tokens_per_s", best_sense="max",
        fronts=(
            Front("latency_throughput", "step_time_s", "min", "tokens_per_s", "max", "step time vs throughput"),
            Front("cost_time", "train_time_s", "min", "cost_usd", "min", "cost vs time to train"),
        ),
        show=("step_time_s", "tokens_per_s", "mfu", "total_bytes", "devices", "train_time_s", "cost_usd"),
    ),
}


@dataclass
class Summary:
    """Result of :func:`summarize`: tables (pandas) plus counts and notes; ``files`` written."""

    kind: str
    name: str
    rows: int
    rows_valid: int
    rows_fit: int
    parts: int
    n_chunks: int
    best: pd.DataFrame
    fronts: dict[str, pd.DataFrame]
    notes: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    axes: list[str] = field(default_factory=list)
    axis_sizes: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict:
        """JSON-able form (tables as lists of records)."""
        return {
            "kind": self.kind, "name": self.name, "rows": self.rows, "rows_valid": self.rows_valid,
            "rows_fit": self.rows_fit, "parts": self.parts, "n_chunks": self.n_chunks,
            "best": _records(self.best), "fronts": {k: _records(v) for k, v in self.fronts.items()},
            "notes": self.notes, "files": self.files, "axes": self.axes,
        }


def _records(df: pd.DataFrame) -> list[dict]:
    out = df.astype(object).where(df.notna(), None)
    return [{k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()} for row in out.to_dict("records")]


# ---------------------------------------------------------------------------------- primitives
def pareto_mask(x: np.ndarray, y: np.ndarray, x_sense: str = "min", y_sense: str = "max") -> np.ndarray:
    """Boolean mask of the non-dominated points (vectorised: one sort and a running extremum).

    A point is kept when no other point is at least as good in both coordinates and better in one;
    of exact duplicates one is kept.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    xs = x if x_sense == "min" else -x
    ys = -y if y_sense == "min" else y  # now: minimise xs, maximise ys
    order = np.lexsort((-ys, xs))  # by xs ascending, then ys descending
    ys_sorted = ys[order]
    best_before = np.concatenate([[-np.inf], np.maximum.accumulate(ys_sorted)[:-1]])
    keep_sorted = ys_sorted > best_before
    mask = np.zeros(len(x), dtype=bool)
    mask[order[keep_sorted]] = True
    return mask


def _front_rows(df: pd.DataFrame, front: Front, by: str) -> pd.DataFrame:
    """Rows of ``df`` on the front of their ``by`` group (loops over groups, not rows)."""
    ok = np.isfinite(df[front.x].to_numpy(float)) & np.isfinite(df[front.y].to_numpy(float))
    df = df[ok]
    if df.empty:
        return df
    keep = np.zeros(len(df), dtype=bool)
    codes, _ = pd.factorize(df[by].astype(str))
    for g in np.unique(codes):
        idx = np.flatnonzero(codes == g)
        keep[idx[pareto_mask(df[front.x].to_numpy(float)[idx], df[front.y].to_numpy(float)[idx],
                             front.x_sense, front.y_sense)]] = True
    return df[keep]


def _best_rows(df: pd.DataFrame, metric: str, sense: str, group: list[str]) -> pd.DataFrame:
    vals = df[metric].to_numpy(float)
    df = df[np.isfinite(vals)]
    if df.empty:
        return df
    ordered = df.sort_values(metric, ascending=(sense == "min"), kind="stable")
    return ordered.drop_duplicates(subset=group, keep="first")


def _price_per_hour(names: list[str], hw_col: str) -> dict[str, float]:
    """Catalog price per device-hour (USD) of each hardware/system name; NaN when unknown."""
    from hardware_db import load_device, load_system
    from hardware_db.errors import SimlabError

    out = {}
    for name in names:
        try:
            obj = load_system(name) if hw_col == "system" else load_device(name)
            dev = getattr(obj, "device", obj)
            price = dev.price_per_hour_usd
        except SimlabError:
            price = None
        out[name] = float("nan") if price is None else float(price)
    return out


# ---------------------------------------------------------------------------------------- main
def summarize(out_dir: str | Path, *, write: bool = True, plots: bool = True) -> Summary:
    """Summarise the sweep in ``out_dir`` (see the module doc); writes ``_summary/`` unless ``write=False``.

    Files: ``best.csv``, ``pareto_<front>.csv`` and, with ``plots``, ``pareto_<front>.png``.
    A partial sweep is summarised as far as it got (noted).
    """
    out = Path(out_dir).expanduser()
    manifest = read_manifest(out) if out.is_dir() else None
    if manifest is None:
        raise SweepError(f"'{out}' holds no sweep ({MANIFEST} missing); run 'simlab sweep SPEC --out {out}' first")
    kind = manifest.get("kind", "serve")
    plan = PLANS.get(kind)
    if plan is None:
        raise SweepError(f"{out / MANIFEST}: kind '{kind}'; allowed: {', '.join(PLANS)}")
    axes = list(manifest["spec"]["axes"])
    hw_col = "system" if "system" in axes else "hardware"
    group = ["model", hw_col]
    done = sorted(completed_chunks(out))
    if not done:
        raise SweepError(f"'{out}' holds no finished chunk yet; nothing to summarise")
    notes = []
    if len(done) < int(manifest["n_chunks"]):
        notes.append(f"partial sweep: {len(done)} of {manifest['n_chunks']} chunks")

    schema = pq.read_schema(out / _part(out, done[0]))
    present = set(schema.names)
    metric_cols = [c for c in dict.fromkeys([plan.best, *plan.show, *(f.x for f in plan.fronts),
                                             *(f.y for f in plan.fronts)]) if c in present]
    read_cols = [c for c in dict.fromkeys(["config_id", *axes, *metric_cols, "valid", "fits", "devices"])
                 if c in present]
    fronts = [f for f in plan.fronts if (f.x in present or f.x == PRICE_COLUMN)
              and (f.y in present or f.y == PRICE_COLUMN)]
    for f in plan.fronts:
        if f not in fronts:
            notes.append(f"front {f.name} skipped: columns {f.x}/{f.y} not in the results")
    use_price = kind == "serve" and any(PRICE_COLUMN in (f.x, f.y) for f in fronts)
    if plan.best not in present:
        raise SweepError(f"'{out}': result column {plan.best} missing; cannot pick the best configurations")

    prices: dict[str, float] = {}
    rows = rows_valid = rows_fit = no_price = 0
    best_parts, front_parts = [], {f.name: [] for f in fronts}
    for c in done:  # one part at a time: memory of one part
        df = pq.read_table(out / _part(out, c), columns=read_cols).to_pandas()
        rows += len(df)
        if "valid" in df:
            df = df[df["valid"].to_numpy(bool)]
        rows_valid += len(df)
        if "fits" in df:
            df = df[df["fits"].to_numpy(bool)]
        rows_fit += len(df)
        if df.empty:
            continue
        for col in group:
            df[col] = df[col].astype(str)
        if use_price:
            new = [n for n in pd.unique(df[hw_col]) if n not in prices]
            prices.update(_price_per_hour(new, hw_col))
            per_hour = df[hw_col].map(prices).to_numpy(float)
            devices = df["devices"].to_numpy(float) if "devices" in df else 1.0
            df[PRICE_COLUMN] = per_hour * devices / 3600.0 / df["output_tokens_per_s"].to_numpy(float) * 1e6
            no_price += int(np.isnan(per_hour).sum())
        best_parts.append(_best_rows(df, plan.best, plan.best_sense, group))
        for f in fronts:
            front_parts[f.name].append(_front_rows(df, f, "model"))

    if use_price and no_price:
        missing = sorted(n for n, p in prices.items() if np.isnan(p))
        notes.append(f"cost front: {no_price} fitting rows left out, no catalog price for {', '.join(missing)}")
    shown = [c for c in ["config_id", *axes, *plan.show] if c in (set(read_cols) | {PRICE_COLUMN})]

    def finish(parts: list[pd.DataFrame]) -> pd.DataFrame:
        parts = [p for p in parts if not p.empty]
        return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=shown)

    best = _best_rows(finish(best_parts), plan.best, plan.best_sense, group) if best_parts else finish([])
    best = best.sort_values(group).reset_index(drop=True)
    best = best[[c for c in shown if c in best.columns]]
    front_tables = {}
    for f in fronts:
        df = finish(front_parts[f.name])
        df = _front_rows(df, f, "model") if not df.empty else df
        if not df.empty:
            df = df.sort_values(["model", f.x]).reset_index(drop=True)
        front_tables[f.name] = df[[c for c in shown if c in df.columns]]
        if df.empty:
            notes.append(f"front {f.name}: no fitting row has finite {f.x} and {f.y}")

    summary = Summary(kind=kind, name=str(manifest.get("name", "sweep")), rows=rows, rows_valid=rows_valid,
                      rows_fit=rows_fit, parts=len(done), n_chunks=int(manifest["n_chunks"]), best=best,
                      fronts=front_tables, notes=notes, axes=axes,
                      axis_sizes={k: len(v) for k, v in manifest["spec"]["axes"].items()})
    if write:
        sdir = out / SUMMARY_DIR
        sdir.mkdir(exist_ok=True)
        with _atomic(sdir / "best.csv") as tmp:
            best.to_csv(tmp, index=False)
        summary.files.append(str(sdir / "best.csv"))
        for f in fronts:
            path = sdir / f"pareto_{f.name}.csv"
            with _atomic(path) as tmp:
                front_tables[f.name].to_csv(tmp, index=False)
            summary.files.append(str(path))
            if plots and not front_tables[f.name].empty:
                png = sdir / f"pareto_{f.name}.png"
                plot_front(front_tables[f.name], f, hw_col, png, title=f"{summary.name}: {f.title}")
                summary.files.append(str(png))
    return summary


@contextmanager
def _atomic(final: str | Path) -> Iterator[Path]:
    """A hidden temporary file next to ``final`` (same suffix, so writers infer the format), renamed
    onto ``final`` when the block succeeds: a reader never sees a half-written CSV or PNG."""
    final = Path(final)
    tmp = final.with_name(f".{final.stem}.{uuid.uuid4().hex}.tmp{final.suffix}")
    try:
        yield tmp
        os.replace(tmp, final)
    finally:
        if tmp.exists():  # our own incomplete temporary file only
            tmp.unlink()


def _part(out: Path, chunk: int) -> str:
    from simulator.design_space.output import part_name

    name = part_name(chunk)
    if (out / name).exists():
        return name
    for p in out.iterdir():  # a part written with other zero padding
        m = PART_RE.match(p.name)
        if m and int(m.group(1)) == chunk:
            return p.name
    raise SweepError(f"part of chunk {chunk} vanished from '{out}'")


def plot_front(df: pd.DataFrame, front: Front, hw_col: str = "hardware", path: str | Path | None = None,
               ax=None, title: str | None = None):
    """Plot a front table: one step line per model, markers by hardware; log axes. Returns the axes."""
    import matplotlib

    if ax is None and path is not None:
        matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    own = ax is None
    if own:
        fig, ax = plt.subplots(figsize=(7, 4.5))
    markers = "osD^vP*Xh<>"
    hws = sorted(pd.unique(df[hw_col].astype(str))) if hw_col in df else []
    for model, g in df.groupby("model", sort=True):
        g = g.sort_values(front.x)
        line, = ax.step(g[front.x], g[front.y], where="post", alpha=0.6, label=str(model))
        for i, hw in enumerate(hws):
            sel = g[hw_col].astype(str) == hw
            if sel.any():
                ax.scatter(g.loc[sel, front.x], g.loc[sel, front.y], marker=markers[i % len(markers)],
                           color=line.get_color(), s=24)
    for i, hw in enumerate(hws):
        ax.scatter([], [], marker=markers[i % len(markers)], color="gray", label=hw)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(front.x)
    ax.set_ylabel(front.y)
    ax.set_title(title or front.title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    if own and path is not None:
        fig.tight_layout()
        try:
            with _atomic(path) as tmp:
                fig.savefig(tmp, dpi=110)
        finally:
            plt.close(fig)
    return ax


__all__ = ["PLANS", "Front", "Plan", "Summary", "pareto_mask", "plot_front", "summarize"]
