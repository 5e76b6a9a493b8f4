"""Input schemas of the ``simlab`` command line, stated once, checked before any work starts.

Every command-line option that takes a number has one entry in :data:`OPTIONS`: its unit, whether
it is an integer, and a finite, physically generous range. Every option that names one of a fixed
set of values has one entry in :data:`ENUMS`. Every path option has a mode in :data:`PATH_MODES`
(``read``: an existing file; ``write``: a file that can be created; ``dir-write``: a folder that
exists or can be created and written; ``dir-read``: an existing folder). Commands call
:func:`check_options` with their option values first, so that bad input fails in milliseconds
with one line naming the option and what is allowed, not after half a minute of work.

The ranges are deliberately wide: they exclude only values that are not physical or that would
overflow the simulator's float32 / int32 arithmetic (e.g. 2**40 devices, 10**12 layers), never a
configuration somebody could plausibly run. Values inside the range that are legal but doubtful
(a context beyond the model's maximum, tensor parallelism across nodes, a scaling law used far from
the runs it was fitted on) are *warnings*, printed on stderr as ``warning: ...`` and listed in JSON
output under ``warnings`` (see :func:`emit_warnings`). The same table is rendered in
``docs/input_validation.md``.

Files given to the command line have their own schemas where they are read:
``hardware_db.parse`` (device / system TOML, :data:`hardware_db.schema.VALUE_RANGES`),
``simulator.models.catalog`` / ``simulator.models.hf_config`` (model TOML, HF ``config.json``),
``simulator.design_space.spec`` (sweep spec, grid size cap) and the fitters' CSV readers.
"""

from __future__ import annotations

import math
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hardware_db.errors import SimlabError


class InputError(SimlabError):
    """A command-line value outside its schema (one line naming the option and what is allowed)."""


@dataclass(frozen=True)
class Num:
    """A numeric option: ``lo <= value <= hi`` (``lo`` excluded when ``lo_open``), finite, in ``unit``."""

    lo: float
    hi: float
    unit: str
    integer: bool = False
    lo_open: bool = False

    def allowed(self) -> str:
        kind = "an integer" if self.integer else "a number"
        left = "(" if self.lo_open else "["
        return f"{kind} in {left}{_g(self.lo)}, {_g(self.hi)}]" + (f" ({self.unit})" if self.unit else "")


def _g(x: float) -> str:
    if isinstance(x, int) or (isinstance(x, float) and x.is_integer() and abs(x) < 1e7):
        return str(int(x))
    return f"{x:g}"


_MAX_DEVICES = 1 << 20  # a million accelerators: beyond any machine built or planned
_MAX_DEGREE = 1 << 16
_MAX_TOKENS = 1 << 24  # 16.8M-token contexts / lengths: beyond every published context window
_MAX_SEQS = 1 << 20

