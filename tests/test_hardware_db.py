"""Tests of the hardware catalog: loading, lookup, sourcing, validation, SN40L, MI250X, systems."""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path

import pytest

from hardware_db import (
    Device,
    Efficiency,
    HardwareError,
    SimlabError,
    System,
    list_devices,
    list_systems,
    load_device,
    load_system,
)
from hardware_db.catalog import DEVICE_DIR, SYSTEM_DIR

DEVICE_FILES = sorted(DEVICE_DIR.glob("*.toml"))
SYSTEM_FILES = sorted(SYSTEM_DIR.glob("*.toml"))

GOOD_DEVICE = """
name = "My-Accel"
aliases = ["myaccel"]
vendor = "Me"
kind = "gpu"
tdp_w = { value = 300, source = "my datasheet p. 1" }

[peak_flops_per_s]
bf16 = { value = 100e12, source = "my datasheet p. 2" }

[[memory]]
name = "hbm"
capacity_bytes = 32e9
bandwidth_bytes_per_s = 1e12
source = "my datasheet p. 3"

[efficiency]
compute = 0.7
memory = 0.8
link = 0.8
compute_half_flop = 1e9
memory_half_bytes = 1e6
kernel_overhead_s = 5e-6
source = "guess"
"""


def write(tmp_path: Path, text: str, name: str = "dev.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


# --- catalog content ------------------------------------------------------------------------


def test_catalog_has_required_devices_and_systems():
    for name in [
        "v100",
        "a100-40gb",
        "a100-80gb",
        "a100-pcie",
        "h100",
        "h100-pcie",
        "h100-nvl",
        "h200",
        "b200",
        "gh200",
        "l40s",
        "rtx-4090",
        "mi250x",
        "mi250x-gcd",
        "mi300x",
        "mi325x",
        "mi210",
        "a40",
        "tpu-v4",
        "tpu-v5e",
        "tpu-v5p",
        "gaudi2",
        "gaudi3",
        "sn40l",
        "snapdragon 8 gen 3",
        "snapdragon-8-elite",
        "a17 pro",
        "m2-ultra",
        "m3-max",
        "m4",
        "jetson-agx-orin",
        "host-cpu",
    ]:
        assert isinstance(load_device(name), Device), name
    for name in [
        "dgx-a100",
        "dgx-h100",
        "hgx-h200",
        "dgx-b200",
        "frontier",
        "sn40l-node",
        "tpu-v5p-slice",
        "phone",
    ]:
        assert isinstance(load_system(name), System), name
    assert len(list_devices()) == len(DEVICE_FILES)
    assert len(list_systems()) == len(SYSTEM_FILES)


@pytest.mark.parametrize("path", DEVICE_FILES, ids=lambda p: p.stem)
def test_every_device_number_has_a_source(path):
    dev = load_device(path)
    raw = tomllib.loads(path.read_text())
    for dtype, value in dev.peak_flops_per_s.items():
        assert value > 0 and dev.sources[f"peak_flops_per_s.{dtype}"].strip()
    for tier in dev.memory_tiers:
        assert tier.capacity_bytes > 0 and tier.bandwidth_bytes_per_s > 0 and tier.source.strip()
    for key in ("l2_bytes", "tdp_w", "idle_w", "price_per_hour_usd"):
        if getattr(dev, key) is not None:
            assert dev.sources[key].strip(), key
            assert isinstance(raw[key], dict) and raw[key]["source"].strip()
    if dev.intra_node_link is not None:
        assert dev.intra_node_link.source.strip()
    assert dev.efficiency.source.strip()
    assert 0 < dev.efficiency.compute <= 1 and 0 < dev.efficiency.memory <= 1 and 0 < dev.efficiency.link <= 1
    # every unset field carries its reason, and nothing is both set and unset
    for key, reason in dev.unset.items():
        assert reason.strip()
        assert key not in dev.peak_flops_per_s
    assert dev.memory.name == dev.main_memory


@pytest.mark.parametrize("path", SYSTEM_FILES, ids=lambda p: p.stem)
def test_every_system_number_has_a_source(path):
    sys_ = load_system(path)
    assert sys_.sources["devices_per_node"].strip()
    for key in ("intra_node_link", "inter_node_link"):
        link = getattr(sys_, key)
        if link is None:
            assert sys_.unset[key].strip(), f"{key} is None without a reason"
        else:
            assert link.bandwidth_bytes_per_s > 0 and link.source.strip()


def test_catalog_files_parse_with_plain_tomllib():
    for path in DEVICE_FILES + SYSTEM_FILES:
        with open(path, "rb") as handle:
            assert tomllib.load(handle)["name"]


# --- lookup -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "alias, canonical",
    [
        ("h100", "H100-SXM5-80GB"),
        ("H100-SXM5-80GB", "H100-SXM5-80GB"),
        ("h100 sxm5", "H100-SXM5-80GB"),
        ("H100_SXM5", "H100-SXM5-80GB"),
        ("a100", "A100-SXM4-80GB"),
        ("a100-80gb", "A100-SXM4-80GB"),
        ("A100-40GB", "A100-SXM4-40GB"),
        ("mi250x-gcd", "MI250X-GCD"),
        ("sn40l", "SN40L"),
        ("m2-ultra", "Apple-M2-Ultra"),
        ("M2 Ultra", "Apple-M2-Ultra"),
        ("tpu-v5p", "TPU-v5p"),
    ],
)
def test_aliases_resolve(alias, canonical):
    assert load_device(alias).name == canonical


