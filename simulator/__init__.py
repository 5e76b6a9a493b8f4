"""simlab simulator: model specs, operator costs, roofline, serving and training predictions.

Only the error classes are imported here; import the sub-modules you need
(``simulator.models``, ``simulator.roofline``, ...).
"""

from simulator.errors import ConfigError, ModelError
from simulator.jax_setup import enable_compile_cache

enable_compile_cache()  # persistent JAX compilation cache in the user cache dir (SIMLAB_NO_COMPILE_CACHE=1: off)

__all__ = ["ConfigError", "ModelError"]
