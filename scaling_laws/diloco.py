"""DiLoCo quality cost: evaluation loss versus the number of replicas M (pure functions).

Charles et al. 2025, "Communication-Efficient Language Model Training Scales Reliably and Robustly:
Scaling Laws for DiLoCo", arXiv:2503.09799 (https://arxiv.org/abs/2503.09799), fit joint power
laws in model size N and replicas M (their Table 10, joint fits; models 35M-2.4B at
Chinchilla-optimal token budgets, each with the paper's tuned synchronisation cadence H)::

    L(N, M)  = A N^alpha M^beta          A = 19.226, alpha = -0.0985, beta = 0.0116
    B*(N, M) = a N^p M^q  sequences      a = 0.00709, p = 0.4695, q = 0.3399 (sequence length 2048)

Coefficient provenance: transcribed from the paper's Table 10 by the public calculator
https://github.com/mino98/diloco-calculator (diloco.html, "Constants for Scaling Laws (Table 10)").
We could not open the paper's table itself through our search tools, so these numbers are
second-hand; check them against arXiv:2503.09799 Table 10 before relying on them.

Only the **ratio** is used by the planner: the multiplicative loss penalty of M replicas relative
to M = 1, ``L(N, M) / L(N, 1) = M^beta`` (independent of N in this joint form). The paper reports
that DiLoCo with M = 1 matches or beats data-parallel training at every size it ran, so applying
``M^beta`` to a data-parallel loss law is conservative for DiLoCo. The fit does not model the
inner-step count H (the paper finds loss insensitive to H over its tested range) nor token budgets
far from Chinchilla-optimal; outside 35M-2.4B (and its 4B / 10B extrapolations) it is an
extrapolation. The same caveats apply to Streaming DiLoCo (Douillard et al. 2025, arXiv:2501.18512),
which reports loss on par with DiLoCo at equal M.

NoLoCo (Kolehmainen et al. 2025, arXiv:2506.10911) and CO2 (Sun et al. 2024, ICLR, arXiv:2401.16265)
publish no fitted scaling law of this kind; no penalty numbers are provided for them here.
"""

from __future__ import annotations

import numpy as np

from scaling_laws.errors import LawError

DILOCO_SOURCE = ("Charles et al. 2025, arXiv:2503.09799, Table 10 joint fits (second-hand via "
                 "github.com/mino98/diloco-calculator diloco.html)")
LOSS_A = 19.226
LOSS_ALPHA = -0.0985
LOSS_BETA = 0.0116
BATCH_A = 0.00709
BATCH_P = 0.4695
BATCH_Q = 0.3399
BATCH_SEQ_LEN = 2048


def _check(name, x, lo):
    a = np.asarray(x, dtype=float)
    if not np.all(np.isfinite(a)) or np.any(a < lo):
        raise LawError(f"{name} = {x!r}; allowed: finite numbers >= {lo:g}")
    return a


def diloco_loss(n_params, replicas):
    """Charles et al. joint fit ``A N^alpha M^beta`` (their N convention: parameters)."""
    N = _check("n_params", n_params, 1.0)
    M = _check("replicas", replicas, 1.0)
    return LOSS_A * N ** LOSS_ALPHA * M ** LOSS_BETA


def diloco_loss_factor(replicas):
    """Multiplicative loss penalty of M replicas relative to M = 1: ``M^beta``."""
    M = _check("replicas", replicas, 1.0)
    return M ** LOSS_BETA


def diloco_batch_sequences(n_params, replicas):
    """Fitted optimal global batch (sequences of 2048 tokens)."""
    N = _check("n_params", n_params, 1.0)
    M = _check("replicas", replicas, 1.0)
    return BATCH_A * N ** BATCH_P * M ** BATCH_Q
