"""The built-in model catalog: named architectures with their sources and published counts.

The data live in ``builtin_models.toml`` next to this module (one table per model; every entry
names its architecture ``source`` and its ``published_params`` with ``published_params_source``,
transcribed from the project's reference table ``model_configs.csv``). This module

- looks names up case-insensitively, through aliases (``"Llama-3-70B"``,
  ``"meta-llama/Meta-Llama-3-70B"``); '_' and spaces count as '-', and a Hugging Face repository id
  also matches on its part after the '/';
- suggests close names on a miss (``difflib``);
- loads a model from a path: a Hugging Face ``config.json`` (or a directory holding one, see
  ``simulator.models.hf_config``) or a TOML file with ``ModelSpec`` fields as top-level keys.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import tomllib
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from simulator.errors import ModelError
from simulator.models.hf_config import from_hf_config
from simulator.models.spec import ModelSpec

CATALOG_FILE = "builtin_models.toml"

#: Keys of a catalog entry (or a user TOML model file) that are not ``ModelSpec`` fields.
METADATA_KEYS = (
    "display_name",
    "family",
    "aliases",
    "source",
    "published_params",
    "published_params_source",
    "published_params_rounding",
    "published_params_resolution",
    "published_active_params",
    "published_active_params_source",
    "published_active_rounding",
    "published_active_resolution",
    "nominal_params",
    "notes",
    "count_notes",
)

_ROUNDING = ("nearest", "down")

_SIZE = 1 << 20
#: Finite range of every architecture field of a model file (catalog TOML, user TOML, HF config),
#: in counts (layers, elements, tokens). Generous: what lies outside is not a trainable model and
#: would overflow the int32 arguments of the compiled simulator (num_layers = 1e12). Flags (0/1 or
#: 0/1/2) are checked by ``ModelSpec.validate``. Listed in docs/input_validation.md.
FIELD_RANGES: dict[str, tuple[int, int]] = {
    "num_layers": (1, 10_000),
    "hidden_size": (1, _SIZE),
    "num_heads": (1, 1 << 16),
    "num_kv_heads": (1, 1 << 16),
    "head_dim": (1, 1 << 16),
    "ffn_size": (0, 1 << 22),
    "vocab_size": (1, 1 << 24),
    "num_experts": (0, 1 << 16),
    "experts_per_token": (0, 1 << 12),
    "num_shared_experts": (0, 1 << 12),
    "expert_ffn_size": (0, 1 << 22),
    "first_dense_layers": (0, 10_000),
    "max_context": (0, 1 << 30),
    "q_lora_rank": (0, 1 << 16),
    "kv_lora_rank": (0, 1 << 16),
    "qk_rope_head_dim": (0, 1 << 16),
    "v_head_dim": (0, 1 << 16),
}
#: Largest total parameter count accepted (a quadrillion).
MAX_TOTAL_PARAMS = 1e15


def check_field_values(fields: Mapping[str, Any], where: str) -> None:
    """Refuse a ``ModelSpec`` field that is not a whole number (a string, a fraction, NaN) or lies
    outside :data:`FIELD_RANGES`; one ``ModelError`` naming ``where`` and the field."""
    for key, value in fields.items():
        if key == "name":
            continue
        if isinstance(value, bool):
            value = int(value)
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if not isinstance(value, int):
            raise ModelError(f"{where}: field '{key}' = {value!r}; allowed: a whole number (not a string or a fraction)")
        lo, hi = FIELD_RANGES.get(key, (0, 2))
        if not lo <= value <= hi:
            raise ModelError(f"{where}: field '{key}' = {value}; allowed: an integer in [{lo}, {hi}]")


def checked_spec(name: str, fields: Mapping[str, Any], where: str) -> ModelSpec:
    """``ModelSpec.create`` after :func:`check_field_values`, then the total-size cap; errors name ``where``."""
    check_field_values(fields, where)
    try:
        spec = ModelSpec.create(name=name, **fields)
    except ModelError as err:
        raise ModelError(f"{where}: {err}") from None
    total = spec.total_params()
    if total > MAX_TOTAL_PARAMS:
        raise ModelError(f"{where}: model '{name}' has {float(total):.3g} parameters; allowed: at most "
                         f"{MAX_TOTAL_PARAMS:g}")
    return spec


@dataclasses.dataclass(frozen=True)
class CatalogEntry:
    """One built-in model: its ``spec`` plus provenance.

    ``published_*_rounding``/``*_resolution`` say how coarsely the publisher rounded
    (``"nearest"``: to the nearest multiple of the resolution; ``"down"``: truncated), or are
    ``None`` when the published figure is exact enough for a 0.5% comparison.
    """

    name: str
    spec: ModelSpec
    display_name: str
    family: str
    aliases: tuple[str, ...]
    source: str
    published_params: float | None
    published_params_source: str | None
    published_params_rounding: str | None = None
    published_params_resolution: float | None = None
    published_active_params: float | None = None
    published_active_params_source: str | None = None
    published_active_rounding: str | None = None
    published_active_resolution: float | None = None
    nominal_params: float | None = None
    notes: str = ""
    count_notes: str = ""


def _normalise(name: str) -> str:
    return "-".join(str(name).strip().lower().replace("_", "-").split())


def _catalog_text() -> tuple[str, bytes]:
    ref = resources.files("simulator.models").joinpath(CATALOG_FILE)
    return str(ref), ref.read_bytes()


def _entry_from_table(canonical: str, table: Mapping[str, Any], where: str) -> CatalogEntry:
    fields = set(ModelSpec.field_names())
    for key in table:
        if key not in fields and key not in METADATA_KEYS:
            raise ModelError(
                f"{where}: model '{canonical}' has unknown key '{key}'; allowed: ModelSpec fields or "
                f"{', '.join(METADATA_KEYS)}"
            )
    if not table.get("source"):
        raise ModelError(f"{where}: model '{canonical}' lacks 'source' (where its architecture comes from)")
    if table.get("published_params") is not None and not table.get("published_params_source"):
        raise ModelError(f"{where}: model '{canonical}' has published_params without published_params_source")
    for key in ("published_params_rounding", "published_active_rounding"):
        if table.get(key) is not None and table[key] not in _ROUNDING:
            raise ModelError(f"{where}: model '{canonical}': '{key}' must be one of {', '.join(_ROUNDING)}")
    arch = {k: v for k, v in table.items() if k in fields and k != "name"}
    spec = checked_spec(canonical, arch, where)
    return CatalogEntry(
        name=canonical,
        spec=spec,
        display_name=table.get("display_name", canonical),
        family=table.get("family", ""),
        aliases=tuple(table.get("aliases", ())),
        source=table["source"],
        published_params=table.get("published_params"),
        published_params_source=table.get("published_params_source"),
        published_params_rounding=table.get("published_params_rounding"),
        published_params_resolution=table.get("published_params_resolution"),
        published_active_params=table.get("published_active_params"),
        published_active_params_source=table.get(
            "published_active_params_source",
            table.get("published_params_source") if table.get("published_active_params") is not None else None,
        ),
        published_active_rounding=table.get("published_active_rounding"),
        published_active_resolution=table.get("published_active_resolution"),
        nominal_params=table.get("nominal_params"),
        notes=table.get("notes", ""),
        count_notes=table.get("count_notes", ""),
    )


@functools.cache
def _load_catalog() -> tuple[dict[str, CatalogEntry], dict[str, str]]:
    where, raw = _catalog_text()
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:  # pragma: no cover - packaging bug
        raise ModelError(f"{where}: malformed TOML: {err}") from None
    entries: dict[str, CatalogEntry] = {}
    index: dict[str, str] = {}
    for canonical, table in data.get("models", {}).items():
        if canonical != canonical.lower():
            raise ModelError(f"{where}: model name '{canonical}' must be lower-case")
        entry = _entry_from_table(canonical, table, where)
        entries[canonical] = entry
        for key in (canonical, entry.display_name, *entry.aliases):
            norm = _normalise(key)
            if index.get(norm, canonical) != canonical:
                raise ModelError(f"{where}: alias '{key}' is used by both '{index[norm]}' and '{canonical}'")
            index[norm] = canonical
    return entries, index


def list_models() -> list[str]:
    """Canonical names of the built-in models, in catalog order."""
    return list(_load_catalog()[0])


def catalog_entries() -> list[CatalogEntry]:
    """All built-in catalog entries, in catalog order."""
    return list(_load_catalog()[0].values())


def _resolve(name: str) -> str | None:
    entries, index = _load_catalog()
    key = _normalise(name)
    if key in index:
        return index[key]
    if "/" in key:
        tail = key.rsplit("/", 1)[1]
        if tail in index:
            return index[tail]
    return None


def _unknown(name: str) -> ModelError:
    entries, index = _load_catalog()
    key = _normalise(name)
    candidates = difflib.get_close_matches(key, list(index), n=6, cutoff=0.6)
    if "/" in key:
        candidates += difflib.get_close_matches(key.rsplit("/", 1)[1], list(index), n=6, cutoff=0.6)
    suggestions = list(dict.fromkeys(index[c] for c in candidates))[:3]
    hint = f"did you mean: {', '.join(suggestions)}? " if suggestions else ""
    return ModelError(
        f"unknown model '{name}'; {hint}(`simlab models list` shows all; a path to a Hugging Face "
        "config.json or a model TOML file also works)"
    )


def model_info(name: str) -> CatalogEntry:
    """The catalog entry of a built-in model (case-insensitive name or alias)."""
    canonical = _resolve(name)
    if canonical is None:
        raise _unknown(name)
    return _load_catalog()[0][canonical]


def from_toml(path: str | Path) -> ModelSpec:
    """Load a user model file: a TOML with ``ModelSpec`` fields as top-level keys.

    ``name`` defaults to the file stem; the catalog's metadata keys (``source``, ``notes``, ...)
    are allowed and ignored.
    """
    from hardware_db.parse import decode_text

    p = Path(path).expanduser()
    if p.exists() and not p.is_file():
        raise ModelError(f"model file '{p}' is a folder or not a regular file; allowed: a TOML file")
    try:
        data = tomllib.loads(decode_text(p.read_bytes(), str(p), ModelError))
    except FileNotFoundError:
        raise ModelError(f"model file '{p}' not found") from None
    except OSError as err:
        raise ModelError(f"model file '{p}' cannot be read: {err.strerror}") from None
    except tomllib.TOMLDecodeError as err:
        raise ModelError(f"{p}: malformed TOML: {err}") from None
    name = data.pop("name", p.stem)
    if not isinstance(name, str):
        raise ModelError(f"{p}: key 'name' must be a string")
    return _entry_from_table(name, {"source": str(p), **data}, str(p)).spec


def load_model(name_or_path: str | Path | ModelSpec) -> ModelSpec:
    """A ``ModelSpec`` from a built-in name/alias or a path.

    Paths: a Hugging Face ``config.json`` (or a directory containing one; see ``from_hf_config``)
    or a ``.toml`` model file (see ``from_toml``). Existing paths win over catalog names; a
    ``ModelSpec`` is returned unchanged. Unknown names raise ``ModelError`` with close suggestions.
    """
    if isinstance(name_or_path, ModelSpec):
        return name_or_path
    text = str(name_or_path)
    if not text.strip():
        raise ModelError("model name must not be empty (`simlab models list` shows the built-in models)")
    p = Path(text).expanduser()
    if p.exists():
        if p.suffix.lower() == ".toml":
            return from_toml(p)
        return from_hf_config(p)
    canonical = _resolve(text)
    if canonical is not None:
        return _load_catalog()[0][canonical].spec
    if p.suffix.lower() in (".json", ".toml") or text.startswith(("./", "../", "/", "~")):
        raise ModelError(f"model file '{p}' not found")
    raise _unknown(text)


def describe(spec: ModelSpec, entry: CatalogEntry | None = None) -> dict[str, Any]:
    """Plain-Python summary of a spec (SI/count units) for the CLI and notebooks.

    Contains every field, the derived counts, ``kv_cache_bytes_per_token_bf16`` (2 bytes/element),
    ``weights_bytes_bf16`` (2 bytes/parameter) and, for catalog models, the provenance and the
    relative difference ``(ours - published) / published`` in percent.
    """
    spec.check()
    total = int(spec.total_params())
    active = int(spec.active_params())
    out: dict[str, Any] = dict(spec.to_dict())
    out.update(
        total_params=total,
        active_params=active,
        embedding_params=int(spec.embedding_params()),
        non_embedding_params=int(spec.non_embedding_params()),
        attention_params_per_layer=int(spec.attention_params_per_layer()),
        dense_mlp_params_per_layer=int(spec.mlp_params_per_layer(False)),
        moe_mlp_params_per_layer=int(spec.mlp_params_per_layer(True)) if spec.num_experts else 0,
        dense_layers=int(spec.dense_layers),
        moe_layers=int(spec.moe_layers),
        kv_cache_elems_per_token=int(spec.kv_cache_elems_per_token()),
        kv_cache_bytes_per_token_bf16=int(spec.kv_cache_bytes_per_token(2)),
        weights_bytes_bf16=2 * total,
    )
    if entry is not None:
        out.update(
            display_name=entry.display_name,
            family=entry.family,
            aliases=list(entry.aliases),
            source=entry.source,
            published_params=entry.published_params,
            published_params_source=entry.published_params_source,
            params_delta_pct=(
                100.0 * (total - entry.published_params) / entry.published_params
                if entry.published_params
                else None
            ),
            nominal_params=entry.nominal_params,
            published_active_params=entry.published_active_params,
            published_active_params_source=entry.published_active_params_source,
            active_params_delta_pct=(
                100.0 * (active - entry.published_active_params) / entry.published_active_params
                if entry.published_active_params
                else None
            ),
            notes=entry.notes,
            count_notes=entry.count_notes,
        )
    return out
