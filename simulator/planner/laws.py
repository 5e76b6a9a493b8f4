"""Adapters from :mod:`scaling_laws` to what the planner needs: a loss ``L(N, D)`` that knows which
parameter count it takes, and Step Law hyper-parameters.

Loss laws are resolved by ``<law>-<set>`` name through :func:`scaling_laws.base.get_param_set`
(e.g. ``chinchilla-epoch``, the default; ``chinchilla-hoffmann``; ``kaplan-...``; ``farseer-...``),
with the short aliases of :data:`ALIASES`. A law whose ``inputs["N"]`` description says
"non-embedding" is evaluated on non-embedding parameters (Kaplan et al. 2020, Farseer), the
others on total parameters (Chinchilla: Hoffmann et al. 2022 count embeddings).

Step Law (Li et al. 2025, *Predictable Scale: Part I*, arXiv:2503.04715, Eq. for eta* and B*)::

    eta*(N, D) = 1.79 N^-0.713 D^0.307      (peak LR; N = non-embedding parameters, D = tokens)
    B*(D)      = 0.58 D^0.571               (global batch in tokens)

taken from :mod:`scaling_laws.steplaw` (published set, see :func:`step_law`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from fitters.precision import float64
from simulator.planner.errors import PlanError

DEFAULT_LAW = "chinchilla-epoch"

#: Short names accepted by ``--law`` in addition to the registry's ``<law>-<set>`` names.
ALIASES = {
    "epoch": "chinchilla-epoch",
    "chinchilla": "chinchilla-epoch",
    "hoffmann": "chinchilla-hoffmann",
}


@dataclass(frozen=True)
class LossLaw:
    """A loss law ready for the planner.

    ``loss(n_total, n_non_embedding, tokens)`` returns numpy float64 (broadcasting);
    ``non_embedding`` says which count the law's ``N`` is (and hence ``C = 6 N D`` uses);
    ``output`` names the loss and its unit; ``source`` the paper and table of the parameters.
    """

    name: str
    fn: Callable
    params: dict
    non_embedding: bool
    output: str
    source: str

    def loss(self, n_total, n_non_embedding, tokens) -> np.ndarray:
        n = n_non_embedding if self.non_embedding else n_total
        return self.loss_of_nd(n, tokens)

    @float64()
    def loss_of_nd(self, n, tokens) -> np.ndarray:
        """The law at its own ``N`` convention (float64)."""
        return np.asarray(self.fn(self.params, N=np.asarray(n, dtype=np.float64),
                                  D=np.asarray(tokens, dtype=np.float64)), dtype=np.float64)

    def describe(self) -> dict:
        return {"name": self.name, "params": dict(self.params), "n_convention":
                "non-embedding" if self.non_embedding else "total (embeddings included)",
                "output": self.output, "source": self.source}


def get_loss_law(name: str = DEFAULT_LAW) -> LossLaw:
    """Resolve ``name`` (``<law>-<set>`` or an alias) to a :class:`LossLaw`; one-line error otherwise."""
    from scaling_laws.base import get_param_set

    key = ALIASES.get(str(name).strip().lower(), str(name).strip().lower())
    law, ps = get_param_set(key)  # LawError (a SimlabError) listing the known names
    if "N" not in law.inputs or "D" not in law.inputs:
        raise PlanError(f"law '{name}' is not a loss law of (N, D); inputs: {', '.join(law.inputs)}")
    if not str(law.output).lower().startswith("loss"):
        from scaling_laws.base import list_laws

        losses = [f"{lw.name}-{p}" for lw in list_laws() if str(lw.output).lower().startswith("loss")
                  and "N" in lw.inputs and "D" in lw.inputs for p in lw.published]
        raise PlanError(f"law '{name}' predicts {law.output.split('(')[0].strip()}, not a loss; "
                        f"allowed: {', '.join(losses)}")
    non_emb = "non-embedding" in str(law.inputs["N"]).lower()
    return LossLaw(f"{law.name}-{ps.name}", law.fn, dict(ps.values), non_emb, law.output, ps.source)


# ------------------------------------------------------------------------------------ Step Law
STEP_LAW_SOURCE = ("Li et al. 2025, Predictable Scale: Part I (Step Law), arXiv:2503.04715: "
                   "eta* = 1.79 N^-0.713 D^0.307, B* = 0.58 D^0.571 tokens")


@float64()
def step_law(n_non_embedding, tokens) -> tuple[np.ndarray, np.ndarray]:
    """(peak learning rate, global batch in tokens) of Step Law at (N non-embedding, D tokens),
    from :mod:`scaling_laws.steplaw` with its published parameters."""
    from scaling_laws import steplaw as sl

    params = dict(sl.PUBLISHED["published"].values)
    N = np.asarray(n_non_embedding, dtype=np.float64)
    D = np.asarray(tokens, dtype=np.float64)
    return (np.asarray(sl.optimal_lr(params, N, D), dtype=np.float64),
            np.asarray(sl.optimal_batch_tokens(params, D), dtype=np.float64))
