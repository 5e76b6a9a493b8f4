"""Monte Carlo of the checkpoint / failure / restart process (vectorised numpy, seeded).

The process is the one behind Daly's closed form (:mod:`simulator.reliability.young_daly`): work
is split into segments of ``tau`` compute followed by a checkpoint of ``C``; failures arrive as a
Poisson process of rate ``1/M`` (exponential inter-arrival times, memoryless); a failure during a
segment (compute or checkpoint) loses that segment and costs a restart of ``R``, during which a
new failure restarts the restart. Segments are independent (memoryless), so every segment of
every run is simulated at once; each loop iteration advances all unfinished segments by one
attempt.
"""

from __future__ import annotations

import numpy as np


def simulate_wall_time_s(solve_s: float, interval_s: float, checkpoint_s: float, restart_s: float, mtbf_s: float,
                         *, runs: int = 2000, seed: int = 0, max_iter: int = 100000) -> dict:
    """Simulated wall time of ``runs`` independent jobs; returns mean, std, standard error, the
    per-run wall times, failures per run and the closed-form comparison inputs."""
    rng = np.random.default_rng(seed)
    n_seg = int(np.ceil(solve_s / interval_s))
    last = solve_s - (n_seg - 1) * interval_s  # the final (shorter) segment, still checkpointed
    seg_work = np.full(n_seg, interval_s + checkpoint_s)
    seg_work[-1] = last + checkpoint_s
    work = np.broadcast_to(seg_work, (runs, n_seg)).copy()
    wall = np.zeros((runs, n_seg))
    fails = np.zeros((runs, n_seg), dtype=np.int64)
    active = np.ones((runs, n_seg), dtype=bool)
    in_restart = np.zeros((runs, n_seg), dtype=bool)
    for _ in range(max_iter):
        if not active.any():
            break
        idx = np.nonzero(active)
        t = rng.exponential(mtbf_s, size=idx[0].size)
        need = np.where(in_restart[idx], restart_s, work[idx])
        ok = t >= need
        wall[idx] += np.where(ok, need, t)
        # a finished restart moves on to the work phase; a finished work phase ends the segment
        fin_work = ok & ~in_restart[idx]
        fin_restart = ok & in_restart[idx]
        failed = ~ok
        fails[idx[0][failed], idx[1][failed]] += 1
        active[idx[0][fin_work], idx[1][fin_work]] = False
        in_restart[idx[0][fin_restart], idx[1][fin_restart]] = False
        in_restart[idx[0][failed], idx[1][failed]] = True
    per_run = wall.sum(axis=1)
    return {"mean_s": float(per_run.mean()), "std_s": float(per_run.std(ddof=1)),
            "stderr_s": float(per_run.std(ddof=1) / np.sqrt(runs)), "wall_s": per_run,
            "failures_mean": float(fails.sum(axis=1).mean()), "segments": n_seg, "runs": runs, "seed": seed}
