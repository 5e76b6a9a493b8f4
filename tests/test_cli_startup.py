"""Start-up: JAX is imported only by commands that compute (asserted on ``sys.modules``, not timed).

Each command runs in a fresh interpreter (``cli.main.main`` called from ``python -c``), which then
reports whether ``jax`` was imported. The timing itself is a benchmark: bench/bench_cli_startup.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PROBE = """
import sys
from cli.main import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
sys.stderr.write("\\nJAX-IMPORTED=%s\\n" % ("jax" in sys.modules))
"""

@pytest.mark.parametrize("argv", [
    ["--help"],
    ["hardware", "list"],
    ["hardware", "show", "h100"],
    ["models", "list"],  # ModelSpec becomes a pytree when JAX is imported (simulator/lazy_jax.py)
    ["laws", "list"],  # the law modules import jax.numpy on first use (scaling_laws/_lazy.py)
], ids=lambda a: " ".join(a))
def test_listing_does_not_import_jax(argv):
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    p = subprocess.run([sys.executable, "-c", PROBE, *argv], capture_output=True, text=True, cwd=REPO, env=env,
                       timeout=120)
    assert "Traceback" not in p.stderr, p.stderr
    assert "JAX-IMPORTED=False" in p.stderr, f"simlab {' '.join(argv)} imported jax"
