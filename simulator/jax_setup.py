"""Process-wide JAX settings made once by simlab: the persistent compilation cache.

simlab's cost functions are ``jit``-compiled per shape; a CLI query is a new process, so without a
persistent cache every ``simlab predict ...`` compiles again. :func:`enable_compile_cache` points
JAX's persistent compilation cache (https://docs.jax.dev/en/latest/persistent_compilation_cache.html)
at a user cache folder, so the second and later identical queries load their executables from disk:

* folder: ``$SIMLAB_COMPILE_CACHE_DIR``, else ``<user cache dir>/simlab/jax`` (``platformdirs``:
  ``$XDG_CACHE_HOME/simlab/jax`` or ``~/.cache/simlab/jax`` on Linux, ``~/Library/Caches/simlab/jax``
  on macOS); a ``JAX_COMPILATION_CACHE_DIR`` set by the user wins over both;
* opt-out: ``SIMLAB_NO_COMPILE_CACHE=1`` (the tests instead point ``SIMLAB_COMPILE_CACHE_DIR`` at a
  temporary folder per test session, ``tests/conftest.py``, so they never write into ``$HOME``);
* every compilation is cached (JAX's default skips compilations under 1 s, which are most of ours);
  the folder is capped at 2 GiB (JAX evicts the least recently used entries) when the ``filelock``
  package is installed (JAX needs it for the cap; without it the folder is not capped).

It does not import JAX: before JAX is imported it sets JAX's own environment variables (read by JAX
at import); after, it updates ``jax.config``. It is called once, from :mod:`simulator` (``import
simulator`` stays JAX-free), and may be moved to wherever simlab first computes.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

__all__ = ["OPT_OUT_VAR", "DIR_VAR", "compile_cache_dir", "enable_compile_cache"]

OPT_OUT_VAR = "SIMLAB_NO_COMPILE_CACHE"
DIR_VAR = "SIMLAB_COMPILE_CACHE_DIR"
_SETTINGS = {  # jax config name -> value (its environment variable is the name in upper case)
    "jax_persistent_cache_min_compile_time_secs": 0.0,
    "jax_persistent_cache_min_entry_size_bytes": 0,
}
_MAX_SIZE = ("jax_compilation_cache_max_size", 2 * 1024**3)  # bytes; needs the `filelock` package


def _off() -> bool:
    return os.environ.get(OPT_OUT_VAR, "").strip().lower() in ("1", "true", "yes", "on")


def compile_cache_dir() -> Path | None:
    """Folder of the persistent compilation cache, or None when switched off."""
    if _off():
        return None
    if os.environ.get("JAX_COMPILATION_CACHE_DIR"):
        return Path(os.environ["JAX_COMPILATION_CACHE_DIR"]).expanduser()
    if os.environ.get(DIR_VAR):
        return Path(os.environ[DIR_VAR]).expanduser()
    try:
        from platformdirs import user_cache_dir  # installed with pooch, a simlab dependency

        base = Path(user_cache_dir("simlab", appauthor=False))
    except ImportError:  # pragma: no cover
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "simlab"
    return base / "jax"


def enable_compile_cache() -> Path | None:
    """Switch JAX's persistent compilation cache on (idempotent); returns its folder or None (off)."""
    path = compile_cache_dir()
    if path is None:
        return None
    values = {"jax_compilation_cache_dir": str(path), **_SETTINGS}
    if importlib.util.find_spec("filelock") is not None:
        values[_MAX_SIZE[0]] = _MAX_SIZE[1]
    if "jax" in sys.modules:  # already imported: its config has read the environment
        import jax

        if jax.config.jax_compilation_cache_dir is None:
            for name, value in values.items():
                jax.config.update(name, value)
    else:
        for name, value in values.items():
            os.environ.setdefault(name.upper(), str(value))
    return path
