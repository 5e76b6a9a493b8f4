"""The bad-input corpus (tests/data/bad_inputs.txt): several hundred bad or edge-case invocations.

The corpus was written independently of the property tests (tests/test_cli_properties.py): by
hand, one list of bad values per option and one bad file per class of the issue. Every line must
end as it says: exit 2 with exactly one ``error:`` line (containing WORD when one is given), or exit
0 with physical results (and a ``warning:`` line when WORD is ``warning``). Never a traceback,
never another exit status, never a hang (each invocation is timed).
"""

from __future__ import annotations

import contextlib
import io
import json
import shlex
import time
from pathlib import Path

import pytest

from cli.main import main

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / "tests/data/bad_inputs.txt"
BOUND_S = 120.0
H100 = (REPO / "hardware_db/devices/h100-sxm5-80gb.toml").read_text()
SYS = (REPO / "hardware_db/systems/dgx-h100.toml").read_text()
MODEL = ('num_layers = 32\nhidden_size = 4096\nnum_heads = 32\nnum_kv_heads = 8\nhead_dim = 128\nffn_size = 14336\n'
         'gated_mlp = 1\nvocab_size = 128256\ntied_embeddings = 0\nlayernorm = 0\nmax_context = 8192\n')
HF = {"model_type": "llama", "hidden_size": 4096, "num_attention_heads": 32, "num_key_value_heads": 8,
      "num_hidden_layers": 32, "intermediate_size": 14336, "vocab_size": 128256}
SPEC = 'kind = "serve"\n[axes]\nmodel = ["llama-3-8b"]\nhardware = ["h100"]\nbatch = [1, 2]\n'
RUNS = "N,D,L\n" + "".join(f"{n:g},{20 * n:g},{2 + 1e3 / n ** 0.3:.4f}\n" for n in (1e8, 2e8, 4e8, 8e8, 1.6e9, 3.2e9))


def _hf(**changes) -> str:
    return json.dumps({**HF, **changes})