#: Option name (as typed, with dashes) -> numeric schema. One entry per option name; commands share.
OPTIONS: dict[str, Num] = {
    # serving
    "--batch": Num(1, _MAX_SEQS, "sequences per replica", integer=True),
    "--input": Num(1, _MAX_TOKENS, "input length, prompt tokens", integer=True),
    "--output": Num(1, _MAX_TOKENS, "output length, generated tokens", integer=True),
    "--tp": Num(1, _MAX_DEGREE, "devices", integer=True),
    "--pp": Num(1, _MAX_DEGREE, "stages", integer=True),
    "--ep": Num(1, _MAX_DEGREE, "devices", integer=True),
    "--dp": Num(1, _MAX_DEVICES, "replicas", integer=True),
    "--cp": Num(1, _MAX_DEGREE, "devices", integer=True),
    "--chunk": Num(0, _MAX_TOKENS, "tokens per iteration, 0 = off", integer=True),
    "--block-size": Num(1, 1 << 16, "tokens", integer=True),
    "--tp-overlap": Num(0.0, 1.0, "fraction"),
    "--gamma": Num(0, 64, "tokens proposed per step", integer=True),
    "--acceptance": Num(0.0, 1.0, "probability"),
    "--prefill-tp": Num(0, _MAX_DEGREE, "devices, 0 = off", integer=True),
    "--prefill-dp": Num(1, _MAX_DEVICES, "replicas", integer=True),
    # training
    "--gpus": Num(1, _MAX_DEVICES, "devices", integer=True),
    "--global-batch": Num(1, 1 << 24, "sequences per step", integer=True),
    "--seq": Num(1, _MAX_TOKENS, "tokens", integer=True),
    "--seq-len": Num(1, _MAX_TOKENS, "tokens", integer=True),
    "--micro-batch": Num(1, _MAX_SEQS, "sequences", integer=True),
    "--virtual-stages": Num(1, 1024, "chunks per device", integer=True),
    "--zero": Num(0, 3, "ZeRO stage", integer=True),
    "--tokens": Num(1.0, 1e17, "tokens"),
    "--top": Num(1, 1_000_000, "rows", integer=True),
    # planning
    "--compute": Num(1.0, 1e35, "compute budget, FLOP"),
    "--days": Num(0.0, 36525.0, "days", lo_open=True),
    "--usd": Num(0.0, 1e15, "USD", lo_open=True),
    "--price": Num(0.0, 1e6, "USD per device-hour", lo_open=True),
    "--nominal-mfu": Num(0.0, 1.0, "fraction of peak", lo_open=True),
    "--budget-s": Num(0.0, 1e7, "seconds per query", lo_open=True),
    "--budget-usd": Num(0.0, 1e6, "USD per query", lo_open=True),
    "--budget-eflops": Num(0.0, 1e30, "eFLOP per query", lo_open=True),
    "--prompt-len": Num(1, _MAX_TOKENS, "tokens", integer=True),
    # scaling laws
    "--params": Num(1.0, 1e16, "parameters"),
    "--streams": Num(1.0, 1024.0, "parallel streams"),
    # fitting
    "--bootstrap": Num(0, 100_000, "resamples", integer=True),
    "--seed": Num(0, 2**32 - 1, "", integer=True),
    "--tolerance": Num(0.0, 1.0, "relative loss", lo_open=True),
    # calibration / sweeps
    "--repeats": Num(3, 1000, "timed rounds", integer=True),
    "--steps": Num(50, 1_000_000, "Adam steps", integer=True),
    "--chunk-size": Num(1, 1 << 24, "configurations per chunk", integer=True),
    "--max-chunks": Num(0, 1 << 40, "chunks", integer=True),
    # request-level simulation / capacity (cli/simulate.py, cli/capacity.py)
    "--requests": Num(1, 10_000_000, "requests per simulated rate", integer=True),
    "--slo-ttft": Num(0.0, 3600.0, "seconds", lo_open=True),
    "--slo-tpot": Num(0.0, 3600.0, "seconds", lo_open=True),
    "--attainment": Num(0.0, 1.0, "share of requests", lo_open=True),
    "--demand": Num(0.0, 1e9, "queries per second", lo_open=True),
    "--qps": Num(0.0, 1e9, "queries per second", lo_open=True),
    "--cv": Num(0.0, 100.0, "coefficient of variation", lo_open=True),
    "--max-batch": Num(1, _MAX_SEQS, "running sequences per replica", integer=True),
}

#: Option name -> allowed values (case-sensitive, as the library expects them).
ENUMS: dict[str, tuple[str, ...]] = {
    "--recompute": ("none", "selective", "full"),
    "--offload": ("none", "cpu", "nvme"),
    "--weights-in": ("main", "hbm", "ddr", "slow"),
    "--family": ("llama", "gpt3"),
    "--compression": ("zstd", "snappy", "lz4", "gzip", "none"),
    "--scheduler-policy": ("vllm", "sarathi", "static", "distserve"),  # simulate/capacity --scheduler
    "--arrival": ("poisson", "gamma", "uniform"),
    # training runs in floating point only: an integer or 4-bit format is an inference format
    "--train-dtype": ("fp32", "tf32", "bf16", "fp16", "fp8"),
}

#: Path option -> mode (see the module doc).
PATH_MODES: dict[str, str] = {
    "--csv": "read",
    "--accuracy-table": "read",
    "--measurements": "read",
    "--plot": "write",
    "--profile": "write",
    "--out": "dir-write",
    "sweep results": "dir-write",  # `sweep summarize DIR` writes DIR/_summary/
    "SPEC": "read",
}

#: Path option -> (shipped data folder, suffix): a shipped name (``example_accuracy``) or its checkout
#: path (``data/kinetics/example_accuracy.csv``, as in the README) names the installed file, so the
#: README command works from a wheel; :func:`readable_file` resolves it before checking it exists.
SHIPPED_PATHS: dict[str, tuple[str, str]] = {
    "--accuracy-table": ("kinetics", ".csv"),
}

