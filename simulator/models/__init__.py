"""Model architectures: ``ModelSpec`` (a JAX pytree), the built-in catalog and config loaders.

>>> from simulator.models import load_model
>>> load_model("llama-2-7b").total_params()
6738415616
"""

from simulator.errors import ModelError
from simulator.models.catalog import (
    CatalogEntry,
    catalog_entries,
    describe,
    from_toml,
    list_models,
    load_model,
    model_info,
)
from simulator.models.hf_config import SUPPORTED_MODEL_TYPES, from_hf_config
from simulator.models.spec import ModelSpec, stack_specs

__all__ = [
    "SUPPORTED_MODEL_TYPES",
    "CatalogEntry",
    "ModelError",
    "ModelSpec",
    "catalog_entries",
    "describe",
    "from_hf_config",
    "from_toml",
    "list_models",
    "load_model",
    "model_info",
    "stack_specs",
]