def test_loading_is_cached():
    assert load_device("h100") is load_device("H100-SXM5-80GB")
    assert load_system("dgx-h100") is load_system("DGX H100")


def test_unknown_name_suggests_close_names():
    with pytest.raises(HardwareError) as err:
        load_device("h1000")
    msg = str(err.value)
    assert "unknown device 'h1000'" in msg and "did you mean" in msg and "h100" in msg
    assert "simlab hardware list" in msg and "\n" not in msg
    with pytest.raises(HardwareError, match="unknown system 'dgx-h1000'; did you mean: .*dgx h100"):
        load_system("dgx-h1000")
    with pytest.raises(HardwareError) as err:
        load_device("zzzzzz")
    assert "did you mean" not in str(err.value)


def test_hardware_error_is_simlab_error():
    assert issubclass(HardwareError, SimlabError)


def test_user_file_loads_like_catalog(tmp_path):
    dev = load_device(write(tmp_path, GOOD_DEVICE))
    assert dev.name == "My-Accel" and dev.peak("bf16") == 100e12 and dev.memory.name == "hbm"
    assert load_device(str(tmp_path / "dev.toml")) is dev
    with pytest.raises(HardwareError, match="does not exist"):
        load_device(tmp_path / "missing.toml")


# --- Device and System API --------------------------------------------------------------------


def test_peak_and_tier_errors_name_what_exists():
    v100 = load_device("v100")
    with pytest.raises(HardwareError, match=r"V100-SXM2-32GB.*'bf16'.*fp32, fp16"):
        v100.peak("bf16")
    assert v100.peak("FP16") == 125e12
    with pytest.raises(HardwareError, match="no memory tier 'ddr'; it has: hbm"):
        v100.tier("ddr")


def test_with_efficiency_replaces_only_efficiency():
    h100 = load_device("h100")
    catalog_compute = h100.efficiency.compute
    eff = Efficiency(0.5, 0.6, 0.7, 1e9, 1e6, 1e-5, source="calibration test")
    new = h100.with_efficiency(eff)
    assert new.efficiency is eff and new.peak("bf16") == h100.peak("bf16")
    assert load_device("h100").efficiency.compute == catalog_compute != eff.compute
    with pytest.raises(HardwareError, match=r"efficiency.compute = 1.5; allowed: a number in \(0, 1\]"):
        Efficiency(1.5, 0.6, 0.7, 1e9, 1e6, 1e-5, source="x")


def test_sn40l_has_three_sourced_tiers():
    sn = load_device("sn40l")
    assert [t.name for t in sn.memory_tiers] == ["sram", "hbm", "ddr"]
    assert sn.tier("sram").capacity_bytes == 520e6
    assert sn.tier("hbm").capacity_bytes == 64e9 and sn.tier("hbm").bandwidth_bytes_per_s == 1.8e12
    assert sn.tier("ddr").capacity_bytes == 1.5e12 and sn.tier("ddr").bandwidth_bytes_per_s == 200e9
    assert sn.memory.name == "hbm" and sn.peak("bf16") == 638e12
    assert all("2405.07518" in t.source for t in sn.memory_tiers)
    bandwidths = [t.bandwidth_bytes_per_s for t in sn.memory_tiers]
    assert bandwidths == sorted(bandwidths, reverse=True)  # fastest first