#: Approximate range of the runs each law family was fitted on: input -> (low, high). A prediction
#: more than LAW_MARGIN x outside it is a far extrapolation and gets a warning (the answer is still
#: given); outside OPTIONS["--params"] etc. it is refused.
LAW_FIT_RANGES: dict[str, dict[str, tuple[float, float]]] = {
    # Hoffmann et al. 2022: 44M..16B parameters, 5e9..5e11 tokens (Fig. 2/4)
    "chinchilla": {"params": (4e7, 1.6e10), "tokens": (5e9, 5e11), "compute": (6e18, 3e22)},
    # Kaplan et al. 2020: 768..1.5e9 non-embedding parameters, 2.2e7..2.3e10 tokens
    "kaplan": {"params": (7.68e2, 1.5e9), "tokens": (2.2e7, 2.3e10), "compute": (1e13, 1e21)},
    # Farseer (Li et al. 2025): ~20M..~3B non-embedding parameters, up to ~1e11 tokens
    "farseer": {"params": (2e7, 3e9), "tokens": (1e9, 2e11), "compute": (1e17, 2e21)},
    # ParScale (Chen et al. 2025): 0.5B..4.4B non-embedding parameters, P = 1..8
    "parscale": {"params": (5e8, 4.4e9), "streams": (1, 8)},
    # Step Law (Li et al. 2025): ~6e7..1e9 non-embedding parameters, 2e9..1e11 tokens
    "steplaw": {"params": (6e7, 1.1e9), "tokens": (2e9, 1e11)},
}


def _number(value: Any) -> float | None:
    try:
        if isinstance(value, bool):
            return None
        return float(value)
    except (TypeError, ValueError, OverflowError):
        return None


def check_number(option: str, value: Any, rule: Num | None = None) -> Any:
    """``value`` unchanged if it satisfies ``rule`` (default: :data:`OPTIONS` ``[option]``), else InputError."""
    if value is None:
        return value
    rule = rule or OPTIONS[option]
    x = _number(value)
    ok = x is not None and math.isfinite(x)
    if ok:
        ok = (x > rule.lo if rule.lo_open else x >= rule.lo) and x <= rule.hi
    if ok and rule.integer:
        ok = float(x).is_integer()
    if not ok:
        shown = value if not isinstance(value, float) else f"{value:g}"
        raise InputError(f"{option} {shown}: out of range; allowed: {rule.allowed()}")
    return value


def check_enum(option: str, value: Any, allowed: tuple[str, ...] | None = None) -> Any:
    """``value`` if it is one of the allowed names (default: :data:`ENUMS` ``[option]``), else InputError."""
    if value is None:
        return value
    allowed = allowed or ENUMS[option]
    if str(value) not in allowed:
        raise InputError(f"{option} {value!r}; allowed: {', '.join(allowed)}")
    return value


def check_options(**values: Any) -> None:
    """Check every given option against :data:`OPTIONS` / :data:`ENUMS`.

    Keyword names are option names without the leading dashes and with ``_`` for ``-``
    (``global_batch=8`` checks ``--global-batch``); ``None`` means "not given" and is skipped.
    """
    for key, value in values.items():
        option = "--" + key.replace("_", "-")
        if option in OPTIONS:
            check_number(option, value)
        elif option in ENUMS:
            check_enum(option, value)
        else:  # a programming error in the CLI, not bad input
            raise KeyError(f"no schema for option {option}")


def exclusive(**given: Any) -> None:
    """Refuse two or more of mutually exclusive options (``hardware=..., system=...``)."""
    present = [f"--{k.replace('_', '-')}" for k, v in given.items() if v is not None]
    if len(present) > 1:
        raise InputError(f"{' and '.join(present)} were both given; allowed: one of {', '.join(present)}")


# ------------------------------------------------------------------------------------------ paths
def _path_text(option: str, path: str | Path, allowed: str) -> str:
    text = str(path)
    if not text.strip():
        raise InputError(f"{option} is empty; allowed: {allowed}")
    if "\0" in text:
        raise InputError(f"{option} contains a NUL character; allowed: {allowed}")
    return text


def _describe(p: Path) -> str:
    if p.is_dir():
        return "is a folder"
    if p.exists():
        return "is not a regular file (a device or pipe)"
    return "does not exist"


def readable_file(option: str, path: str | Path | None) -> Path | None:
    """An existing, readable regular file; InputError naming ``option`` otherwise."""
    if path is None:
        return None
    p = Path(_path_text(option, path, "a path to an existing file")).expanduser()
    if option in SHIPPED_PATHS and not p.is_file():
        from simulator.resources import shipped_or_path

        folder, suffix = SHIPPED_PATHS[option]
        p = shipped_or_path(folder, p, suffix)
    if not p.is_file():
        raise InputError(f"{option} '{p}' {_describe(p)}; allowed: an existing file")
    if not os.access(p, os.R_OK):
        raise InputError(f"{option} '{p}' is not readable; allowed: a file you can read")
    return p


