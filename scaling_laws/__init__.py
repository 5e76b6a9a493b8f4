"""Scaling laws as pure JAX functions with parameter names, bounds and published parameter sets.

Modules (each cites its paper in its docstring):

    chinchilla      Hoffmann et al. 2022 Approach 3 + Epoch 2024 replication (closed-form allocation)
    kaplan          Kaplan et al. 2020 joint L(N, D)
    farseer         Farseer 9-parameter law (bits/char, N non-embedding)
    steplaw         Step Law optimal learning rate and batch size
    data_filtering  Goyal et al. 2024 utility law with repetition, pool mixtures
    kinetics        Kinetics eFLOPs test-time cost model and frontiers
    parscale        ParScale L(N, P)
    coverage        test-time coverage with saturation, pass@k
    allocation      numerical compute-optimal allocation

``get_law(name)``, ``list_laws()`` and ``get_param_set("chinchilla-epoch")`` (in
:mod:`scaling_laws.base`) index them. Importing this package, or listing the laws, does not import
JAX: the law modules import ``jax.numpy`` when a law is first evaluated (:mod:`scaling_laws._lazy`).
This package never imports :mod:`simulator`.
"""

from scaling_laws.errors import LawError

__all__ = ["LawError", "get_law", "get_param_set", "list_laws"]


def __getattr__(name):
    if name in ("get_law", "get_param_set", "list_laws"):
        from scaling_laws import base

        return getattr(base, name)
    raise AttributeError(name)
