"""simlab's own data files (calibration profiles, the Kinetics example table, validation rows).

Installed as the package ``simulator.data`` (see ``pyproject.toml`` / ``setup.py``) and read only
through :mod:`simulator.resources`; this file exists so that the folder is a regular package in
both an editable install and a wheel. It holds no code.
"""
