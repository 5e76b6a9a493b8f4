"""Registry entries of the measured kernel tables used by calibration and validation.

The files are third-party measurements and are never committed to simlab: they are found through
:mod:`fitters.registry` under ``$SIMLAB_DATA_DIR/<relative_path>`` (sha256-checked) or downloaded
once from the pinned public URL. Importing this module registers them.

* Vidur (microsoft/vidur, MIT): per-operator PyTorch fp16 timings of one transformer layer on A100
  and A40 (``compute/<gpu>/<org>/<model>/mlp.csv``) and NCCL all-reduce timings
  (``network/<setup>/all_reduce.csv``). Times are in **milliseconds**; collective ``size`` is in
  fp16 **elements** (2 bytes each).
* LLMCompass (PrincetonUniversity/LLMCompass, BSD-3-Clause): fp16 kernel timings on A100 and MI210
  (``matmul``: ``M, K, N, time[ms], TFLOP/s``; ``softmax`` / ``layernorm``: ``M, N, G elements/s``;
  ``gelu``: ``elements, G elements/s``, throughput = elements / latency / 1e9 as in the
  authors' ``ae/figure5/*/test_*.py``).
"""

from __future__ import annotations

from fitters.registry import DatasetSpec, register

VIDUR_COMMIT = "7d47513363ec447a741ac5e47241580b47724fbf"
LLMCOMPASS_COMMIT = "2e015fd2ee750e6cad8d7152df52551e5b41ef20"
_VIDUR_RAW = f"https://raw.githubusercontent.com/microsoft/vidur/{VIDUR_COMMIT}/data/profiling"
_LLMC_RAW = f"https://raw.githubusercontent.com/PrincetonUniversity/LLMCompass/{LLMCOMPASS_COMMIT}/ae/figure5"
_VIDUR_LICENSE = "MIT (Copyright (c) Microsoft Corporation)"
_LLMC_LICENSE = "BSD-3-Clause"
_VIDUR_CITE = "Agrawal et al., Vidur: A Large-Scale Simulation Framework for LLM Inference, MLSys 2024, arXiv:2405.05465"
_LLMC_CITE = "Zhang et al., LLMCompass: Enabling Efficient Hardware Design for LLM Inference, ISCA 2024, arXiv:2312.03134"

_VIDUR_OPS = ("emb", "input_layernorm", "attn_pre_proj", "attn_rope", "attn_post_proj",
              "post_attention_layernorm", "mlp_up_proj", "mlp_act", "mlp_down_proj", "add")
VIDUR_MLP_COLUMNS: dict[str, str] = {
    **{f"time_stats.{op}.{stat}": f"{op} time of one layer, ms ({stat} over repeats)"
       for op in _VIDUR_OPS for stat in ("min", "max", "mean", "median", "std")},
    "n_head": "query heads", "n_kv_head": "key/value heads", "n_embd": "hidden size",
    "n_expanded_embd": "FFN intermediate size", "vocab_size": "vocabulary size",
    "use_gated_mlp": "True when the MLP is gated (gate+up fused in mlp_up_proj)",
    "num_tokens": "tokens in the batch (GEMM rows)",
    "num_tensor_parallel_workers": "tensor-parallel degree (weights split by it)",
}
VIDUR_ALLREDUCE_COLUMNS: dict[str, str] = {
    **{f"time_stats.all_reduce.{stat}": f"NCCL all-reduce time, ms ({stat} over repeats)"
       for stat in ("min", "max", "mean", "median", "std")},
    "rank": "rank that measured the row", "num_workers": "GPUs in the group",
    "size": "message size in fp16 elements (2 bytes each)", "collective": "all_reduce",
    "devices_per_node": "GPUs of the group per node", "max_devices_per_node": "GPUs per node",
}
LLMC_COLUMNS: dict[str, dict[str, str]] = {
    "matmul": {"M": "rows of A", "K": "inner dimension", "N": "columns of B",
               "time": "latency, ms (written with an 'ms' suffix)", "tflops": "achieved TFLOP/s ('Tflops' suffix)"},
    "softmax": {"M": "rows", "N": "row length (softmax axis)", "throughput": "G elements/s = M N / latency / 1e9"},
    "layernorm": {"M": "rows", "N": "row length (normalised axis)", "throughput": "G elements/s = M N / latency / 1e9"},
    "gelu": {"elements": "tensor elements", "throughput": "G elements/s = elements / latency / 1e9"},
}
_LLMC_DIR = {"matmul": "ab", "softmax": "cf", "layernorm": "de", "gelu": "g"}