def test_mi250x_gcd_is_half_the_module():
    module, gcd = load_device("mi250x"), load_device("mi250x-gcd")
    assert set(module.peak_flops_per_s) == set(gcd.peak_flops_per_s)
    for dtype, value in module.peak_flops_per_s.items():
        assert gcd.peak(dtype) == pytest.approx(value / 2)
    assert gcd.memory.capacity_bytes == pytest.approx(module.memory.capacity_bytes / 2)
    assert gcd.memory.bandwidth_bytes_per_s == pytest.approx(module.memory.bandwidth_bytes_per_s / 2)
    assert gcd.tdp_w == pytest.approx(module.tdp_w / 2)


def test_system_scaling():
    dgx = load_system("dgx-h100")
    assert dgx.nodes == 1 and dgx.num_devices == 8 and dgx.device is load_device("h100")
    # the system's own NVSwitch link: the device's NVLink rate plus the fabric (switch, NVLS)
    assert dgx.intra_node_link.bandwidth_bytes_per_s == dgx.device.intra_node_link.bandwidth_bytes_per_s
    assert dgx.intra_node_link.topology == "switch" and dgx.intra_node_link.nvls_efficiency == 0.85
    assert dgx.inter_node_link.bandwidth_bytes_per_s == 50e9
    big = dgx.scaled(16)
    assert big.num_devices == 128 and dgx.nodes == 1
    assert dgx.for_devices(64).nodes == 8
    part = dgx.for_devices(4)
    assert part.nodes == 1 and part.num_devices == 4
    with pytest.raises(HardwareError, match="12 devices cannot be formed from whole nodes of 8"):
        dgx.for_devices(12)
    with pytest.raises(HardwareError, match="integer >= 1"):
        dgx.scaled(0)
    with pytest.raises(HardwareError, match="integer >= 1"):
        dgx.for_devices(0)
    frontier = load_system("frontier")
    assert frontier.device.name == "MI250X-GCD" and frontier.num_devices == 8
    phone = load_system("phone")
    assert phone.num_devices == 1 and phone.inter_node_link is None
    with pytest.raises(HardwareError, match="no inter-node link"):
        phone.scaled(2)
    assert load_system("tpu-v5p-slice").scaled(16).num_devices == 64


def test_devices_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        load_device("h100").tdp_w = 1.0  # type: ignore[misc]


# --- validation: one line naming the file and field ---------------------------------------------


@pytest.mark.parametrize(
    "old, new, field",
    [
        ("bandwidth_bytes_per_s = 1e12", "bandwidth_bytes_per_s = -1e12", "memory[0].bandwidth_bytes_per_s"),
        ("capacity_bytes = 32e9", "capacity_bytes = 0", "memory[0].capacity_bytes"),
        (
            'bf16 = { value = 100e12, source = "my datasheet p. 2" }',
            'bf16 = { value = -1.0, source = "x" }',
            "peak_flops_per_s.bf16.value",
        ),
        (
            'bf16 = { value = 100e12, source = "my datasheet p. 2" }',
            "bf16 = { value = 100e12 }",
            "peak_flops_per_s.bf16.source",
        ),
        ('source = "my datasheet p. 3"', "", "memory[0].source"),
        ("compute = 0.7", "compute = 1.2", "efficiency.compute"),
        ("compute = 0.7", "compute = 0.0", "efficiency.compute"),
        ('vendor = "Me"', 'vendor = "Me"\ncolour = "red"', "colour"),
        ('kind = "gpu"', 'kind = "fpga"', "kind"),
        ('name = "hbm"', 'name = "flash"', "memory[0].name"),
        ("bf16 = { value", "bf17 = { value", "peak_flops_per_s.bf17"),
    ],
)
def test_bad_device_file_gives_one_line_error(tmp_path, old, new, field):
    assert old in GOOD_DEVICE
    path = write(tmp_path, GOOD_DEVICE.replace(old, new, 1))
    with pytest.raises(HardwareError) as err:
        load_device(path)
    msg = str(err.value)
    assert "\n" not in msg
    assert str(path) in msg and f"'{field}'" in msg


