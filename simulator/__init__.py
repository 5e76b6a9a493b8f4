"""simlab simulator: model specs, operator costs, roofline, serving and training predictions.

Only the error classes are imported here; import the sub-modules you need
(``simulator.models``, ``simulator.roofline``, ...).
"""

from simulator.errors import ConfigError, ModelError

__all__ = ["ConfigError", "ModelError"]
