"""The :class:`FitResult` every fitter returns."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class FitResult:
    """Outcome of a fit.

    Attributes:
        law: law name (``"chinchilla"``, ``"steplaw"``, ...).
        params: fitted parameters (law's own names and units).
        objective: value of the minimised objective at ``params`` (its definition in ``method``).
        n_points: data points used.
        method: one line saying what was minimised and how.
        n_starts: optimiser starts tried (1 for closed-form fits).
        n_converged: starts whose optimiser met its convergence test.
        n_at_best: starts that ended within 1e-6 (relative) of the best objective.
        converged: whether the start that gave ``params`` met its convergence test.
        stderr: bootstrap standard errors per parameter (None without a bootstrap).
        ci: 95 % percentile bootstrap intervals per parameter.
        samples: bootstrap parameter samples (name -> array), kept for plots.
        warnings: human-readable warnings (non-convergence, parameters at bounds, ...).
        extra: law-specific facts (derived quantities, held-out errors, ...).
    """

    law: str
    params: dict[str, float]
    objective: float
    n_points: int
    method: str
    n_starts: int = 1
    n_converged: int = 1
    n_at_best: int = 1
    converged: bool = True
    stderr: dict[str, float] | None = None
    ci: dict[str, tuple[float, float]] | None = None
    samples: dict[str, np.ndarray] | None = field(default=None, repr=False)
    warnings: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly dict (bootstrap samples left out)."""

        def clean(v):
            if isinstance(v, dict):
                return {k: clean(x) for k, x in v.items()}
            if isinstance(v, (list, tuple)):
                return [clean(x) for x in v]
            if isinstance(v, np.ndarray):
                return clean(v.tolist())
            if isinstance(v, (np.floating, float)):
                f = float(v)
                return f if math.isfinite(f) else None
            if isinstance(v, (np.integer,)):
                return int(v)
            if isinstance(v, np.bool_):
                return bool(v)
            return v

        return clean(
            {
                "law": self.law,
                "params": self.params,
                "stderr": self.stderr,
                "ci95": self.ci,
                "objective": self.objective,
                "n_points": self.n_points,
                "method": self.method,
                "n_starts": self.n_starts,
                "n_converged": self.n_converged,
                "n_at_best": self.n_at_best,
                "converged": self.converged,
                "warnings": self.warnings,
                "extra": self.extra,
            }
        )

    def summary(self) -> str:
        """Multi-line human-readable summary."""
        lines = [f"{self.law}: {self.method}", f"points {self.n_points}, objective {self.objective:.6g}"]
        if self.n_starts > 1:
            lines.append(
                f"starts {self.n_starts}, converged {self.n_converged}, at best {self.n_at_best}, "
                f"best start converged: {'yes' if self.converged else 'NO'}"
            )
        for k, v in self.params.items():
            s = f"  {k:>14s} = {v:.6g}"
            if self.stderr and k in self.stderr:
                s += f"  (se {self.stderr[k]:.3g}"
                if self.ci and k in self.ci:
                    lo, hi = self.ci[k]
                    s += f", 95% CI [{lo:.4g}, {hi:.4g}]"
                s += ")"
            lines.append(s)
        for k, v in self.extra.items():
            if isinstance(v, (int, float, np.floating)):
                lines.append(f"  {k:>14s} = {float(v):.6g}")
        for w in self.warnings:
            lines.append(f"warning: {w}")
        return "\n".join(lines)
