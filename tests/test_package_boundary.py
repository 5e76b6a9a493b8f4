"""Package boundary: shipped data through importlib.resources, the reference-table registry entry,
the compilation-cache setting and the precision helper (issue 11, "Boundaries")."""

from __future__ import annotations

import subprocess
import sys

import pytest

from simulator import resources
from simulator.resources import PackageDataError, data_file, shipped_names, shipped_or_path


def test_shipped_files_are_package_data():
    assert data_file("kinetics/example_accuracy.csv").is_file()
    assert data_file("validation/training_rows.csv").is_file()
    assert "a100-sxm4-80gb-vidur" in shipped_names("calibration", ".json")
    with pytest.raises(PackageDataError, match="no/such.csv"):
        data_file("no/such.csv")


def test_shipped_names_and_checkout_paths_resolve(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no data/ folder here, as after a wheel install
    want = resources.data_dir("calibration") / "a40-48gb.json"
    assert shipped_or_path("calibration", "a40-48gb", ".json") == want
    assert shipped_or_path("calibration", "a40-48gb.json", ".json") == want
    assert shipped_or_path("calibration", "data/calibration/a40-48gb.json", ".json") == want
    other = tmp_path / "elsewhere" / "a40-48gb.json"  # a user path that is not there stays as given
    assert shipped_or_path("calibration", other, ".json") == other
    own = tmp_path / "a40-48gb.json"
    own.write_text("{}")
    assert shipped_or_path("calibration", "a40-48gb.json", ".json") == own.relative_to(tmp_path)


def test_read_profile_by_name_and_one_line_error():
    from simulator.calibration.errors import CalibrationError
    from simulator.calibration.profile import read_profile

    assert read_profile("a100-sxm4-80gb-vidur").device.lower().startswith("a100")
    with pytest.raises(CalibrationError, match="shipped profile name") as err:
        read_profile("no-such-profile")
    assert "\n" not in str(err.value)


def test_measured_public_is_a_registered_reference_dataset(tmp_path, monkeypatch):
    import simulator.calibration.datasets  # noqa: F401  (registers measured-public)
    from fitters.registry import DatasetError, dataset_path, get_spec, root_dir

    spec = get_spec("measured-public")
    assert spec.root == "reference" and not spec.downloadable
    monkeypatch.delenv("SIMLAB_REFERENCE_DIR", raising=False)
    monkeypatch.setenv("SIMLAB_DATA_DIR", str(tmp_path / "data"))
    assert root_dir("reference") == tmp_path / "reference"
    with pytest.raises(DatasetError, match=r"reference/measured_public\.csv") as err:
        dataset_path("measured-public", download=False)
    assert "\n" not in str(err.value)
    monkeypatch.setenv("SIMLAB_REFERENCE_DIR", str(tmp_path / "ref"))
    assert root_dir("reference") == tmp_path / "ref"


def test_compile_cache_setting_without_importing_jax(tmp_path):
    code = (
        "import os, sys; os.environ.pop('SIMLAB_NO_COMPILE_CACHE', None); "
        "os.environ.pop('JAX_COMPILATION_CACHE_DIR', None); "
        f"os.environ['SIMLAB_COMPILE_CACHE_DIR'] = {str(tmp_path)!r}; "
        "import simulator; assert 'jax' not in sys.modules, 'import simulator imported jax'; "
        "print(os.environ['JAX_COMPILATION_CACHE_DIR']); "
        "os.environ['SIMLAB_NO_COMPILE_CACHE'] = '1'; from simulator.jax_setup import enable_compile_cache; "
        "print(enable_compile_cache())"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == [str(tmp_path), "None"]


def test_float64_helper_is_scoped():
    import jax.numpy as jnp

    from fitters.precision import float32, float64

    @float64()
    def f():
        with float32():
            inner = jnp.asarray(1.0).dtype
        return jnp.asarray(1.0).dtype, inner

    assert f() == (jnp.float64, jnp.float32)
    assert jnp.asarray(1.0).dtype == jnp.float32