def _probe_dir(option: str, shown: Path, folder: Path) -> None:
    """Create and delete a temporary file in ``folder`` (the only check that also holds for root)."""
    try:
        fd, name = tempfile.mkstemp(prefix=".simlab-probe-", dir=folder)
    except OSError as err:
        raise InputError(f"{option} '{shown}': folder '{folder}' is not writable ({err.strerror}); "
                         "allowed: a path in a folder you can write") from None
    os.close(fd)
    os.unlink(name)


def _existing_ancestor(option: str, p: Path) -> Path:
    for q in (p, *p.parents):
        if q.exists():
            if not q.is_dir():
                raise InputError(f"{option} '{p}': '{q}' is a file, not a folder; allowed: a path in a folder")
            return q
    return Path(".")


def writable_file(option: str, path: str | Path | None, suffixes: tuple[str, ...] = ()) -> Path | None:
    """A file path that can be (re)written: not a folder, parent creatable and writable."""
    if path is None:
        return None
    p = Path(_path_text(option, path, f"a file path such as out{suffixes[0] if suffixes else '.json'}")).expanduser()
    if p.is_dir():
        raise InputError(f"{option} '{p}' is a folder; allowed: a file path")
    if p.exists() and not p.is_file():
        raise InputError(f"{option} '{p}' is not a regular file (a device or pipe); allowed: a file path")
    if suffixes and p.suffix.lower() not in suffixes:
        raise InputError(f"{option} '{p}' has suffix {p.suffix or '(none)'!r}; allowed: {', '.join(suffixes)}")
    parent = p.parent if str(p.parent) else Path(".")
    _probe_dir(option, p, _existing_ancestor(option, parent))
    return p


def writable_dir(option: str, path: str | Path | None) -> Path | None:
    """A folder that exists (or can be created) and can be written."""
    if path is None:
        return None
    p = Path(_path_text(option, path, "a folder path")).expanduser()
    if p.exists() and not p.is_dir():
        raise InputError(f"{option} '{p}' is a file; allowed: a folder (new, or one this command wrote)")
    _probe_dir(option, p, _existing_ancestor(option, p))
    return p


def readable_dir(option: str, path: str | Path | None) -> Path | None:
    """An existing folder."""
    if path is None:
        return None
    p = Path(_path_text(option, path, "an existing folder")).expanduser()
    if not p.is_dir():
        raise InputError(f"{option} '{p}' {_describe(p)}; allowed: an existing folder")
    return p


# -------------------------------------------------------------------------------------- warnings
def emit_warnings(warnings: list[str], result: dict | None = None) -> None:
    """Print each warning as one ``warning: ...`` line on stderr and add them to ``result['warnings']``."""
    for w in warnings:
        print(f"warning: {w}", file=sys.stderr)
    if result is not None and warnings:
        result["warnings"] = list(result.get("warnings", [])) + list(warnings)


#: A law input more than this factor outside its fitted range gets a warning.
LAW_MARGIN = 10.0


def law_range_warnings(law_name: str, **inputs: float | None) -> list[str]:
    """Warnings for inputs more than :data:`LAW_MARGIN` x outside the range law ``law_name``'s family was
    fitted on (:data:`LAW_FIT_RANGES`)."""
    family = law_name.split("-", 1)[0]
    ranges = LAW_FIT_RANGES.get(family, {})
    out = []
    for key, value in inputs.items():
        if value is None or key not in ranges:
            continue
        lo, hi = ranges[key]
        if not lo / LAW_MARGIN <= float(value) <= hi * LAW_MARGIN:
            out.append(f"--{key} {float(value):.3g} is far outside the range law '{law_name}' was fitted on "
                       f"(about {lo:.3g} to {hi:.3g}); the prediction is an extrapolation")
    return out


