"""Package list for setuptools (all other metadata is in pyproject.toml).

pyproject.toml cannot combine ``packages.find`` with a package whose folder is elsewhere, so the list
is made here: every package found under the five source folders, plus ``simulator.data``, which
``[tool.setuptools.package-dir]`` maps to the repository's ``data/`` folder (read through
:mod:`simulator.resources`). A new sub-package needs an ``__init__.py`` to be found.
"""

from setuptools import find_packages, setup

setup(packages=[*find_packages(include=["hardware_db*", "simulator*", "scaling_laws*", "fitters*", "cli*"]),
                "simulator.data"])