def test_missing_efficiency_and_tdp(tmp_path):
    text = GOOD_DEVICE.split("[efficiency]")[0]
    with pytest.raises(HardwareError, match="field 'efficiency'"):
        load_device(write(tmp_path, text))
    with pytest.raises(HardwareError, match="field 'tdp_w'"):
        load_device(
            write(
                tmp_path,
                GOOD_DEVICE.replace('tdp_w = { value = 300, source = "my datasheet p. 1" }', ""),
                "b.toml",
            )
        )


def test_malformed_toml_names_file_and_line(tmp_path):
    path = write(tmp_path, 'name = "x"\nvendor = \n')
    with pytest.raises(HardwareError) as err:
        load_device(path)
    msg = str(err.value)
    assert str(path) in msg and "malformed TOML" in msg and "line 2" in msg and "\n" not in msg


def test_system_with_unknown_device(tmp_path):
    text = """
name = "my-box"
device = "h1000"
devices_per_node = { value = 4, source = "my rack" }
topology = "ring"
[inter_node_link]
name = "eth"
bandwidth_bytes_per_s = 12.5e9
latency_s = 1e-5
source = "my NIC"
"""
    path = write(tmp_path, text, "sys.toml")
    with pytest.raises(HardwareError) as err:
        load_system(path)
    msg = str(err.value)
    assert (
        str(path) in msg and "field 'device'" in msg and "unknown device 'h1000'" in msg and "\n" not in msg
    )


def test_user_system_on_user_device(tmp_path):
    dev_path = write(tmp_path, GOOD_DEVICE)
    text = f"""
name = "my-box"
device = "{dev_path}"
devices_per_node = {{ value = 4, source = "my rack" }}
topology = "ring"
[intra_node_link]
name = "pcie"
bandwidth_bytes_per_s = 32e9
latency_s = 2e-6
source = "PCIe 4 x16"
[inter_node_link]
name = "eth"
bandwidth_bytes_per_s = 12.5e9
latency_s = 1e-5
source = "my NIC"
"""
    sys_ = load_system(write(tmp_path, text, "sys.toml"))
    assert sys_.device.name == "My-Accel" and sys_.scaled(2).num_devices == 8


# --- per-kernel-class efficiency overrides -------------------------------------------------------

CLASS_TABLES = """
[efficiency.classes.elementwise]
memory = 0.4
kernel_overhead_s = 2e-5

[efficiency.classes.collective]
link = 0.6
"""


def test_efficiency_class_overrides_parse_and_fall_back(tmp_path):
    dev = load_device(write(tmp_path, GOOD_DEVICE + CLASS_TABLES, "classes.toml"))
    eff = dev.efficiency
    assert eff.classes == {"elementwise": {"memory": 0.4, "kernel_overhead_s": 2e-5}, "collective": {"link": 0.6}}
    assert eff.for_class("elementwise") == {"compute": 0.7, "memory": 0.4, "link": 0.8, "compute_half_flop": 0.0,
                                            "memory_half_bytes": 1e6, "kernel_overhead_s": 2e-5}
    assert eff.for_class("gemm")["memory"] == 0.8 and eff.for_class("collective")["link"] == 0.6
    assert load_device(write(tmp_path, GOOD_DEVICE)).efficiency.classes == {}
    from hardware_db.export import device_to_dict

    assert device_to_dict(dev)["efficiency"]["classes"]["collective"] == {"link": 0.6}
    with pytest.raises(HardwareError, match="unknown kernel class"):
        Efficiency(0.5, 0.6, 0.7, 1e9, 1e6, 1e-5, source="x", classes={"norm": {"memory": 0.5}})
    with pytest.raises(HardwareError, match=r"classes.gemm.memory = 2; allowed: a number in \(0, 1\]"):
        Efficiency(0.5, 0.6, 0.7, 1e9, 1e6, 1e-5, source="x", classes={"gemm": {"memory": 2}})


