"""DiLoCo quality cost: evaluation loss versus the number of replicas M (pure functions).

Charles et al. 2025, "Communication-Efficient Language Model Training Scales Reliably and Robustly:
Scaling Laws for DiLoCo", arXiv:2503.09799 (https://arxiv.org/abs/2503.09799), fit joint power
laws in model size N and replicas M (v1 Table 10, joint fits; models 35M-2.4B at
Chinchilla-optimal token budgets, synchronisation cadence fixed at H = 30: "While we fix H = 30 for
these scaling laws", footnote 1)::

    L(N, M)  = A N^alpha M^beta          A = 19.226, alpha = -0.0985, beta = 0.0116
    B*(N, M) = a N^p M^q  sequences      a = 0.00709, p = 0.4695, q = 0.3399 (sequence length 2048)

Coefficient provenance: checked against the paper's text (v1 of 12 Mar 2025, Table 10: L 19.226 /
-0.0985 / 0.0116; B 0.00709 / 0.4695 / 0.3399). A later version of the paper numbers the same
table 11 and gives the batch in tokens, A = 14.521 = 2048 x 0.00709 (its data-parallel batch fit,
462.68, is likewise 2048 x v1's 0.22592), which is how the v1 unit, sequences of 2,048 tokens, is
known. The public calculator github.com/mino98/diloco-calculator transcribes the same v1 values.

Only the **ratio** is used by the planner: the multiplicative loss penalty of M replicas relative
to M = 1, ``L(N, M) / L(N, 1) = M^beta`` (independent of N in this joint form: +0.8 / +1.6 /
+2.4 % for M = 2 / 4 / 8). The paper reports that DiLoCo with M = 1 matches or beats data-parallel
training at every size it ran, so applying ``M^beta`` to a data-parallel loss law is conservative
for DiLoCo at large N; the measured penalties are smaller than ``M^beta`` at 2.4B (Table 4: M = 2 /
4 / 8 at +0.26 / +0.65 / +1.5 % over M = 1) and larger at 35M (about +4 % at M = 8), so at small N
the joint form understates the cost. The fit holds at H = 30 only: "For a fixed N and M,
evaluation loss increases as H increases. However, this increase is less pronounced for M = 1 and
larger models" (Sec. 5.1), and H = 1 is worst. The planner's default is therefore H = 30
(``simulator.lowcomm.LowCommConfig``); above it the DiLoCo loss is optimistic by an amount the
paper gives no fit for (its Figure 9 plots the rise). Token budgets far from Chinchilla-optimal
and sizes outside 35M-2.4B (and its 4B / 10B extrapolations) are extrapolations. The same caveats apply to Streaming DiLoCo (Douillard et al.
2025, arXiv:2501.18512), which reports loss on par with DiLoCo at equal M.

NoLoCo (Kolehmainen et al. 2025, arXiv:2506.10911) and CO2 (Sun et al. 2024, ICLR, arXiv:2401.16265)
publish no fitted scaling law of this kind; no penalty numbers are provided for them here.
"""

from __future__ import annotations

import numpy as np

from scaling_laws.errors import LawError

DILOCO_SOURCE = ("Charles et al. 2025, arXiv:2503.09799 v1, Table 10 joint fits at H = 30 (checked against "
                 "the paper's text; batch in sequences of 2048 tokens)")
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
