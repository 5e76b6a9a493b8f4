"""Plots of request-level results (matplotlib, Agg backend; each function writes one PNG).

- :func:`plot_simulation`: latency CDFs (TTFT, TPOT, end-to-end) with the SLOs, and KV-cache /
  batch occupancy over time of replica 0.
- :func:`plot_capacity`: P99 TTFT and TPOT versus offered QPS from a capacity search's probes,
  and goodput (max QPS under the SLO) versus cost per hour of each candidate.
"""

from __future__ import annotations

import numpy as np


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_simulation(result, path) -> str:
    """Latency CDFs and occupancy of a :class:`simulator.requests.results.SimResult`; returns ``path``."""
    plt = _plt()
    from matplotlib.ticker import NullFormatter

    fig, axes = plt.subplots(1, 4, figsize=(16, 3.6))
    s = result.summary
    for ax, (name, x, slo) in zip(axes[:3], (("TTFT", result.ttft_s, s.get("slo_ttft_s")),
                                             ("TPOT", result.tpot_s, s.get("slo_tpot_s")),
                                             ("end-to-end", result.e2e_s, None)), strict=False):
        v = np.sort(x[np.isfinite(x)])
        if v.size:
            ax.plot(v, np.arange(1, v.size + 1) / v.size)
        if slo:
            ax.axvline(slo, color="r", ls="--", label=f"SLO {slo:g} s")
            ax.legend(loc="lower right")
        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel(f"{name} (s)")
        ax.set_ylabel("share of requests")
        ax.grid(alpha=0.3)
    ax = axes[3]
    ev = result.occupancy.get(0)
    if ev is not None and ev["time_s"].size:
        cap = float(ev.get("kv_capacity_tokens") or np.nan)
        ax.step(ev["time_s"], ev["running"], where="post", label="running sequences")
        ax.set_xlabel("time (s)")
        ax.set_ylabel("running sequences")
        if np.isfinite(cap):
            ax2 = ax.twinx()
            ax2.step(ev["time_s"], ev["kv_tokens"] / cap, where="post", color="C1", alpha=0.7)
            ax2.set_ylabel("KV cache used (share)", color="C1")
            ax2.set_ylim(0, 1.05)
    title = s.get("label", "")
    if s.get("overloaded"):
        title += "  [OVERLOADED]"
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return str(path)


def plot_capacity(results, path) -> str:
    """P99 latency vs QPS (probes) and goodput vs cost per hour for :class:`CapacityResult` objects."""
    plt = _plt()
    fig, axes = plt.subplots(1, 3, figsize=(15, 3.8))
    for i, r in enumerate(results):
        pr = sorted((p for p in r.probes if len(p) >= 5 and p[0] > 0), key=lambda p: p[0])
        if pr:
            q = [p[0] for p in pr]
            axes[0].plot(q, [p[3] for p in pr], "o-", color=f"C{i % 10}", label=r.label, ms=3)
            axes[1].plot(q, [p[4] for p in pr], "o-", color=f"C{i % 10}", ms=3)
        if r.reachable and r.usd_per_hour:
            axes[2].scatter([r.usd_per_hour], [r.max_qps], color=f"C{i % 10}")
            axes[2].annotate(r.label.split(":")[0], (r.usd_per_hour, r.max_qps), fontsize=7)
    axes[0].set_ylabel("P99 TTFT (s)")
    axes[1].set_ylabel("P99 TPOT (s)")
    for ax in axes[:2]:
        ax.set_xlabel("offered QPS")
        ax.set_yscale("log")
        ax.grid(alpha=0.3)
    axes[2].set_xlabel("USD per hour (one replica)")
    axes[2].set_ylabel("goodput: max QPS under SLO")
    axes[2].grid(alpha=0.3)
    if results:
        axes[0].legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return str(path)


__all__ = ["plot_capacity", "plot_simulation"]
