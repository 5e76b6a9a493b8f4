"""Diagnostic plots of fits (matplotlib, object API on an Agg canvas: no display, no pyplot state)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fitters.errors import FitError
from fitters.precision import float64
from fitters.result import FitResult

PLOT_SUFFIXES = (".png", ".pdf", ".svg", ".jpg", ".jpeg")


def check_plot_path(path: str | Path | None) -> Path | None:
    """``path`` as a Path if a plot can be written there; FitError naming --plot otherwise.

    Refused: an existing folder, a folder that does not exist or is a file, a suffix matplotlib
    would not write (allowed: .png, .pdf, .svg, .jpg).
    """
    if path is None:
        return None
    p = Path(path).expanduser()
    if p.is_dir():
        raise FitError(f"--plot '{p}' is a folder; allowed: a file path such as fit.png")
    if p.suffix.lower() not in PLOT_SUFFIXES:
        raise FitError(f"--plot '{p}' has suffix {p.suffix or '(none)'!r}; allowed: {', '.join(PLOT_SUFFIXES)}")
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise FitError(f"--plot '{p}': folder '{parent}' does not exist (or is a file); create it first")
    return p


def _figure(ncols: int):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5.0 * ncols, 4.2), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


@float64()
def plot_chinchilla_fit(result: FitResult, N, D, L, path: str | Path | None = None):
    """Fitted surface with isoFLOP curves, residuals, and bootstrap distributions (if any).

    Returns the matplotlib Figure; writes it to ``path`` when given (see :func:`check_plot_path`).
    """

    path = check_plot_path(path)
    from scaling_laws import chinchilla as law

    N, D, L = (np.asarray(v, dtype=np.float64) for v in (N, D, L))
    C = 6 * N * D
    p = result.params
    has_bs = bool(result.samples)
    fig = _figure(3 if has_bs else 2)
    axes = fig.subplots(1, 3 if has_bs else 2)
    ax = axes[0]
    sc = ax.scatter(N, L, c=np.log10(C), s=12, cmap="viridis")
    fig.colorbar(sc, ax=ax, label="log10 C [FLOP]")
    budgets = np.logspace(np.floor(np.log10(C.min())), np.ceil(np.log10(C.max())), 6)
    for c in budgets:
        n = np.logspace(np.log10(N.min()) - 0.5, np.log10(N.max()) + 0.5, 200)
        d = c / (6 * n)
        ax.plot(n, np.asarray(law.loss(p, n, d)), lw=1, color="0.4")
        opt = law.optimal_allocation(p, c)
        ax.plot(float(opt["N"]), float(opt["loss"]), "r.", ms=6)
    pred = np.asarray(law.loss(p, N, D))
    ax.set(xscale="log", xlabel="N [parameters]", ylabel="loss [nats/token]", title="fit with isoFLOP curves (red: optimum)")
    ax.set_ylim(L.min() - 0.1, min(L.max() + 0.2, 6))
    ax = axes[1]
    ax.scatter(C, np.log(L) - np.log(pred), s=10)
    ax.axhline(0, color="k", lw=0.8)
    ax.set(xscale="log", xlabel="C [FLOP]", ylabel="ln L - ln L_fit", title=f"residuals (objective {result.objective:.4g})")
    if has_bs:
        ax = axes[2]
        for k in ("alpha", "beta"):
            ax.hist(result.samples[k], bins=40, alpha=0.6, label=f"{k} (se {result.stderr[k]:.3f})")
        ax.legend()
        ax.set(xlabel="exponent", ylabel="bootstrap count", title=f"{len(result.samples['alpha'])} bootstrap refits")
    if path is not None:
        fig.savefig(path, dpi=110)
    return fig


def plot_steplaw_fit(result: FitResult, path: str | Path | None = None):
    """Bootstrap distributions of the Step Law exponents."""
    path = check_plot_path(path)
    if not result.samples:
        raise FitError("--plot needs bootstrap samples for Step Law; allowed: --bootstrap >= 2")
    fig = _figure(3)
    for ax, k in zip(fig.subplots(1, 3), ("lr_coefN", "lr_coefD", "bs_coefD"), strict=True):
        ax.hist(result.samples[k], bins=40)
        ax.axvline(result.params[k], color="r")
        ax.set(xlabel=k, ylabel="bootstrap count", title=f"{k} = {result.params[k]:.3f} (se {result.stderr[k]:.3f})")
    if path is not None:
        fig.savefig(path, dpi=110)
    return fig
