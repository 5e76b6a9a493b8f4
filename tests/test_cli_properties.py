"""Property-based input testing of the ``simlab`` command line (hypothesis).

Invocations and input files are generated from the input schemas (``cli.validation.OPTIONS`` /
``ENUMS``, ``hardware_db.schema.VALUE_RANGES``, ``simulator.models.catalog.FIELD_RANGES``,
``simulator.design_space.spec.MAX_GRID_SIZE``): values inside the ranges, on their edges and
outside them, wrong types, broken encodings. Every run must end in one of two ways:

- exit 0 with physical results (JSON parsed; serving / training results pass
  ``simulator.guards``; anything on stderr is a ``warning:`` line), or
- exit 2 with exactly one line ``error: ...`` on stderr;

never a traceback, never another exit status, never longer than :data:`BOUND_S` seconds.

CI runs a fixed, derandomised example budget (profile ``ci``); ``SIMLAB_HYPOTHESIS_PROFILE=long``
runs many more examples locally. Commands run in-process (``cli.main.main``) for speed.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import re
import time
from pathlib import Path

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from cli.main import main  # noqa: E402
from cli.validation import OPTIONS  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
BOUND_S = 120.0  # one invocation, including a first JIT compilation on a loaded 2-core machine

_SLOW = [HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
settings.register_profile("ci", max_examples=20, deadline=None, derandomize=True, database=None,
                          suppress_health_check=_SLOW)
settings.register_profile("long", max_examples=400, deadline=None, suppress_health_check=_SLOW)
PROFILE = os.environ.get("SIMLAB_HYPOTHESIS_PROFILE", "ci")
settings.load_profile(PROFILE)


def budget(ci: int):
    """Example budget of a test whose examples are slow (simulations): ``ci`` in CI, 20x that when long."""
    return settings(max_examples=ci if PROFILE == "ci" else 20 * ci)

H100_TOML = (REPO / "hardware_db/devices/h100-sxm5-80gb.toml").read_text()


# ----------------------------------------------------------------------------------- the oracle
def run(argv: list[str]) -> tuple[int, str, str, float]:
    out, err = io.StringIO(), io.StringIO()
    t0 = time.perf_counter()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main([str(a) for a in argv])
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
    return code, out.getvalue(), err.getvalue(), time.perf_counter() - t0


def check_outcome(argv: list[str], kind: str | None = None) -> tuple[int, str]:
    """Assert the contract for one invocation; returns (exit code, stdout)."""
    code, out, err, seconds = run(argv)
    shown = " ".join(map(str, argv))
    assert "Traceback" not in out + err, f"traceback for: simlab {shown}\n{err[-2000:]}"
    assert seconds < BOUND_S, f"simlab {shown} took {seconds:.0f} s"
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    if code == 2:
        assert len(lines) == 1 and lines[0].startswith("error: "), f"simlab {shown}: stderr {err!r}"
        assert "np.float" not in lines[0], lines[0]
        return code, out
    assert code == 0, f"simlab {shown}: exit {code}, stderr {err[-1000:]!r}"
    assert all(ln.startswith("warning: ") for ln in lines), f"simlab {shown}: stderr {err!r}"
    if "--json" in argv:
        data = json.loads(out)
        if kind == "serve":
            from simulator.guards import check_serve

            check_serve(data)
        elif kind == "train":
            from simulator.guards import check_train

            check_train(data)
            assert 0 <= data["mfu"] <= data["hfu"] * (1 + 1e-4) <= 1.0001, data
        elif kind == "loss":
            assert math.isfinite(data["loss"]) and data["loss"] > 0, data
    return code, out


# --------------------------------------------------------------------------------- value strategies
BAD_TEXT = st.sampled_from(["", "abc", "1e", "--", "1,5", "0x10", "١٢", "1_000_000_000_000_000_000_000", "None"])


def _edge_values(opt: str) -> list:
    r = OPTIONS[opt]
    vals = [r.lo, r.hi]
    if r.integer:
        vals += [int(r.lo) - 1, int(r.hi) + 1, int(r.hi) * 1024, -(2**63), 2**64]
    else:
        vals += [r.lo * 0.999 if r.lo > 0 else -1e-9, r.hi * 1.001, float("nan"), float("inf"), -float("inf"),
                 1e308, -1.0]
    return vals


def option_value(opt: str, typical: list | None = None):
    """Values of ``opt``: mostly typical (cheap to simulate), else range edges, outside values, junk."""
    r = OPTIONS[opt]
    if r.integer:
        inside = st.integers(int(r.lo), int(min(r.hi, max(int(r.lo) + 64, 64))))
    else:
        inside = st.floats(r.lo, r.hi, allow_nan=False, allow_infinity=False)
    choices = [st.sampled_from(_edge_values(opt)), inside, BAD_TEXT]
    if typical:
        choices = [st.sampled_from(typical)] * 3 + choices
    return st.one_of(*choices)


def maybe(opt: str, typical: list | None = None):
    return st.one_of(st.just(None), option_value(opt, typical))


def argv_of(base: list[str], options: dict) -> list[str]:
    argv = list(base)
    for opt, value in options.items():
        if value is None:
            continue
        argv += [opt, value if isinstance(value, str) else (repr(value) if isinstance(value, float) else str(value))]
    return argv


# ----------------------------------------------------------------------------------- the properties
@budget(5)
@given(
    model=st.sampled_from(["llama-3-8b", "qwen3-0.6b", "mixtral-8x7b", "llama-99", ""]),
    hw=st.sampled_from([("--hardware", "h100"), ("--hardware", "mi300x"), ("--system", "dgx-h100"),
                        ("--hardware", "h1000"), ("--hardware", "")]),
    batch=maybe("--batch", [1, 4, 16]),
    inp=maybe("--input", [128, 1024]),
    outp=maybe("--output", [16, 128]),
    tp=maybe("--tp", [1, 2, 8]),
    chunk=maybe("--chunk", [0, 512]),
    overlap=maybe("--tp-overlap", [0.0, 0.5]),
)
def test_predict_serve(model, hw, batch, inp, outp, tp, chunk, overlap):
    argv = argv_of(["predict", "serve", "--model", model, hw[0], hw[1], "--json"],
                   {"--batch": batch, "--input": inp, "--output": outp, "--tp": tp, "--chunk": chunk,
                    "--tp-overlap": overlap})
    check_outcome(argv, "serve")


@budget(4)
@given(
    gpus=maybe("--gpus", [8, 16]),
    global_batch=maybe("--global-batch", [8, 16, 64]),
    seq=maybe("--seq", [1024, 2048]),
    tp=maybe("--tp", [1, 2, 8]),
    pp=maybe("--pp", [1, 2]),
    dtype=st.sampled_from(["bf16", "fp8", "int4", "fp4", "int8", "bf17", ""]),
    tokens=maybe("--tokens", [1e12]),
)
def test_predict_train(gpus, global_batch, seq, tp, pp, dtype, tokens):
    argv = argv_of(["predict", "train", "--model", "llama-3-8b", "--system", "dgx-h100", "--json", "--dtype", dtype],
                   {"--gpus": gpus if gpus is not None else 8,
                    "--global-batch": global_batch if global_batch is not None else 8,
                    "--seq": seq, "--tp": tp, "--pp": pp, "--tokens": tokens})
    check_outcome(argv, "train")


def inside(opt: str):
    """Any value the schema allows (edges included), log-uniform over the range for integers."""
    r = OPTIONS[opt]
    lo = int(r.lo) if r.integer else r.lo
    if r.integer:
        return st.one_of(st.sampled_from([lo, int(r.hi)]), st.integers(0, max(int(r.hi).bit_length() - 1, 0)).flatmap(
            lambda e: st.integers(max(lo, 2**e), min(int(r.hi), 2 ** (e + 1)))))
    return st.floats(r.lo, r.hi, allow_nan=False, allow_infinity=False, exclude_min=r.lo_open)


@budget(8)
@given(
    model=st.sampled_from(["llama-3-8b", "qwen3-0.6b", "mixtral-8x7b", "deepseek-v3"]),
    hw=st.sampled_from([("--hardware", "h100"), ("--hardware", "rtx-4090"), ("--system", "dgx-h100"),
                        ("--hardware", "mi300x")]),
    batch=inside("--batch"), inp=inside("--input"), outp=inside("--output"),
    tp=st.sampled_from([1, 2, 4, 8]), chunk=st.one_of(st.just(0), inside("--chunk")),
    overlap=inside("--tp-overlap"), block=inside("--block-size"),
)
def test_predict_serve_inside_ranges(model, hw, batch, inp, outp, tp, chunk, overlap, block):
    """Only values the schema allows: the simulator must answer physically or refuse in one line."""
    argv = argv_of(["predict", "serve", "--model", model, hw[0], hw[1], "--json"],
                   {"--batch": batch, "--input": inp, "--output": outp, "--tp": tp, "--chunk": chunk,
                    "--tp-overlap": overlap, "--block-size": block})
    check_outcome(argv, "serve")


@budget(5)
@given(gpus=st.sampled_from([8, 16, 64, 1024]), steps=st.integers(1, 64), seq=inside("--seq"),
       tp=st.sampled_from([1, 2, 4, 8]), pp=st.sampled_from([1, 2, 4]), micro=st.sampled_from([1, 2, 4]),
       tokens=inside("--tokens"))
def test_predict_train_inside_ranges(gpus, steps, seq, tp, pp, micro, tokens):
    """Layouts that divide (global batch = steps x micro-batch x dp), any allowed length and budget."""
    dp = gpus // (tp * pp)
    argv = argv_of(["predict", "train", "--model", "llama-3-8b", "--system", "dgx-h100", "--json"],
                   {"--gpus": gpus, "--global-batch": steps * micro * dp, "--seq": seq, "--tp": tp, "--pp": pp,
                    "--micro-batch": micro, "--tokens": tokens})
    check_outcome(argv, "train")


LAWS = ["chinchilla-epoch", "chinchilla-hoffmann", "kaplan", "farseer", "steplaw", "nolaw", ""]


@given(law=st.sampled_from(LAWS), params=maybe("--params", [1e9, 7e10]), tokens=maybe("--tokens", [2e10, 1.4e12]),
       compute=st.one_of(st.just(None), option_value("--compute", [1e21, 1e24])))
def test_predict_loss(law, params, tokens, compute):
    argv = argv_of(["predict", "loss", "--law", law, "--json"],
                   {"--params": params, "--tokens": tokens, "--compute": compute})
    code, out = check_outcome(argv, None)
    if code == 0:
        data = json.loads(out)
        for key in ("loss", "lr", "batch_tokens", "params", "tokens"):
            if key in data:
                assert math.isfinite(data[key]) and data[key] > 0, data


@budget(5)
@given(compute=option_value("--compute", [1e20, 1e22]), mfu=maybe("--nominal-mfu", [0.4]),
       seq=maybe("--seq-len", [2048]), family=st.sampled_from(["llama", "gpt3", "bert", ""]))
def test_predict_optimal_flops(compute, mfu, seq, family):
    argv = argv_of(["predict", "optimal", "--json", "--family", family],
                   {"--compute": compute, "--nominal-mfu": mfu, "--seq-len": seq})
    code, out = check_outcome(argv, None)
    if code == 0:
        plan = json.loads(out)["plan"]
        assert plan["n_params"] > 0 and plan["tokens"] > 0 and math.isfinite(plan["predicted_loss"])


# ---------------------------------------------------------------------------------- generated files
NUMBER_FIELDS = ["capacity_bytes = 80e9", "bandwidth_bytes_per_s = 3.35e12", "tdp_w = { value = 700",
                 "compute = 0.688", "kernel_overhead_s = 4e-6", "latency_s = 1e-6"]
BAD_NUMBERS = ["0", "-1", "1e300", "1e-300", "nan", "inf", '"80e9"', "true", "[1, 2]", "{}", "1e15", "2.5"]


@st.composite
def device_files(draw):
    text = H100_TOML
    for field in draw(st.lists(st.sampled_from(NUMBER_FIELDS), max_size=2, unique=True)):
        key, _, old = field.partition(" = ")
        new = draw(st.one_of(st.sampled_from(BAD_NUMBERS), st.floats(allow_nan=True, allow_infinity=True).map(
            lambda x: repr(x) if math.isfinite(x) else ("nan" if x != x else ("inf" if x > 0 else "-inf")))))
        text = text.replace(field, f"{key} = {old.replace(old.split()[-1], new) if '{' in old else new}", 1)
    enc = draw(st.sampled_from(["utf-8", "utf-8-sig", "latin-1-accent", "utf-16", "truncated"]))
    if enc == "utf-8-sig":
        return text.encode("utf-8-sig")
    if enc == "latin-1-accent":
        return (text + "\n# café\n").encode("latin-1")
    if enc == "utf-16":
        return text.encode("utf-16")
    if enc == "truncated":
        return text.encode()[: draw(st.integers(0, len(text)))]
    return text.encode()


@given(data=device_files())
def test_hardware_show_generated_device(data, tmp_path_factory):
    path = tmp_path_factory.mktemp("dev") / "dev.toml"
    path.write_bytes(data)
    code, out = check_outcome(["hardware", "show", str(path), "--json"])
    if code == 0:
        d = json.loads(out)
        for tier in d.get("memory_tiers", []):
            assert 0 < tier["capacity_bytes"] < 1e17 and 0 < tier["bandwidth_bytes_per_s"] < 1e18


MODEL_FIELDS = {"num_layers": 32, "hidden_size": 4096, "num_heads": 32, "num_kv_heads": 8, "head_dim": 128,
                "ffn_size": 14336, "gated_mlp": 1, "vocab_size": 128256, "tied_embeddings": 0, "layernorm": 0,
                "max_context": 8192}
FIELD_VALUES = st.one_of(st.integers(-2, 2**40), st.sampled_from([0, 1, 10**12, 2**31, -1, 1.5, "4096", "abc", True,
                                                                    float("nan"), float("inf"), 1e300]))


def _toml_value(v) -> str:
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and not math.isfinite(v):
        return "nan" if v != v else "inf"
    return repr(v)


@given(changes=st.dictionaries(st.sampled_from(sorted(MODEL_FIELDS)), FIELD_VALUES, max_size=3),
       drop=st.one_of(st.just(None), st.sampled_from(sorted(MODEL_FIELDS))))
def test_models_show_generated_toml(changes, drop, tmp_path_factory):
    fields = {**MODEL_FIELDS, **changes}
    if drop:
        fields.pop(drop, None)
    path = tmp_path_factory.mktemp("model") / "m.toml"
    path.write_text("".join(f"{k} = {_toml_value(v)}\n" for k, v in fields.items()))
    code, out = check_outcome(["models", "show", str(path), "--json"])
    if code == 0:
        info = json.loads(out)
        assert 0 < info["total_params"] <= 1e15, info["total_params"]


HF_KEYS = {"model_type": "llama", "hidden_size": 4096, "num_attention_heads": 32, "num_key_value_heads": 8,
           "num_hidden_layers": 32, "intermediate_size": 14336, "vocab_size": 128256, "max_position_embeddings": 8192}


@given(changes=st.dictionaries(st.sampled_from(sorted(HF_KEYS)),
                               st.one_of(FIELD_VALUES, st.sampled_from(["gpt2", "bert", None, [], {}])), max_size=3),
       raw=st.sampled_from(["json", "nan-literal", "not-json", "list"]))
def test_models_show_generated_hf_config(changes, raw, tmp_path_factory):
    folder = tmp_path_factory.mktemp("hf")
    cfg = {**HF_KEYS, **changes}
    if raw == "json":
        text = json.dumps(cfg)
    elif raw == "nan-literal":
        text = json.dumps(cfg).replace('"vocab_size": ', '"vocab_size": NaN, "x": ')
    elif raw == "list":
        text = json.dumps([cfg])
    else:
        text = json.dumps(cfg)[:-5]
    (folder / "config.json").write_text(text)
    check_outcome(["models", "show", str(folder), "--json"])


SPEC_AXES = {"batch": "int", "input_len": "int", "output_len": "int", "tp": "int", "chunk": "int",
             "tp_overlap": "float"}


@budget(4)
@given(axes=st.dictionaries(
    st.sampled_from(sorted(SPEC_AXES)),
    st.one_of(st.lists(st.integers(-2, 4096), min_size=0, max_size=3, unique=True),
              st.fixed_dictionaries({"start": st.integers(-1, 4), "stop": st.sampled_from([4, 10**6, 10**9]),
                                     "step": st.sampled_from([1, 0, -1])}),
              st.sampled_from(['"x"', "nan", "[1.5]"])),
    max_size=4),
    max_chunks=st.sampled_from([0, 0, 1]))
def test_sweep_generated_spec(axes, max_chunks, tmp_path_factory):
    folder = tmp_path_factory.mktemp("sweep")
    lines = ['kind = "serve"', "[axes]", 'model = ["llama-3-8b"]', 'hardware = ["h100"]']
    for k, v in axes.items():
        if isinstance(v, dict):
            v = "{ " + ", ".join(f"{a} = {b}" for a, b in v.items()) + " }"
        lines.append(f"{k} = {v}")
    spec = folder / "spec.toml"
    spec.write_text("\n".join(lines) + "\n")
    argv = ["sweep", str(spec), "--out", str(folder / "o"), "-q", "--json", "--chunk-size", "4096"]
    argv += ["--max-chunks", str(max_chunks)]  # 0: validation and folder only; 1: one chunk evaluated
    check_outcome(argv)


@given(path=st.sampled_from(["", ".", "/", "/dev/null", "/proc/x.png", "/proc/1", "/nope/x.png", "a\0b.png",
                             "/dev/null/x.png", "{tmp}/ok.png", "{tmp}/ok.txt", "{tmp}"]),
       seed=maybe("--seed", [0]), bootstrap=maybe("--bootstrap", [0]))
def test_fit_output_paths(path, seed, bootstrap, tmp_path_factory):
    folder = tmp_path_factory.mktemp("fit")
    csv = folder / "runs.csv"
    csv.write_text("N,D,L\n" + "".join(f"{n:g},{20 * n:g},{2 + 1e3 / n ** 0.3:.4f}\n"
                                       for n in (1e8, 2e8, 4e8, 8e8, 1.6e9, 3.2e9)))
    argv = argv_of(["fit", "--law", "chinchilla", "--csv", str(csv), "--plot", path.format(tmp=folder)],
                   {"--seed": seed, "--bootstrap": bootstrap if bootstrap is not None else 0})
    code, _ = check_outcome(argv)
    if code == 0 and path.startswith("{tmp}"):
        assert Path(path.format(tmp=folder)).is_file()


# ------------------------------------------------------------------ each issue class, one example
def test_error_line_never_shows_numpy_repr():
    code, _, err, _ = run(["predict", "optimal", "--system", "dgx-h100", "--gpus", "13", "--days", "3"])
    assert code == 2 and not re.search(r"np\.(float|int)\d*\(", err), err


# Each class of the issue, one representative (the corpus holds many more of each).
CLASS_CASES = [
    ("traceback: device TOML not UTF-8", ["hardware", "show", "{latin1}"], "not UTF-8"),
    ("traceback: device TOML UTF-16", ["hardware", "show", "{utf16}"], "UTF-16"),
    ("traceback: model field is a string", ["models", "show", "{m_str}"], "hidden_size"),
    ("traceback: HF config with zero heads", ["models", "show", "{hf0}"], "num_attention_heads"),
    ("traceback: layers overflow int32", ["models", "show", "{m_huge}"], "num_layers"),
    ("traceback: gpus 2^40", ["predict", "train", "--model", "llama-3-8b", "--system", "dgx-h100", "--gpus",
                              str(2**40), "--global-batch", "8"], "--gpus"),
    ("traceback: seed above 2^63", ["fit", "--law", "chinchilla", "--csv", "{runs}", "--seed", str(2**64)], "--seed"),
    ("traceback: --plot not writable", ["fit", "--law", "chinchilla", "--csv", "{runs}", "--plot", "/proc/f.png"],
     "--plot"),
    ("traceback: --profile not writable", ["calibrate", "--from-table", "vidur-a100", "--profile", "/proc/p.json"],
     "--profile"),
    ("traceback: calibrate --out not writable", ["calibrate", "--quick", "--out", "/proc/simlab-cal"], "--out"),
    ("traceback: sweep --out not writable", ["sweep", "{spec}", "--out", "/proc/simlab-sweep"], "--out"),
    ("traceback: summarize read-only folder", ["sweep", "summarize", "/proc"], "_summary"),
    ("hang: 1e36-configuration grid", ["sweep", "{huge}", "--out", "{tmp}/o"], "at most"),
    ("nonsense: --chunk equal to --batch", ["predict", "serve", "--model", "llama-3-8b", "--hardware", "h100",
                                            "--batch", "8", "--chunk", "8"], "--chunk"),
    ("nonsense: capacity 1e300", ["hardware", "show", "{cap}"], "capacity_bytes"),
    ("nonsense: bandwidth 1e-300", ["hardware", "show", "{bw}"], "bandwidth_bytes_per_s"),
    ("nonsense: train --dtype int4", ["predict", "train", "--model", "llama-3-8b", "--system", "dgx-h100",
                                      "--gpus", "8", "--global-batch", "8", "--dtype", "int4"], "--dtype"),
    ("nonsense: loss of a 1e-30-parameter model", ["predict", "loss", "--law", "chinchilla-epoch", "--params",
                                                   "1e-30", "--tokens", "1e10"], "--params"),
    ("silent: --nominal-mfu 0", ["predict", "optimal", "--compute", "1e22", "--nominal-mfu", "0"], "--nominal-mfu"),
    ("silent: --nominal-mfu 2", ["predict", "optimal", "--compute", "1e22", "--nominal-mfu", "2"], "--nominal-mfu"),
    ("silent: --nominal-mfu nan", ["predict", "optimal", "--compute", "1e22", "--nominal-mfu", "nan"],
     "--nominal-mfu"),
    ("silent: --out ''", ["calibrate", "--quick", "--out", ""], "--out"),
    ("silent: --hardware with --system", ["predict", "serve", "--model", "llama-3-8b", "--hardware", "h100",
                                          "--system", "dgx-h100"], "--system"),
    ("silent: draft with another tokenizer", ["predict", "serve", "--model", "llama-3-8b", "--hardware", "h100",
                                              "--draft-model", "qwen3-0.6b", "--gamma", "4"], "tokenizer"),
    ("silent: one CSV column for two inputs", ["fit", "--law", "chinchilla", "--csv", "{runs}", "--columns",
                                               "N=N,D=N,L=L"], "--columns"),
    ("wording: a folder is not 'does not exist'", ["fit", "--law", "chinchilla", "--csv", "{tmp}"], "folder"),
    ("wording: /dev/null is not 'does not exist'", ["fit", "--law", "chinchilla", "--csv", "/dev/null"],
     "not a regular file"),
    ("wording: suggestions are catalog names", ["hardware", "show", "dgx h1000"], "DGX-H100"),
]


@pytest.fixture(scope="module")
def class_files(tmp_path_factory) -> dict[str, str]:
    d = tmp_path_factory.mktemp("classes")
    model = ('num_layers = 32\nhidden_size = 4096\nnum_heads = 32\nnum_kv_heads = 8\nhead_dim = 128\n'
             'ffn_size = 14336\ngated_mlp = 1\nvocab_size = 128256\ntied_embeddings = 0\nlayernorm = 0\n')
    files = {
        "latin1": (H100_TOML + "\n# caf\xe9\n").encode("latin-1"),
        "utf16": H100_TOML.encode("utf-16"),
        "cap": H100_TOML.replace("capacity_bytes = 80e9", "capacity_bytes = 1e300").encode(),
        "bw": H100_TOML.replace("bandwidth_bytes_per_s = 3.35e12", "bandwidth_bytes_per_s = 1e-300").encode(),
        "m_str": model.replace("hidden_size = 4096", 'hidden_size = "4096"').encode(),
        "m_huge": model.replace("num_layers = 32", "num_layers = 1000000000000").encode(),
        "runs": ("N,D,L\n" + "".join(f"{n:g},{20 * n:g},{2 + 1e3 / n ** 0.3:.4f}\n"
                                     for n in (1e8, 2e8, 4e8, 8e8, 1.6e9, 3.2e9))).encode(),
        "spec": b'kind = "serve"\n[axes]\nmodel = ["llama-3-8b"]\nhardware = ["h100"]\n',
        "huge": ('kind = "serve"\n[axes]\nmodel = ["llama-3-8b"]\nhardware = ["h100"]\n' + "".join(
            f"{k} = {{ start = 1, stop = 1000000, step = 1 }}\n"
            for k in ("batch", "input_len", "output_len", "block_size", "chunk", "spec_gamma"))).encode(),
    }
    out = {"tmp": str(d)}
    for name, data in files.items():
        p = d / f"{name}.{'csv' if name == 'runs' else 'toml'}"
        p.write_bytes(data)
        out[name] = str(p)
    (d / "hf0").mkdir()
    (d / "hf0/config.json").write_text(json.dumps({"model_type": "llama", "hidden_size": 4096,
                                                    "num_attention_heads": 0, "num_hidden_layers": 32,
                                                    "intermediate_size": 14336, "vocab_size": 32000}))
    out["hf0"] = str(d / "hf0")
    return out


@pytest.mark.parametrize("label,argv,word", CLASS_CASES, ids=[c[0] for c in CLASS_CASES])
def test_issue_class(label, argv, word, class_files, monkeypatch):
    monkeypatch.chdir(REPO)
    args = [a.format(**class_files) for a in argv]
    t0 = time.perf_counter()
    code, out, err, _ = run(args)
    assert time.perf_counter() - t0 < 30, label
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: "), (label, code, err)
    assert word.lower() in lines[0].lower(), (label, lines[0])


def test_bom_device_is_accepted(class_files, tmp_path):
    path = tmp_path / "bom.toml"
    path.write_bytes(b"\xef\xbb\xbf" + H100_TOML.encode())
    code, out, err, _ = run(["hardware", "show", str(path), "--json"])
    assert code == 0 and json.loads(out)["name"] == "H100-SXM5-80GB", err


def test_ctrl_c_one_line_exit_130(monkeypatch):
    import cli.hardware

    def interrupted():
        raise KeyboardInterrupt

    monkeypatch.setattr(cli.hardware, "list_devices", interrupted)
    code, _, err, _ = run(["hardware", "list"])
    lines = err.strip().splitlines()
    assert code == 130 and len(lines) == 1 and lines[0].startswith("error: interrupted"), err


@pytest.mark.parametrize("how", ["env", "flag"])
def test_offline_never_downloads(how, tmp_path, monkeypatch):
    import fitters.registry as reg

    monkeypatch.setenv("SIMLAB_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(reg, "_cache_dir", lambda: tmp_path / "cache")

    def no_network(*a, **k):
        raise AssertionError("pooch.retrieve called although offline")

    import pooch

    monkeypatch.setattr(pooch, "retrieve", no_network)
    if how == "env":
        monkeypatch.setenv("SIMLAB_OFFLINE", "1")
        argv = ["fit", "steplaw", "--dataset", "steplaw-moe"]
    else:
        monkeypatch.delenv("SIMLAB_OFFLINE", raising=False)
        argv = ["--offline", "fit", "steplaw", "--dataset", "steplaw-moe"]
    code, _, err, _ = run(argv)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1, err
    assert "moe_lr_bs_loss.csv" in lines[0] and "https://" in lines[0] and "Downloading" not in err
    assert os.environ.get("SIMLAB_OFFLINE") == ("1" if how == "env" else None)  # --offline does not leak


def test_max_chunks_does_not_list_every_chunk(tmp_path):
    """1e11 chunks: --max-chunks 0 returns at once (the chunk list is lazy)."""
    spec = tmp_path / "big.toml"
    spec.write_text('kind = "serve"\n[axes]\nmodel = ["llama-3-8b"]\nhardware = ["h100"]\n'
                    "batch = { start = 1, stop = 100000, step = 1 }\ninput_len = { start = 1, stop = 1000000, step = 1 }\n")
    t0 = time.perf_counter()
    code, out, err, _ = run(["sweep", str(spec), "--out", str(tmp_path / "o"), "--chunk-size", "1",
                             "--max-chunks", "0", "--json"])
    assert code == 0, err
    report = json.loads(out)
    assert report["n_chunks"] == 10**11 and report["chunks_run"] == 0 and not report["complete"]
    assert time.perf_counter() - t0 < 60


def test_context_beyond_model_maximum_warns():
    code, out, err, _ = run(["predict", "serve", "--model", "llama-3-8b", "--hardware", "h100", "--input", "100000",
                             "--json"])
    assert code == 0 and err.startswith("warning: ") and "maximum context" in err
    assert any("maximum context" in w for w in json.loads(out)["warnings"])


def test_law_extrapolation_warns():
    code, out, err, _ = run(["predict", "loss", "--law", "kaplan", "--params", "1e3", "--tokens", "1e14", "--json"])
    assert code == 0 and "extrapolation" in err and json.loads(out)["warnings"]


# ------------------------------------------------------------------------------ the result guards
def test_guard_serve_refuses_nonsense_naming_inputs():
    from simulator.errors import ConfigError
    from simulator.guards import check_serve

    good = {"ttft_s": 0.1, "tpot_s": 0.01, "tpot_avg_s": 0.01, "e2e_latency_s": 1.4, "output_tokens_per_s": 100.0,
            "total_tokens_per_s": 900.0, "memory_bytes": 1e9, "capacity_bytes": 8e10,
            "energy_per_output_token_j": 1.0, "model_switch_s": float("nan")}
    check_serve(good, {"model": "m"})
    for key, bad in (("ttft_s", 0.0), ("ttft_s", float("inf")), ("output_tokens_per_s", 0.0),
                     ("memory_bytes", -1.0), ("energy_per_output_token_j", float("nan")), ("e2e_latency_s", None)):
        with pytest.raises(ConfigError, match=rf"{key}.*batch=4"):
            check_serve({**good, key: bad}, {"model": "m", "batch": 4})


def test_guard_train_orders_mfu_hfu_ceiling():
    from simulator.errors import ConfigError
    from simulator.guards import check_train

    good = {"step_time_s": 1.0, "compute_s": 0.9, "tokens_per_s": 1e5, "mfu": 0.4, "hfu": 0.45,
            "memory": {"total_bytes": 5e10}}
    check_train(good, {"seq": 2048}, compute_efficiency=0.688)
    for change, word in (({"mfu": 0.5, "hfu": 0.45}, "mfu"), ({"hfu": 0.7}, "hfu"), ({"mfu": -0.1}, "mfu"),
                         ({"step_time_s": 0.0}, "step_time_s"), ({"memory": {"total_bytes": -1.0}}, "total_bytes")):
        with pytest.raises(ConfigError, match=rf"{word}.*seq=2048"):
            check_train({**good, **change}, {"seq": 2048}, compute_efficiency=0.688)


def test_long_sequence_training_is_physical():
    """Issue 15 saw MFU 1.03 / HFU 1.36 at a 1M-token sequence; the core now stays below the device's
    compute efficiency, and the guard would refuse it otherwise (exit 2, one line)."""
    code, out, err, _ = run(["predict", "train", "--model", "llama-3-8b", "--system", "dgx-h100", "--gpus", "8",
                             "--global-batch", "8", "--seq", "1048576", "--json", "--allow-no-fit"])
    assert code == 0, err
    from hardware_db import load_system
    from simulator.guards import compute_ceiling

    r = json.loads(out)
    assert 0 < r["mfu"] <= r["hfu"] <= compute_ceiling(load_system("dgx-h100").device) * (1 + 1e-4)