FILES: dict[str, str | bytes] = {
    # devices / systems
    "dev_bom.toml": b"\xef\xbb\xbf" + H100.encode(),
    "dev_latin1.toml": (H100 + "\n# caf\xe9\n").encode("latin-1"),
    "dev_utf16.toml": H100.encode("utf-16"),
    "dev_cap.toml": H100.replace("capacity_bytes = 80e9", "capacity_bytes = 1e300"),
    "dev_bw.toml": H100.replace("bandwidth_bytes_per_s = 3.35e12", "bandwidth_bytes_per_s = 1e-300"),
    "dev_tdp_str.toml": H100.replace("tdp_w = { value = 700", 'tdp_w = { value = "700"'),
    "dev_tdp_neg.toml": H100.replace("tdp_w = { value = 700", "tdp_w = { value = -700"),
    "dev_nomem.toml": H100.replace("[[memory]]", "[[memoryx]]"),
    "dev_kind.toml": H100.replace('kind = "gpu"', 'kind = "quantum"'),
    "dev_eff.toml": H100.replace("compute = 0.688", "compute = 1.5"),
    "dev_effnan.toml": H100.replace("compute = 0.688", "compute = nan"),
    "dev_peak_huge.toml": H100.replace("bf16 = { value = 989.4e12", "bf16 = { value = 1e30"),
    "dev_lat.toml": H100.replace("latency_s = 1e-6", "latency_s = 1e6"),
    "dev_truncated.toml": H100[: len(H100) // 2],
    "dev_unknown_key.toml": H100 + "\nfrobnicate = 1\n",
    "dev_nosource.toml": H100.replace('tdp_w = { value = 700, source = "', 'tdp_w = { value = 700, sourcex = "'),
    "sys_nodes0.toml": SYS.replace("nodes = 1", "nodes = 0"),
    "sys_dpn_huge.toml": SYS.replace("devices_per_node = { value = 8", "devices_per_node = { value = 1e12"),
    "sys_dev_unknown.toml": SYS.replace('device = "', 'device = "x', 1),
    "empty_toml.toml": "",
    "malformed_toml.toml": "name = 'x'\n[[[broken",
    # models
    "m_str.toml": MODEL.replace("hidden_size = 4096", 'hidden_size = "4096"'),
    "m_huge.toml": MODEL.replace("num_layers = 32", "num_layers = 1000000000000"),
    "m_heads0.toml": MODEL.replace("num_heads = 32", "num_heads = 0"),
    "m_float.toml": MODEL.replace("num_layers = 32", "num_layers = 32.5"),
    "m_kv.toml": MODEL.replace("num_kv_heads = 8", "num_kv_heads = 7"),
    "m_neg.toml": MODEL.replace("vocab_size = 128256", "vocab_size = -1"),
    "m_unknown.toml": MODEL + "frobnicate = 3\n",
    "m_malformed.toml": MODEL + "[[[",
    "m_latin1.toml": (MODEL + "# caf\xe9\n").encode("latin-1"),
    "m_params.toml": MODEL.replace("hidden_size = 4096", "hidden_size = 1048576").replace(
        "ffn_size = 14336", "ffn_size = 4194304").replace("num_layers = 32", "num_layers = 10000"),
    "m_nan.toml": MODEL.replace("ffn_size = 14336", "ffn_size = nan"),
    "hf_heads0/config.json": _hf(num_attention_heads=0),
    "hf_missing/config.json": json.dumps({k: v for k, v in HF.items() if k != "hidden_size"}),
    "hf_type/config.json": _hf(model_type="bert"),
    "hf_nan/config.json": _hf().replace('"vocab_size": 128256', '"vocab_size": NaN'),
    "hf_list/config.json": json.dumps([HF]),
    "hf_str/config.json": _hf(hidden_size="4096"),
    "hf_deep/config.json": "[" * 100000 + "]" * 100000,
    "hf_corrupt/config.json": _hf()[:-3],
    "hf_gpt2_heads0/config.json": json.dumps({"model_type": "gpt2", "n_embd": 768, "n_head": 0, "n_layer": 12,
                                              "vocab_size": 50257, "n_positions": 1024}),
    "hf_layers_huge/config.json": _hf(num_hidden_layers=10**12),
    # CSVs
    "runs.csv": RUNS,
    "nocol.csv": "a,b\n1,2\n",
    "few.csv": "N,D,L\n1e8,2e9,3.0\n2e8,4e9,2.9\n",
    "nan_csv.csv": RUNS.rsplit(",", 1)[0] + ",nan\n",
    "neg_csv.csv": RUNS.replace("2e+08", "-2e+08", 1),
    "const_csv.csv": "N,D,L\n" + "".join(f"{n:g},{20 * n:g},3.0\n" for n in (1e8, 2e8, 4e8, 8e8, 1.6e9, 3.2e9)),
    "empty.csv": "",
    "header_only.csv": "N,D,L\n",
    "strings_csv.csv": "N,D,L\n" + "".join("a,b,c\n" for _ in range(6)),
    "inf_csv.csv": RUNS.replace("2e+08", "inf", 1),
    "latin1_csv.csv": ("N,D,L\n# caf\xe9\n" + RUNS[6:]).encode("latin-1"),
    "acc_nocol.csv": "model,samples,gen_len\nqwen3-8b,1,4096\n",
    "acc_gt1.csv": "model,samples,gen_len,accuracy\nqwen3-8b,1,4096,1.7\n",
    # sweep specs
    "spec_ok.toml": SPEC,
    "spec_huge.toml": 'kind = "serve"\n[axes]\nmodel = ["llama-3-8b"]\nhardware = ["h100"]\n' + "".join(
        f"{k} = {{ start = 1, stop = 1000000, step = 1 }}\n"
        for k in ("batch", "input_len", "output_len", "block_size", "chunk", "spec_gamma")),
    "spec_empty_axis.toml": SPEC + "tp = []\n",
    "spec_unknown_key.toml": SPEC + "frobnicate = [1]\n",
    "spec_kind.toml": SPEC.replace('"serve"', '"fly"'),
    "spec_str_batch.toml": SPEC.replace("[1, 2]", '["1", 2]'),
    "spec_neg.toml": SPEC.replace("[1, 2]", "[-1, 2]"),
    "spec_latin1.toml": (SPEC + "# caf\xe9\n").encode("latin-1"),
    "spec_chunk0.toml": "chunk_size = 0\n" + SPEC,
    "spec_both.toml": SPEC + 'system = ["dgx-h100"]\n',
    "spec_nohw.toml": SPEC.replace('hardware = ["h100"]\n', ""),
    "spec_nan.toml": SPEC + "tp_overlap = [nan]\n",
    "spec_range_step0.toml": SPEC + "input_len = { start = 1, stop = 10, step = 0 }\n",
    "spec_range_huge.toml": SPEC + "input_len = { start = 1, stop = 1e12, step = 1 }\n",
    "spec_dup.toml": SPEC.replace("[1, 2]", "[2, 2]"),
    "spec_malformed.toml": "kind = [[[\n",
    "spec_dtype.toml": SPEC + 'weight_dtype = ["bf17"]\n',
    "spec_overlap.toml": SPEC + "tp_overlap = [1.5]\n",
    "spec_columns.toml": SPEC + '[output]\ncolumns = ["nope_s"]\n',
    "spec_train_noseq.toml": 'kind = "train"\n[axes]\nmodel = ["llama-3-8b"]\nsystem = ["dgx-h100"]\n',
    "spec_unknown_model.toml": SPEC.replace("llama-3-8b", "llama-99"),
    # other
    "corrupt_json.json": '{"not": "closed"',
    "null_json.json": "null",
    "afile": "x",
    "nonempty/keep.txt": "keep",
}


@pytest.fixture(scope="module")
def fx(tmp_path_factory) -> dict[str, str]:
    d = tmp_path_factory.mktemp("corpus")
    out = {"dir": str(d / "empty_dir")}
    (d / "empty_dir").mkdir()
    (d / "hf_empty_dir").mkdir()
    out["hf_empty_dir"] = str(d / "hf_empty_dir")
    for name, text in FILES.items():
        p = d / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(text if isinstance(text, bytes) else text.encode())
        key = name.split("/")[0].split(".")[0]
        out[key] = str(p.parent if "/" in name else p)
    return out


def _lines() -> list:
    rows = []
    for i, line in enumerate(CORPUS.read_text().splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        code, word, argv = (part.strip() for part in line.split("|", 2))
        marks = ()
        if code.endswith("x"):  # a known failure, reported to the module's owner
            code = code[:-1]
            marks = (pytest.mark.xfail(strict=False, reason="known bad-input gap of this command (see corpus header)"),)
        rows.append(pytest.param(i, int(code), word, argv, marks=marks, id=f"line{i}"))
    return rows


ROWS = _lines()


def test_corpus_has_several_hundred_lines():
    assert len(ROWS) >= 500


def _run(argv: list[str]) -> tuple[int, str, str, float]:
    out, err = io.StringIO(), io.StringIO()
    t0 = time.perf_counter()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(argv)
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
    return code, out.getvalue(), err.getvalue(), time.perf_counter() - t0


@pytest.mark.parametrize("lineno,code,word,argv", ROWS)
def test_corpus_line(lineno, code, word, argv, fx, tmp_path_factory, monkeypatch):
    monkeypatch.chdir(REPO)
    monkeypatch.setenv("SIMLAB_OFFLINE", "1")  # a corpus run never downloads
    if "{tmp}" in argv:  # a fresh folder only where the line needs one
        argv = argv.replace("{tmp}", str(tmp_path_factory.mktemp(f"line{lineno}")))
    text = argv
    for key, path in fx.items():
        text = text.replace("{fx:" + key + "}", shlex.quote(path))
    args = shlex.split(text)
    got, out, err, seconds = _run(args)
    where = f"line {lineno}: simlab {text}"
    assert "Traceback" not in out + err, f"{where}\n{err[-1500:]}"
    assert seconds < BOUND_S, f"{where}: {seconds:.0f} s"
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert got == code, f"{where}: exit {got}, expected {code}; stderr {err[-800:]!r}"
    if code == 2:
        assert len(lines) == 1 and lines[0].startswith("error: "), f"{where}: stderr {err!r}"
        if word not in ("*", "-"):
            assert word.lower() in lines[0].lower(), f"{where}: {lines[0]}"
        return
    assert all(ln.startswith("warning: ") for ln in lines), f"{where}: stderr {err!r}"
    if word == "warning":
        assert lines, f"{where}: expected a warning line"
    if "--json" in args:
        data = json.loads(out)
        if args[:2] == ["predict", "serve"]:
            from simulator.guards import check_serve

            check_serve(data)
        elif args[:2] == ["predict", "train"]:
            from simulator.guards import check_train

            check_train(data)
        if word == "warning":
            assert data.get("warnings"), f"{where}: JSON lacks 'warnings'"
