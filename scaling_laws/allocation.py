"""Numerical compute-optimal allocation: minimise L(N, C / (k N)) over N at fixed compute C.

Used where a law has no closed form (Farseer, Kaplan's joint form) and to check the closed forms.
Vectorised over budgets: a log-spaced grid of ``n_grid`` model sizes brackets the minimum of each
budget, then ``n_golden`` golden-section steps (Kiefer 1953) shrink the bracket by 0.618 each, so
80 steps reach ~2e-17 of the initial bracket width in ln N, i.e. float64 precision.

The search is restricted to ``D/N`` in ``[ratio_lo, ratio_hi]``. ``interior`` is False when the
minimum sits on a boundary of that range, i.e. the law has no optimum inside it.
"""

from __future__ import annotations

from collections.abc import Callable

from scaling_laws._lazy import LazyModule

jax = LazyModule("jax")
jnp = LazyModule("jax.numpy")


_INVPHI = (5**0.5 - 1) / 2


def numerical_allocation(
    loss_of_nd: Callable[[jax.Array, jax.Array], jax.Array],
    compute_flop,
    *,
    flop_per_param_token: float = 6.0,
    ratio_lo: float = 1e-3,
    ratio_hi: float = 1e6,
    n_grid: int = 513,
    n_golden: int = 80,
) -> dict[str, jax.Array]:
    """argmin_N loss_of_nd(N, C / (k N)) for each budget C (k = ``flop_per_param_token``).

    Returns ``{"N": N*, "D": D*, "loss": L*, "interior": bool}`` with the shape of ``compute_flop``.
    """
    C = jnp.asarray(compute_flop, dtype=jnp.result_type(float))
    k = flop_per_param_token
    # D/N = C / (k N^2)  =>  ln N = (ln(C/k) - ln r) / 2
    lnc = jnp.log(C / k)
    u_lo = (lnc - jnp.log(ratio_hi)) / 2
    u_hi = (lnc - jnp.log(ratio_lo)) / 2

    t = jnp.linspace(0.0, 1.0, n_grid)
    ug = u_lo[..., None] + (u_hi - u_lo)[..., None] * t
    n = jnp.exp(ug)
    vals = loss_of_nd(n, C[..., None] / (k * n))
    vals = jnp.where(jnp.isfinite(vals), vals, jnp.inf)
    i = jnp.argmin(vals, axis=-1)
    step = (u_hi - u_lo) / (n_grid - 1)
    lo = u_lo + jnp.maximum(i - 1, 0) * step
    hi = u_lo + jnp.minimum(i + 1, n_grid - 1) * step

    def obj(u):
        nn = jnp.exp(u)
        return loss_of_nd(nn, C / (k * nn))

    def body(_, lh):
        lo, hi = lh
        x1 = hi - _INVPHI * (hi - lo)
        x2 = lo + _INVPHI * (hi - lo)
        left = obj(x1) <= obj(x2)
        return jnp.where(left, lo, x1), jnp.where(left, x2, hi)

    lo0, hi0 = lo, hi
    lo, hi = jax.lax.fori_loop(0, n_golden, body, (lo, hi))
    u = 0.5 * (lo + hi)
    # Golden section locates a flat minimum only to ~sqrt(eps); polish with Newton steps on
    # dL/du = 0 (elementwise, so grad of the sum), kept only while they stay in the bracket.
    d1 = jax.grad(lambda uu: jnp.sum(obj(uu)))
    d2 = jax.grad(lambda uu: jnp.sum(d1(uu)))
    for _ in range(3):
        g1, g2 = d1(u), d2(u)
        un = u - g1 / g2
        u = jnp.where((g2 > 0) & (un >= lo0) & (un <= hi0) & jnp.isfinite(un), un, u)
    N = jnp.exp(u)
    D = C / (k * N)
    interior = (i > 0) & (i < n_grid - 1)
    return {"N": N, "D": D, "loss": loss_of_nd(N, D), "interior": interior}
