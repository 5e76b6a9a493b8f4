"""Published-dataset registry: name -> relative path, sha256, public URL, license, columns with units.

Third-party data files are never committed to simlab. A dataset is found, in this order:

1. ``<root folder>/<relative_path>``, its sha256 checked against the registered one. The root
   folder is ``$SIMLAB_DATA_DIR`` for published datasets (``root="data"``; CI points it at the shared
   data folder) and ``$SIMLAB_REFERENCE_DIR`` for the team's reference tables compiled from public
   sources (``root="reference"``, e.g. ``measured-public``), which defaults to the ``reference``
   folder next to ``$SIMLAB_DATA_DIR`` (``../shared/reference`` when ``SIMLAB_DATA_DIR=../shared/data``);
2. the pooch cache (``pooch.os_cache("simlab")/<relative_path>``), filled by an earlier download;
3. with ``download=True``, a downloadable spec and ``SIMLAB_OFFLINE`` unset (``simlab --offline``
   sets it): downloaded once from the public URL with :func:`pooch.retrieve` (hash-checked, no
   progress output) into that cache.

Otherwise :class:`DatasetError` says which path was expected and where the file comes from.

Modules register their datasets at import time with :func:`register`; the datasets used by
:mod:`scaling_laws` / :mod:`fitters` are registered at the bottom of this module. Importing this
module is cheap (``pooch`` and ``pandas`` are imported inside the functions that need them).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fitters.errors import DatasetError

__all__ = [
    "DatasetError",
    "DatasetSpec",
    "dataset_path",
    "get_spec",
    "list_datasets",
    "load_csv",
    "register",
]

ENV_VAR = "SIMLAB_DATA_DIR"
REFERENCE_ENV_VAR = "SIMLAB_REFERENCE_DIR"
ROOTS = ("data", "reference")
#: ``SIMLAB_OFFLINE=1`` (also set by ``simlab --offline``): never download; a missing file is an error
#: naming the expected path and where to get the file.
OFFLINE_VAR = "SIMLAB_OFFLINE"


def offline() -> bool:
    """True when downloads are switched off (``SIMLAB_OFFLINE`` set to 1/true/yes/on)."""
    return os.environ.get(OFFLINE_VAR, "").strip().lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class DatasetSpec:
    """One published dataset.

    Attributes:
        name: registry key (lower case, dashes), e.g. ``"epoch-chinchilla"``.
        relative_path: path under ``$SIMLAB_DATA_DIR`` (and under the download cache),
            e.g. ``"chinchilla/svg_extracted_data.csv"``.
        sha256: hex digest of the exact file.
        url: public URL of the file (raw, pinned to a commit) or, when ``downloadable`` is False,
            the page that says where the values come from.
        license: license of the file as stated by its source ("none" when the source has none).
        description: one-line description with the paper it comes from.
        columns: column -> unit / meaning.
        downloadable: False when the file is *derived* by the simlab team (transcribed from code or
            exported from pickles) and so cannot be fetched byte-identical from ``url``.
        citation: paper the data belongs to.
        root: ``"data"`` (under ``$SIMLAB_DATA_DIR``) or ``"reference"`` (under
            ``$SIMLAB_REFERENCE_DIR``, default ``$SIMLAB_DATA_DIR/../reference``).
    """

    name: str
    relative_path: str
    sha256: str
    url: str
    license: str
    description: str
    columns: dict[str, str] = field(default_factory=dict)
    downloadable: bool = True
    citation: str = ""
    root: str = "data"


_REGISTRY: dict[str, DatasetSpec] = {}
_HASH_CACHE: dict[tuple[str, int, int], str] = {}


def register(spec: DatasetSpec) -> DatasetSpec:
    """Add ``spec`` to the registry (re-registering the same name with the same spec is a no-op)."""
    if not isinstance(spec, DatasetSpec):
        raise DatasetError(f"register() expects a DatasetSpec, got {type(spec).__name__}")
    if spec.root not in ROOTS:
        raise DatasetError(f"dataset {spec.name!r}: root {spec.root!r}; allowed: {', '.join(ROOTS)}")
    old = _REGISTRY.get(spec.name)
    if old is not None and old != spec:
        raise DatasetError(f"dataset {spec.name!r} is already registered with a different spec")
    _REGISTRY[spec.name] = spec
    return spec


def list_datasets() -> list[DatasetSpec]:
    """All registered datasets, sorted by name."""
    return [_REGISTRY[k] for k in sorted(_REGISTRY)]


def get_spec(name: str) -> DatasetSpec:
    """The spec registered under ``name``; :class:`DatasetError` listing the known names otherwise."""
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY)) or "none"
        raise DatasetError(f"unknown dataset {name!r}; registered datasets: {known}") from None


def _sha256(path: Path) -> str:
    st = path.stat()
    key = (str(path), st.st_size, st.st_mtime_ns)
    digest = _HASH_CACHE.get(key)
    if digest is None:
        h = hashlib.sha256()
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
        digest = h.hexdigest()
        _HASH_CACHE[key] = digest
    return digest


def _check(spec: DatasetSpec, path: Path) -> Path:
    digest = _sha256(path)
    if digest != spec.sha256:
        raise DatasetError(
            f"dataset {spec.name!r}: {path} has sha256 {digest[:12]}..., expected {spec.sha256[:12]}...; "
            f"replace it with the file from {spec.url}"
        )
    return path


def _cache_dir() -> Path:
    import pooch

    return Path(pooch.os_cache("simlab"))


def root_dir(root: str = "data") -> Path | None:
    """Folder a spec's ``relative_path`` is looked up under: ``$SIMLAB_DATA_DIR`` for ``"data"``;
    ``$SIMLAB_REFERENCE_DIR``, else ``$SIMLAB_DATA_DIR/../reference``, for ``"reference"``; None if unset."""
    if root == "reference" and os.environ.get(REFERENCE_ENV_VAR):
        return Path(os.environ[REFERENCE_ENV_VAR]).expanduser()
    env = os.environ.get(ENV_VAR)
    if not env:
        return None
    base = Path(env).expanduser()
    return base if root == "data" else base.parent / "reference"


def _where(spec: DatasetSpec) -> str:
    d = root_dir(spec.root)
    var = REFERENCE_ENV_VAR if spec.root == "reference" else ENV_VAR
    expected = (f"{d}/{spec.relative_path}" if d is not None
                else f"${var}/{spec.relative_path} (neither ${var} nor ${ENV_VAR} is set)" if spec.root == "reference"
                else f"${var}/{spec.relative_path} (${var} is not set)")
    how = f"download it from {spec.url}" if spec.downloadable else f"it is derived by the simlab team from {spec.url}; copy it from the team's shared {spec.root} folder"
    return f"expected {expected}; {how}"


def dataset_path(name: str, download: bool = True) -> Path:
    """Local path of registered dataset ``name`` (sha256-checked).

    Looks under ``$SIMLAB_DATA_DIR``, then the pooch cache; downloads into the cache when
    ``download`` is True and the spec is downloadable. Raises :class:`DatasetError` naming the
    expected path and the source URL when the file cannot be had.
    """
    spec = get_spec(name)
    d = root_dir(spec.root)
    if d is not None:
        p = d / spec.relative_path
        if p.is_file():
            return _check(spec, p)
    try:
        cached = _cache_dir() / spec.relative_path
    except ImportError:  # pragma: no cover - pooch is a declared dependency
        cached = None
    if cached is not None and cached.is_file():
        return _check(spec, cached)
    if not download or not spec.downloadable:
        raise DatasetError(f"dataset {name!r} not found: {_where(spec)}")
    if offline():
        raise DatasetError(f"dataset {name!r} not found and downloads are off ({OFFLINE_VAR}=1 or --offline): "
                           f"{_where(spec)}")
    import pooch

    pooch.get_logger().setLevel("WARNING")  # no "Downloading data from ..." line before an error
    try:
        fetched = pooch.retrieve(
            url=spec.url,
            known_hash=f"sha256:{spec.sha256}",
            fname=Path(spec.relative_path).name,
            path=cached.parent,
            progressbar=False,
        )
    except Exception as err:  # network errors, hash mismatch, ...
        msg = str(err).splitlines()[0] if str(err) else type(err).__name__
        if len(msg) > 120:  # e.g. a urllib3 connection error quoting the whole pool
            msg = f"{type(err).__name__}: no connection or the server refused" if "connect" in msg.lower() or \
                "resolve" in msg.lower() else msg[:117] + "..."
        raise DatasetError(f"dataset {name!r}: download failed ({msg}); {_where(spec)}") from None
    return Path(fetched)


def load_csv(name: str, **pandas_kwargs: Any):
    """Read registered dataset ``name`` with :func:`pandas.read_csv` (``**pandas_kwargs`` passed on)."""
    import pandas as pd

    path = dataset_path(name)
    try:
        return pd.read_csv(path, **pandas_kwargs)
    except Exception as err:
        raise DatasetError(f"dataset {name!r}: cannot read {path} as CSV ({type(err).__name__})") from None


# --------------------------------------------------------------------------------------------------
# Datasets used by scaling_laws / fitters (sha256 of the files in the team's shared data folder,
# identical to the upstream files at the pinned commits unless ``downloadable=False``).
# --------------------------------------------------------------------------------------------------

_EPOCH = "https://raw.githubusercontent.com/epoch-research/analyzing-chinchilla/92258837425e1b5f2851d624287f0120583a3d0e"
_STEP = "https://raw.githubusercontent.com/step-law/steplaw/32a8f4cc50247695fb56cc6c9117abdf67c97763"
_GOYAL = "https://raw.githubusercontent.com/locuslab/scaling_laws_data_filtering/251f695d38b32c46d915a56c9eec5bab4ce3feee"
_PORIAN_REPO = "https://github.com/formll/resolving-scaling-law-discrepancies/tree/0dc60d91b8a525858a3067fc9e4a46ff5374cc6f/data"
_PORIAN_CITE = "Porian, Wortsman, Jitsev, Schmidt, Carmon, Resolving Discrepancies in Compute-Optimal Scaling of Language Models, NeurIPS 2024, arXiv:2406.19146"
_PORIAN_CFG = {
    "dataset": "rw = RefinedWeb, owt2 = OpenWebText2",
    "hparams": "base | tuned",
    "warmup": "long | short",
    "decay": "kaplan | chinchilla | const",
    "param_count": "kaplan | standard | attention (parameter/FLOP counting convention)",
    "val": "train | val loss",
    "source_file": "upstream pickle the row was exported from",
}
_STEP_CITE = "Li et al., Predictable Scale: Part I - Optimal Hyperparameter Scaling Law in LLM Pretraining, arXiv:2503.04715"
_STEP_COLS = {
    "h": "hidden size d_model",
    "ffnh": "FFN inner size (SwiGLU)",
    "numh": "attention heads",
    "numl": "layers",
    "lr": "peak learning rate (dimensionless)",
    "bs": "batch size in sequences of 2048 tokens",
    "ti": "training iterations (steps)",
    "loss": "final training loss, nats/token",
    "smooth loss": "smoothed final training loss, nats/token (the quantity the paper fits)",
    "exp_name": "run id",
    "D": "training tokens",
    "N": "non-embedding parameters",
    "D/N": "tokens per parameter",
}

register(
    DatasetSpec(
        name="epoch-chinchilla",
        relative_path="chinchilla/svg_extracted_data.csv",
        sha256="193478df4e90f040016431996c45682659306840ecdadf83cfb9cd5ca0aa1b30",
        url=f"{_EPOCH}/data/svg_extracted_data.csv",
        license="none (no LICENSE file; cite arXiv:2404.10102, do not redistribute)",
        description="245 Chinchilla (Hoffmann et al. 2022, Fig. 4 left) runs digitised from the SVG by Epoch AI",
        columns={
            "x": "marker centre, SVG px",
            "y": "marker centre, SVG px",
            "color": "marker fill colour, hex RGB",
            "Model Size": "N, parameters (embeddings included)",
            "Training FLOP": "C, training compute, FLOP (D = C / (6 N) is imputed)",
            "hex_color": "duplicate of color",
            "loss": "final loss, nats/token (MassiveText eval, decoded from colour bar, +-0.01)",
        },
        citation="Besiroglu, Erdil, Barnett, You, Chinchilla Scaling: A replication attempt, arXiv:2404.10102",
    )
)

register(
    DatasetSpec(
        name="steplaw-dense",
        relative_path="step_law/dense_lr_bs_loss.csv",
        sha256="9e46181076c04d450294d75dfe6f72adc416e231e154a07b337e378f9410002c",
        url=f"{_STEP}/data/dense_lr_bs_loss.csv",
        license="none (no LICENSE file; cite arXiv:2503.04715, do not redistribute)",
        description="1,911 dense Llama-style runs over learning rate x batch size, 17 (N, D) cells (Step Law)",
        columns=_STEP_COLS,
        citation=_STEP_CITE,
    )
)

register(
    DatasetSpec(
        name="steplaw-moe",
        relative_path="step_law/moe_lr_bs_loss.csv",
        sha256="653d585244a7b227423007e8b796bc16d76f6d24eb87b1919b8f048a91897b92",
        url=f"{_STEP}/data/moe_lr_bs_loss.csv",
        license="none (no LICENSE file; cite arXiv:2503.04715, do not redistribute)",
        description="708 MoE runs over learning rate x batch size (Step Law)",
        columns={
            **_STEP_COLS,
            "N": "total non-embedding parameters incl. all experts",
            "Na": "activated non-embedding parameters",
            "topk": "active routed experts per token",
            "nume": "routed experts",
        },
        citation=_STEP_CITE,
    )
)

register(
    DatasetSpec(
        name="steplaw-bootstrap-params",
        relative_path="step_law/1004_fitted_lr_bs_scaling_model_parameters.csv",
        sha256="2252afbba5530e6ba6167e8101bd2b9082a018a58cb5922cc8672891a7f4336c",
        url=f"{_STEP}/data/1004_fitted_lr_bs_scaling_model_parameters.csv",
        license="none (no LICENSE file; cite arXiv:2503.04715, do not redistribute)",
        description="1,000 bootstrap refits of the Step Law (OLS in log space on near-optimal runs)",
        columns={
            "lr_intercept": "ln eta* intercept (eta* dimensionless)",
            "lr_coefN": "exponent of N (non-embedding parameters) in eta*",
            "lr_coefD": "exponent of D (tokens) in eta*",
            "bs_intercept": "ln B* intercept, B* in tokens",
            "bs_coefD": "exponent of D (tokens) in B*",
        },
        citation=_STEP_CITE,
    )
)

register(
    DatasetSpec(
        name="data-filtering-params",
        relative_path="data_filtering/parameter_values.jsonl",
        sha256="a7548617c341ca6c317d8ddf0ab108b9b268a8480e1b04ab7ff6fc65d6b6e943",
        url=f"{_GOYAL}/results/parameter_values.jsonl",
        license="none (no LICENSE file; cite arXiv:2404.07177)",
        description="Fitted per-pool parameters of the data-filtering scaling law (DataComp medium, T-MARS pools); JSON lines",
        columns={
            "id": "tmars_imagenet1k_utility (effective utility) | tmars_imagenet1k_data (effective data)",
            "names": "pool names",
            "a_values": "scale a per pool (n in samples / 1e5)",
            "b_values": "utility exponent b per pool (negative)",
            "c_values": "tau, repetition half-life per pool, epochs",
            "d_value": "irreducible error (ImageNet-1k zero-shot error fraction)",
            "best_loss": "grid-search objective (mean SSE in error space)",
        },
        citation="Goyal, Maini, Lipton, Raghunathan, Kolter, Scaling Laws for Data Filtering, CVPR 2024, arXiv:2404.07177",
    )
)

register(
    DatasetSpec(
        name="parscale-losses",
        relative_path="parscale/parscale_fit_losses.csv",
        sha256="ec10e10786ddb5fc645c9dfb13e55a7f119afc4be1456fda579647bf665fcf68",
        url="https://github.com/QwenLM/ParScale/blob/cd6acb48ba6d3b1f9715785ff0d212751210177d/parametric_fit.py",
        license="none in the repo (HF checkpoints apache-2.0); values transcribed, cite arXiv:2505.10475",
        description="48 ParScale pre-training losses (Stack-V2 Python and Pile; P = 1, 2, 4, 8) transcribed from parametric_fit.py",
        columns={
            "dataset": "stack_v2_python | pile",
            "P": "parallel streams",
            "size_label": "nominal size label",
            "non_embedding_params_incl_parscale": "N, non-embedding parameters incl. ParScale prefix/aggregation",
            "loss": "final loss, nats/token (Qwen2.5 tokenizer)",
        },
        downloadable=False,
        citation="Chen et al., Parallel Scaling Law for Language Models, NeurIPS 2025, arXiv:2505.10475",
    )
)

register(
    DatasetSpec(
        name="porian-isoflop-points",
        relative_path="porian/derived_isoflop_points.csv",
        sha256="8a70bca0432b476dcefe080c3f244a7642bcbce0098c0981f482024466c7c97b",
        url=_PORIAN_REPO,
        license="MIT (upstream repository); CSV exported by the simlab team from summary_df*.pickle.xz",
        description="1,745 IsoFLOP points (Porian et al. 2024) per configuration",
        columns={**_PORIAN_CFG, "flops": "budget C, FLOP", "n_params": "N, parameters (per param_count)",
                 "tokens": "D, tokens", "loss": "final loss, nats/token"},
        downloadable=False,
        citation=_PORIAN_CITE,
    )
)

register(
    DatasetSpec(
        name="porian-optimal-pairs",
        relative_path="porian/derived_optimal_pairs.csv",
        sha256="9c32090d266b3f288b2dd19ff47497743f6bf8165b165ced9789b5f849f2c3aa",
        url=_PORIAN_REPO,
        license="MIT (upstream repository); CSV exported by the simlab team from summary_df*.pickle.xz",
        description="177 compute-optimal (N*, D*) pairs per budget with bootstrap log-std (Porian et al. 2024)",
        columns={**_PORIAN_CFG, "flops": "budget C, FLOP", "n_star": "N*, parameters", "t_star": "D*, tokens",
                 "tokens_per_param_star": "D*/N*", "loss_star": "loss at optimum, nats/token",
                 "n_star_log_std": "bootstrap std of ln N*", "t_star_log_std": "bootstrap std of ln D*",
                 "loss_star_std": "bootstrap std of loss*, nats/token"},
        downloadable=False,
        citation=_PORIAN_CITE,
    )
)

register(
    DatasetSpec(
        name="porian-fit-results",
        relative_path="porian/derived_fit_results.csv",
        sha256="f95f8faa878f5b2f7b4ac390318e8fbf131a672dbabc6bc30ef8b5e4149b37cb",
        url=_PORIAN_REPO,
        license="MIT (upstream repository); CSV exported by the simlab team from summary_df*.pickle.xz",
        description="90 rows of the authors' own power-law fits N* = n_coef C^n_exponent (Porian et al. 2024)",
        columns={**_PORIAN_CFG, "fit": "basic | weighted | bs_median | bs_median_weighted | bootstrap*",
                 "n_exponent": "a in N* ~ C^a", "n_coef": "coefficient of N*",
                 "t_exponent": "b in D* ~ C^b", "n_exponent_lo": "2.5% bootstrap quantile of a",
                 "n_exponent_hi": "97.5% bootstrap quantile of a"},
        downloadable=False,
        citation=_PORIAN_CITE,
    )
)