@pytest.mark.parametrize(
    "old, new, field",
    [
        ("memory = 0.4", "memory = 1.4", "efficiency.classes.elementwise.memory"),
        ("kernel_overhead_s = 2e-5", "kernel_overhead_s = -1", "efficiency.classes.elementwise.kernel_overhead_s"),
        ("[efficiency.classes.elementwise]", "[efficiency.classes.vector]", "efficiency.classes.vector"),
        ("link = 0.6", "memory = 0.6", "efficiency.classes.collective.memory"),
        ("memory = 0.4", 'memory = "fast"', "efficiency.classes.elementwise.memory"),
    ],
)
def test_bad_class_override_gives_one_line_error(tmp_path, old, new, field):
    text = (GOOD_DEVICE + CLASS_TABLES).replace(old, new, 1)
    path = write(tmp_path, text, "bad-classes.toml")
    with pytest.raises(HardwareError) as err:
        load_device(path)
    msg = str(err.value)
    assert "\n" not in msg and str(path) in msg and f"'{field}'" in msg, msg


def test_class_overrides_reach_only_their_operators(tmp_path):
    import numpy as np

    from simulator import ops as O
    from simulator.hw import HW_CLASSES, build_hw
    from simulator.models import load_model
    from simulator.serving import op_times_s

    assert set(O.OP_EFF_CLASS) == set(O.OP_KINDS) and set(O.OP_EFF_CLASS.values()) <= {*HW_CLASSES, "collective"}
    base = load_device(write(tmp_path, GOOD_DEVICE))
    slow = load_device(write(tmp_path, GOOD_DEVICE + CLASS_TABLES, "classes.toml"))
    hb, hs = build_hw(base, "bf16"), build_hw(slow, "bf16")
    assert np.all(np.asarray(hb.class_memory_eff) == float(hb.memory_eff))  # defaults = device-wide
    assert float(hs.link_eff) == pytest.approx(0.6) and float(hb.link_eff) == pytest.approx(0.8)
    # what-if replace of a device-wide field still reaches the classes that inherit it
    assert np.allclose(hb.replace(memory_eff=0.5).class_memory_eff, 0.5)
    assert np.allclose(hs.replace(memory_eff=0.5).class_memory_eff, [0.5, 0.5, 0.4])
    model = load_model("llama-2-7b")
    ops = O.forward_ops(model, 64, O.attention_work(1, 64, 512), 1, O.Precision(2.0, 2.0, 2.0))
    tb, ts = op_times_s(ops, hb), op_times_s(ops, hs)
    for name in ops:
        a, b = float(tb[name]), float(ts[name])
        if O.OP_EFF_CLASS[name] == "elementwise" and a > 0:
            assert b > a, name
        elif O.OP_EFF_CLASS[name] in ("gemm", "attention"):
            assert b == a, name


# --- link fabric (topology, links per device, NVLink SHARP) ------------------------------------------

def test_link_fabric_fields_parse_default_and_validate(tmp_path):
    mesh = load_system("mi300x-platform").intra_node_link
    assert (mesh.topology, mesh.links_per_device, mesh.nvls_efficiency) == ("full_mesh", 7, 0.0)
    assert load_system("tpu-v5p-slice").intra_node_link.topology == "torus"
    assert load_system("dgx-a100").intra_node_link.nvls_efficiency == 0.0
    assert load_system("dgx-b200").intra_node_link.nvls_efficiency == 0.74
    # older files: defaults
    plain = load_device("h100").intra_node_link
    assert (plain.topology, plain.links_per_device, plain.nvls_efficiency) == ("switch", 1, 0.0)
    link = ('\n[intra_node_link]\nname = "x"\nbandwidth_bytes_per_s = 64e9\nlatency_s = 1e-6\nsource = "s"\n'
            '{extra}\n')
    ok = load_device(write(tmp_path, GOOD_DEVICE + link.format(extra='topology = "full_mesh"\nlinks_per_device = 7'),
                           "mesh.toml")).intra_node_link
    assert (ok.topology, ok.links_per_device) == ("full_mesh", 7)
    with pytest.raises(HardwareError, match="topology.*allowed: switch, full_mesh, torus"):
        load_device(write(tmp_path, GOOD_DEVICE + link.format(extra='topology = "ring"'), "badtopo.toml"))
    with pytest.raises(HardwareError, match="links_per_device.*allowed: an integer >= 1"):
        load_device(write(tmp_path, GOOD_DEVICE + link.format(extra="links_per_device = 0"), "badlinks.toml"))
    with pytest.raises(HardwareError, match="nvls_efficiency"):
        load_device(write(tmp_path, GOOD_DEVICE + link.format(extra="nvls_efficiency = 1.5"), "badnvls.toml"))
    with pytest.raises(HardwareError, match="efficiency.*allowed: a number in"):
        load_device(write(tmp_path, GOOD_DEVICE + link.format(extra="efficiency = 1.5"), "badeff.toml"))
    nic = load_system("dgx-h100").inter_node_link
    assert nic.efficiency == 0.94 and load_system("dgx-a100").inter_node_link.efficiency == 0.0
    # measured NVLS start-up (nccl-tests), NVSwitch gen3 only; 0 = NCCL's tuner value
    assert load_system("dgx-h100").intra_node_link.nvls_latency_s == pytest.approx(78e-6)
    assert load_system("dgx-b200").intra_node_link.nvls_latency_s == 0.0 and plain.nvls_latency_s == 0.0
    for bad in ("nvls_latency_s = -1e-6", "nvls_latency_s = 0.5"):
        with pytest.raises(HardwareError, match="nvls_latency_s.*(allowed|must be > 0)"):
            load_device(write(tmp_path, GOOD_DEVICE + link.format(extra=bad), "badnvlslat.toml"))