# (gpu, org/model) -> sha256 of compute/<gpu>/<org>/<model>/mlp.csv
_VIDUR_COMPUTE: dict[tuple[str, str], str] = {
    ("a100", "Qwen/Qwen-72B"): "81a4a7b16a99e256f1f47cc25c3d098ecf4ff7ab2260e921759dd7c06e93cce9",
    ("a100", "codellama/CodeLlama-34b-Instruct-hf"): "9ba6058c55b7c291ccdf9cd445655de93d3a3dfc0fdd8b08f654170413906dce",
    ("a100", "internlm/internlm-20b"): "efdad580da6ecb50e3716543439a31fc71484de365e0f8cfe9430c5e4d5487c3",
    ("a100", "meta-llama/Llama-2-70b-hf"): "d690ce601f94ab80586e1d5a6a92ea0d64114dc3e0895bf32b3bee270f3d9b7f",
    ("a100", "meta-llama/Llama-2-7b-hf"): "2cfacca979f32e83257753cf6fd815a71af8ba9a7a9d0643b18d9f54e8a37688",
    ("a100", "meta-llama/Meta-Llama-3-70B"): "6929c6f4afae67f7d91a7938ebdb350a47923b077a1b1c2a4e1911f5ec9e601f",
    ("a100", "meta-llama/Meta-Llama-3-8B"): "98c26488298e324e89db7349e213f75c856ae83dc6b17548a68636d2cb5efff0",
    ("a100", "microsoft/phi-2"): "98a16c552786c8dd3d935d1d8c06434d0ae7c628b9c23ac26fbde551b272bde6",
    ("a40", "Qwen/Qwen-72B"): "103db51fecb0bdbb5be21b8274706d5700d0d68f3b6b63cd68967b12d839426f",
    ("a40", "codellama/CodeLlama-34b-Instruct-hf"): "0e9b6468d8fb2d25c55c5d142b5314bb6ae56b6b2991f2de555cb8857389f480",
    ("a40", "internlm/internlm-20b"): "754c48913b65eff1f7db9c8e4dcc45f92b27cccfd59e0309d617a3f07536d0fa",
    ("a40", "meta-llama/Llama-2-70b-hf"): "a666d9463c0f6994f8103175cad6359bd738e6d4f8e66e56f1dcf88482f91485",
    ("a40", "meta-llama/Llama-2-7b-hf"): "f8d0f455d0b72b7975be0ed8e1951dcbf2eabc083001b27f6ef8203c0a96962c",
    ("a40", "microsoft/phi-2"): "a5708bd10ef825617c4cc82ce624a467a5aa87092765be41b1dcde72fb3248eb",
}
_VIDUR_ALLREDUCE: dict[str, str] = {
    "a100_dgx": "5ea3f3c229fee1ef70ea308881fff420d60ab6f30e86edda1ed6146b12eb28ef",
    "a100_pairwise_nvlink": "27428d884ae095800e81366c7517af93fd7476633cfe5e55bdd155e004485dab",
}
_LLMC: dict[tuple[str, str], str] = {
    ("matmul", "A100"): "56330836b8c82a5af38f92fb64001e7aa3f3996938d7ff9ebe36154ac74e0f16",
    ("matmul", "MI210"): "24f6a80c133a79361442871ff89982d598bb8167eee0ff7abcf66057261695b9",
    ("softmax", "A100"): "8ce9557c3c486065a3ec92d9a78d6b200b74e29d8ba5844f60a70be083343379",
    ("softmax", "MI210"): "b61366b546eb994c149c07122fcadd9ff05698858fb3eb24a9e59463707b35e6",
    ("layernorm", "A100"): "b1e1bbc9e5ca9b961bb5ff270cccc6a947f1e20fc424ae2a1d76984d83599162",
    ("layernorm", "MI210"): "561b990369f110b7d9e968843a5a7ea8cc89081675651b4278a40e71745e495a",
    ("gelu", "A100"): "8aea07fb862e44aa64da592444f2176caabf4195148230124145b949f12cd9d0",
    ("gelu", "MI210"): "4df1390c2090aa16ac52a25e724d533a5b35e9e5e05d44b5764909383b13e3d1",
}


def vidur_compute_name(gpu: str, model: str) -> str:
    """Registry name of Vidur's per-operator table for ``gpu`` (a100|a40) and ``org/model``."""
    return f"vidur-{gpu}-{model.split('/')[-1].lower()}-mlp"


def vidur_allreduce_name(setup: str) -> str:
    """Registry name of Vidur's all-reduce table of network ``setup`` (e.g. ``a100_dgx``)."""
    return f"vidur-{setup.replace('_', '-')}-all-reduce"


def llmcompass_name(op: str, gpu: str) -> str:
    """Registry name of LLMCompass's real-hardware ``op`` table on ``gpu`` (A100|MI210)."""
    return f"llmcompass-{op}-{gpu.lower()}"