# ------------------------------------------------------------------------------- command checks
def check_train_inputs(*, model=None, system, gpus, global_batch, seq, tp, pp, dp, cp, ep, micro_batch, virtual_stages, zero,
                       recompute, offload, tokens, dtype, top, calibration, lowp_scaling="delayed") -> list[str]:
    """``simlab predict train``: option ranges, the training dtype; warnings for a sequence beyond the
    model's maximum context and for TP across nodes."""
    check_options(gpus=gpus, global_batch=global_batch, seq=seq, tp=tp, pp=pp, dp=dp, cp=cp, ep=ep,
                  micro_batch=micro_batch, virtual_stages=virtual_stages, zero=zero, recompute=recompute,
                  offload=offload, tokens=tokens, top=top)
    if dtype not in ENUMS["--train-dtype"]:
        raise InputError(f"--dtype {dtype!r} is not a training format; allowed: {', '.join(ENUMS['--train-dtype'])} "
                         "(integer and 4-bit formats are for inference: simlab predict serve --weight-dtype)")
    from simulator.formats import CAST_READS

    check_enum("--lowp-scaling", lowp_scaling, tuple(CAST_READS))
    if calibration is not None and not str(calibration).strip():
        raise InputError("--calibration is empty; allowed: a profile path or 'default'")
    from hardware_db import load_system

    node = load_system(system).devices_per_node
    warnings = []
    if model is not None:
        from simulator.models import load_model

        spec = load_model(model)
        if spec.max_context and seq > spec.max_context:
            warnings.append(f"--seq {seq} exceeds model '{spec.name}' maximum context of {spec.max_context} "
                            "tokens; the prediction assumes the model could be trained at that length")
    if tp > node:
        warnings.append(f"--tp {tp} is larger than a node of system '{system}' ({node} devices); tensor "
                        "parallelism is meant to stay inside a node, its collectives now cross the inter-node network")
    return warnings


def guard_train(result: dict, system, calibration, **inputs) -> None:
    """Refuse a training result that is not physical (:func:`simulator.guards.check_train`)."""
    from hardware_db import load_system
    from simulator.guards import check_train, compute_ceiling, lowp_ceiling_factor

    device = load_system(system).device
    ceiling = 1.0 if calibration is not None else compute_ceiling(device)
    ceiling *= lowp_ceiling_factor(device, inputs.get("dtype"))  # HFU is counted against the bf16 peak
    check_train(result, {"system": system, **inputs}, compute_efficiency=ceiling)


#: ``--allow-no-fit``: report a configuration that does not fit instead of failing (what-if studies).
ALLOW_NO_FIT_HELP = ("Report a configuration that does not fit in memory (fits = false, shortfall) instead of "
                     "failing with exit 2.")


def require_serve_fits(r: dict, *, model, batch) -> None:
    """``simlab predict serve``: a deployment whose memory exceeds the device is an error (one line:
    what is short and what would fit), unless ``--allow-no-fit``."""
    if r.get("fits", True):
        return
    from cli.render import format_si

    need = (f"{format_si(r['memory_bytes'], 'B')} per device of {format_si(r['capacity_bytes'], 'B')}, "
            f"short by {format_si(r['shortfall_bytes'], 'B')}")
    fixes = "more devices (--tp / --pp), narrower --weight-dtype / --kv-dtype, or --allow-no-fit to report it"
    if int(r.get("max_batch", 0)) >= 1:
        raise InputError(f"--batch {batch}: {model} does not fit on {int(r['devices'])} x {r['hardware']} ({need}); "
                         f"allowed: --batch <= {int(r['max_batch'])} (the largest that fits), {fixes}")
    raise InputError(f"--model {model} does not fit on {int(r['devices'])} x {r['hardware']} even at batch 1 "
                     f"({need}); allowed: {fixes}")


def require_train_fits(r: dict, *, model, gpus) -> None:
    """``simlab predict train``: a layout whose memory per device exceeds the device is an error,
    unless ``--allow-no-fit``."""
    if r.get("fits", True):
        return
    from cli.render import format_si

    mem = r.get("memory", r)
    raise InputError(f"--model {model} on {gpus} x {r['system']} with this layout does not fit "
                     f"({format_si(mem['total_bytes'], 'B')} per device, short by {format_si(mem['shortfall_bytes'], 'B')}); "
                     "allowed: more recompute (--recompute selective|full), --zero 1|2|3, more --tp / --pp / --gpus, "
                     "a smaller --micro-batch, --search for a layout that fits, or --allow-no-fit to report it")


def check_optimal_inputs(*, compute, system, gpus, days, usd, price, family, seq_len, nominal_mfu, dtype) -> None:
    """``simlab predict optimal``: option ranges and the training dtype (before any planning)."""
    check_options(compute=compute, gpus=gpus, days=days, usd=usd, price=price, family=family, seq_len=seq_len,
                  nominal_mfu=nominal_mfu)
    if dtype not in ENUMS["--train-dtype"]:
        raise InputError(f"--dtype {dtype!r} is not a training format; allowed: {', '.join(ENUMS['--train-dtype'])}")
    if system is not None and not str(system).strip():
        raise InputError("--system is empty; allowed: a system name such as dgx-h100 (simlab hardware list)")