# --- low-precision GEMM efficiency ratios ------------------------------------------------------

LOWP_TABLE = """
[efficiency.lowp_gemm]
fp8 = 0.9
source = "my FP8 matmul sweep"
"""


def test_lowp_gemm_ratio_parses_exports_and_reaches_the_cost_model(tmp_path):
    from hardware_db.export import device_to_dict

    dev = load_device(write(tmp_path, GOOD_DEVICE + LOWP_TABLE, "lowp.toml"))
    assert dev.efficiency.lowp_gemm == {"fp8": 0.9} and dev.efficiency.lowp_source == "my FP8 matmul sweep"
    assert device_to_dict(dev)["efficiency"]["lowp_gemm"] == {"fp8": 0.9, "source": "my FP8 matmul sweep"}
    assert load_device(write(tmp_path, GOOD_DEVICE)).efficiency.lowp_gemm == {}


@pytest.mark.parametrize(
    "old, new, needle",
    [
        ("fp8 = 0.9", "fp8 = 2.5", "efficiency.lowp_gemm.fp8"),
        ("fp8 = 0.9", "fp9 = 0.9", "efficiency.lowp_gemm.fp9"),
        ("fp8 = 0.9", 'fp8 = "fast"', "efficiency.lowp_gemm.fp8"),
        ('source = "my FP8 matmul sweep"\n', "", "missing source"),
    ],
)
def test_bad_lowp_gemm_gives_one_line_error(tmp_path, old, new, needle):
    path = write(tmp_path, (GOOD_DEVICE + LOWP_TABLE).replace(old, new, 1), "bad-lowp.toml")
    with pytest.raises(HardwareError) as err:
        load_device(path)
    msg = str(err.value)
    assert "\n" not in msg and needle in msg, msg


# --- multi-site systems ------------------------------------------------------------------------

def test_multi_site_table_parses_and_bad_values_give_one_line_errors(tmp_path):
    from hardware_db.export import system_to_dict

    sys_ = load_system("h100-two-site")
    assert sys_.sites == 2 and sys_.wan_link.bandwidth_bytes_per_s == 50e9 and sys_.wan_link.latency_s == 4.9e-3
    assert system_to_dict(sys_)["sites"] == 2 and load_system("dgx-h100").wan_link is None
    text = open(sys_.path).read()
    for old, new, needle in [("count = 2", "count = 1", "sites.count"),
                             ("count = 2", 'count = "two"', "sites.count"),
                             ("\n[sites.wan_link]", "\n[sites.wan]", "sites.wan"),
                             ("latency_s = 4.9e-3", "latency_s = -1", "sites.wan_link.latency_s")]:
        path = tmp_path / "bad-sites.toml"
        path.write_text(text.replace(old, new, 1))
        with pytest.raises(HardwareError) as err:
            load_system(str(path))
        assert "\n" not in str(err.value) and needle in str(err.value), (old, str(err.value))
