"""Published-dataset registry: lookup under $SIMLAB_DATA_DIR, sha256 check, errors (no network)."""

from __future__ import annotations

import hashlib
import shutil

import pytest
from conftest import require_dataset

from fitters import registry
from fitters.registry import (
    DatasetError,
    DatasetSpec,
    dataset_path,
    get_spec,
    list_datasets,
    load_csv,
    register,
)
from hardware_db.errors import SimlabError


@pytest.fixture
def no_cache(tmp_path, monkeypatch):
    """Point the download cache at an empty folder so nothing outside the test is found."""
    cache = tmp_path / "cache"
    cache.mkdir()
    monkeypatch.setattr(registry, "_cache_dir", lambda: cache)
    return cache


def _spec(name, sha, downloadable=True):
    return DatasetSpec(
        name=name,
        relative_path=f"unit/{name}.csv",
        sha256=sha,
        url="https://example.invalid/data.csv",
        license="test",
        description="unit test dataset",
        columns={"x": "unit"},
        downloadable=downloadable,
    )


def test_builtin_datasets_are_registered_with_provenance():
    names = [s.name for s in list_datasets()]
    for n in ("epoch-chinchilla", "steplaw-dense", "steplaw-bootstrap-params", "data-filtering-params",
              "parscale-losses", "porian-optimal-pairs"):
        assert n in names
    for s in list_datasets():
        assert len(s.sha256) == 64 and s.url.startswith("https://") and s.license and s.columns
        assert not s.relative_path.startswith("/")


def test_resolves_under_data_dir_and_checks_sha(tmp_path, monkeypatch, no_cache):
    content = b"x\n1\n2\n"
    spec = register(_spec("unit-good", hashlib.sha256(content).hexdigest()))
    f = tmp_path / "data" / spec.relative_path
    f.parent.mkdir(parents=True)
    f.write_bytes(content)
    monkeypatch.setenv("SIMLAB_DATA_DIR", str(tmp_path / "data"))
    assert dataset_path("unit-good", download=False) == f
    assert list(load_csv("unit-good")["x"]) == [1, 2]
    f.write_bytes(b"x\n1\n3\n")  # corrupt: same size, different hash
    with pytest.raises(DatasetError, match="sha256"):
        dataset_path("unit-good", download=False)


def test_missing_file_names_expected_path_and_url(tmp_path, monkeypatch, no_cache):
    register(_spec("unit-missing", "0" * 64))
    monkeypatch.setenv("SIMLAB_DATA_DIR", str(tmp_path))
    with pytest.raises(DatasetError) as err:
        dataset_path("unit-missing", download=False)
    msg = str(err.value)
    assert "\n" not in msg and str(tmp_path / "unit/unit-missing.csv") in msg and "https://example.invalid" in msg
    assert isinstance(err.value, SimlabError)


def test_non_downloadable_is_not_fetched(tmp_path, monkeypatch, no_cache):
    register(_spec("unit-derived", "0" * 64, downloadable=False))
    monkeypatch.delenv("SIMLAB_DATA_DIR", raising=False)
    with pytest.raises(DatasetError, match="derived"):
        dataset_path("unit-derived", download=True)


def test_unknown_and_conflicting_names():
    with pytest.raises(DatasetError, match="unknown dataset 'nope'.*epoch-chinchilla"):
        get_spec("nope")
    register(_spec("unit-conflict", "1" * 64))
    register(_spec("unit-conflict", "1" * 64))  # same spec again: fine
    with pytest.raises(DatasetError, match="already registered"):
        register(_spec("unit-conflict", "2" * 64))


def test_shared_files_match_registered_hashes(tmp_path):
    """Every registered dataset that is present locally passes its sha256 check."""
    path = require_dataset("epoch-chinchilla")
    dst = tmp_path / "copy.csv"
    shutil.copy(path, dst)
    assert hashlib.sha256(dst.read_bytes()).hexdigest() == get_spec("epoch-chinchilla").sha256
    for spec in list_datasets():
        if spec.name.startswith("unit-"):
            continue
        try:
            p = dataset_path(spec.name, download=False)
        except DatasetError:
            continue
        assert p.is_file()