def vidur_allreduce_setups() -> list[str]:
    """Network setups with a registered Vidur all-reduce table."""
    return sorted(_VIDUR_ALLREDUCE)


def vidur_models(gpu: str) -> list[str]:
    """``org/model`` names with a registered Vidur per-operator table on ``gpu``."""
    return sorted(m for g, m in _VIDUR_COMPUTE if g == gpu)


for (_gpu, _model), _sha in _VIDUR_COMPUTE.items():
    register(DatasetSpec(
        name=vidur_compute_name(_gpu, _model),
        relative_path=f"vidur_profiling/compute/{_gpu}/{_model}/mlp.csv",
        sha256=_sha,
        url=f"{_VIDUR_RAW}/compute/{_gpu}/{_model}/mlp.csv",
        license=_VIDUR_LICENSE,
        description=f"Vidur per-operator fp16 timings of one {_model} layer on {_gpu.upper()} (PyTorch), ms",
        columns=VIDUR_MLP_COLUMNS,
        citation=_VIDUR_CITE,
    ))

for _setup, _sha in _VIDUR_ALLREDUCE.items():
    register(DatasetSpec(
        name=vidur_allreduce_name(_setup),
        relative_path=f"vidur_profiling/network/{_setup}/all_reduce.csv",
        sha256=_sha,
        url=f"{_VIDUR_RAW}/network/{_setup}/all_reduce.csv",
        license=_VIDUR_LICENSE,
        description=f"Vidur NCCL all-reduce timings on {_setup} (ms; size in fp16 elements)",
        columns=VIDUR_ALLREDUCE_COLUMNS,
        citation=_VIDUR_CITE,
    ))

for (_op, _gpu), _sha in _LLMC.items():
    register(DatasetSpec(
        name=llmcompass_name(_op, _gpu),
        relative_path=f"llmcompass_real_hw/{_op}_{_gpu}.csv",
        sha256=_sha,
        url=f"{_LLMC_RAW}/{_LLMC_DIR[_op]}/real_hardware/{_op}_{_gpu}.csv",
        license=_LLMC_LICENSE,
        description=f"LLMCompass real-hardware fp16 {_op} timings on {_gpu} (Fig. 5); header-less CSV",
        columns=LLMC_COLUMNS[_op],
        citation=_LLMC_CITE,
    ))

# Published measured results compiled by the simlab team (one row per table cell of a paper or
# benchmark, each with its source): kept in the team's shared reference folder, not in the
# published-data folder, hence root="reference" ($SIMLAB_REFERENCE_DIR, default
# $SIMLAB_DATA_DIR/../reference). Read by `simlab validate --source measured-public` and by the
# serving / training validation tests (their rows name its ids).
MEASURED_PUBLIC = register(DatasetSpec(
    name="measured-public",
    relative_path="measured_public.csv",
    sha256="bbc9bf69c8021b435150842478b4fc1e95309543cc30f8d4208c0ee4af646b02",
    # no single public file: the URL is the first source; every row names its own in `source`
    url="https://arxiv.org/abs/2104.04473",
    license="facts from public papers and benchmark tables, each row naming its source; compiled by the simlab team",
    description="76 published measured training / serving / kernel results (not projections) from Megatron-LM "
                "2021, Korthikanti 2022, stas00/ml-engineering, TensorRT-LLM, llama.cpp, MosaicML llm-foundry",
    columns={
        "id": "stable key <source>-<model>-<hw>-<variant>",
        "workload_kind": "training | prefill | decode | serving | kernel",
        "model_name": "model (or kernel shape for kernel rows)", "params_b": "parameters, billions",
        "layers": "layers", "hidden": "hidden size", "heads": "attention heads", "kv_heads": "key/value heads",
        "vocab": "vocabulary size", "seq_len": "tokens (serving: may be 'ISL x / OSL y')",
        "device": "hardware as the source names it", "device_count": "accelerators in the job",
        "interconnect": "links as the source describes them",
        "tp": "tensor parallel", "pp": "pipeline parallel", "dp": "data parallel", "ep": "expert parallel",
        "cp": "context parallel", "vpp": "virtual pipeline stages",
        "micro_batch": "sequences unless a unit is given", "global_batch": "sequences unless a unit is given",
        "zero_stage": "ZeRO/FSDP mode", "recompute": "activation recomputation setting",
        "precision": "numeric format", "framework": "software stack",
        "metric": "measured quantity", "value": "value in `unit`", "value_high": "upper end of a range",
        "unit": "unit of value", "aux_metrics": "other numbers of the same row (k=v; ...), DERIVED ones marked",
        "source": "paper / benchmark", "source_locator": "table, figure or file",
        "notes": "caveats (MFU vs HFU ...)", "verification": "how the number was checked",
    },
    downloadable=False,
    root="reference",
))
