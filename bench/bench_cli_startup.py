"""Start-up cost of the ``simlab`` command: ``simlab --help`` wall time / ``python -c "import jax"``.

JAX is imported only by commands that compute; listing and help must not pay for it. Prints both
medians (of ``--repeats`` runs, default 5) and their ratio; the target is a ratio <= 0.5.

    python bench/bench_cli_startup.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TARGET = 0.5


def _median_s(cmd: list[str], repeats: int) -> float:
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        subprocess.run(cmd, cwd=REPO, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    py = sys.executable
    jax_s = _median_s([py, "-c", "import jax"], args.repeats)
    cmds = {
        "simlab --help": [py, "-m", "cli.main", "--help"],
        "simlab hardware list": [py, "-m", "cli.main", "hardware", "list"],
    }
    print(f"python -c 'import jax': {jax_s * 1e3:.0f} ms (median of {args.repeats})")
    ratio = None
    for label, cmd in cmds.items():
        t = _median_s(cmd, args.repeats)
        r = t / jax_s
        ratio = r if ratio is None else ratio
        print(f"{label}: {t * 1e3:.0f} ms = {r:.2f}x import jax")
    status = "OK" if ratio <= TARGET else "ABOVE TARGET"
    print(f"ratio simlab --help / import jax = {ratio:.2f} (target <= {TARGET}): {status}")


if __name__ == "__main__":
    main()
