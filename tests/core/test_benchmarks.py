"""The speed harness runs end to end at CI size and its figures are self-consistent.

No test asserts a time: speed is reported by benchmarks/, side by side with a baseline.
What is checked: the reference-style loop computes the same surface as LossViz, the data
both sides see is the same, FLOP counts match closed forms, and the reports agree with
the raw numbers they summarize.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # benchmarks/ is a folder of the repository, not an installed package
    sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

from benchmarks import cases as cs  # noqa: E402
from benchmarks.flops import forward_flops_per_sample, peak_tflops, tflops  # noqa: E402
from benchmarks.reference_loop import (  # noqa: E402
    CIFAR_NORM,
    ImageDataset,
    ReferenceSurface,
    cifar_like,
    digits_raw,
    eval_transform,
    normalized_split,
    reference_train_epoch,
)
from benchmarks.report import markdown  # noqa: E402
from lossviz_core.data import load_dataset  # noqa: E402
from lossviz_core.models import build_model  # noqa: E402
from lossviz_core.recipe.spec import DatasetSpec  # noqa: E402

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def smoke(tmp_path_factory) -> tuple[dict, str]:
    """One run of the CI-sized suite, as a user types it."""
    out = tmp_path_factory.mktemp("bench") / "smoke.json"
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--suite", "smoke", "--n-images", "64",
         "--out", str(out)], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(out.read_text()), out.with_suffix(".md").read_text()


def test_smoke_suite_records_environment(smoke):
    data, _ = smoke
    env = data["env"]
    assert env["torch"] == torch.__version__
    assert env["device"] == "cpu" and env["device_name"]
    assert len(env["date"]) >= 10 and env["date"][:2] == "20"
    assert data["suite"] == "smoke" and "--suite smoke" in data["command"]


def test_smoke_reference_and_lossviz_agree(smoke):
    """Same model, data and plane: the reference-style loop and LossViz give one surface."""
    data, _ = smoke
    evals = [c for c in data["cases"] if c["kind"] == "eval"]
    assert [c["model"] for c in evals][1:] == ["resnet20"] and evals[0]["demo"]
    assert evals[1]["images"] == 64
    for c in evals:
        ref, lv = c["reference"], c["lossviz"]["auto"]
        assert ref["points"] == 2 and lv["points"] == 2 and len(ref["point_seconds"]) == 2
        assert ref["seconds_per_point"] == pytest.approx(np.median(ref["point_seconds"]))
        assert len(lv["block_seconds_per_point"]) == 2  # interleaved with the 2 reference points
        assert lv["ratio"] == pytest.approx(ref["seconds_per_point"] / lv["seconds_per_point"])
        assert lv["info"]["precision"] == "fp32"  # CPU default: the two must agree closely
        np.testing.assert_allclose(lv["losses"], ref["losses"], rtol=1e-4)
        assert lv["max_rel_diff_vs_reference"] < 1e-4
        assert lv["tflops"] == pytest.approx(c["flops_per_sample"] * c["images"]
                                             / lv["seconds_per_point"] / 1e12)
        assert lv["peak_fraction"] is None  # no peak is claimed for a CPU
        assert lv["warmup_seconds"] == pytest.approx(lv["setup_seconds"] + lv["first_call_seconds"])
    assert evals[1]["flops_per_sample"] == forward_flops_per_sample(build_model("resnet20"), (3, 32, 32))


def test_smoke_markdown_summarizes_the_json(smoke):
    data, md = smoke
    assert data["env"]["device_name"] in md and data["command"] in md
    row = next(line for line in md.splitlines() if line.startswith("| resnet20 | 64 | auto |"))
    lv = data["cases"][1]["lossviz"]["auto"]
    assert f"{lv['ratio']:.3g}×" in row
    assert "demo model ≥ 3× reference on this CPU" in md


def test_flops_match_closed_forms():
    assert forward_flops_per_sample(nn.Linear(64, 10), (64,)) == 2 * 64 * 10
    # digits_cnn: conv 1→8 at 8×8, conv 8→16 at 4×4 (3×3 kernels), linear 256→10
    expected = 2 * (8 * 1 * 9 * 64 + 16 * 8 * 9 * 16 + 256 * 10)
    assert forward_flops_per_sample(build_model("digits_cnn"), (1, 8, 8)) == expected
    assert tflops(10**12, 3, 1.5) == pytest.approx(2.0)


def test_peak_table():
    assert peak_tflops("NVIDIA H100 80GB HBM3") == 989
    assert peak_tflops("NVIDIA H100 PCIe") == 756
    assert peak_tflops("NVIDIA H200") == 989
    assert peak_tflops("NVIDIA A100-SXM4-80GB") == 312
    assert peak_tflops("AMD EPYC 7B13") is None


def test_digits_reference_data_equals_lossviz_data():
    images, labels, mean, std = digits_raw()
    ours = load_dataset(DatasetSpec("digits"), "cpu").train
    split = normalized_split(images, labels, mean, std)
    np.testing.assert_array_equal(split.y.numpy(), ours.y.numpy())
    torch.testing.assert_close(split.x, ours.x, atol=1e-5, rtol=0)
    # the reference's per-image transform yields the same tensors
    ds = ImageDataset(images, labels, eval_transform(mean, std))
    torch.testing.assert_close(ds[5][0], ours.x[5], atol=1e-5, rtol=0)


def test_cifar_per_image_transform_equals_normalized_split():
    images, labels = cifar_like(4, seed=3)
    assert images.dtype == np.uint8 and images.shape == (4, 32, 32, 3)
    split = normalized_split(images, labels, *CIFAR_NORM)
    ds = ImageDataset(images, labels, eval_transform(*CIFAR_NORM))
    for i in range(4):
        x, y = ds[i]
        torch.testing.assert_close(x, split.x[i], atol=1e-5, rtol=0)
        assert y == labels[i]


def test_reference_point_sets_theta_plus_steps_and_evaluates():
    torch.manual_seed(0)
    net = build_model("digits_mlp").eval()
    theta = [p.detach().clone() for p in net.parameters()]
    d1 = [torch.randn_like(t) for t in theta]
    d2 = [torch.randn_like(t) for t in theta]
    images, labels, mean, std = digits_raw()
    images, labels = images[:40], labels[:40]
    ref = ReferenceSurface(net, d1, d2, images, labels, mean, std, CPU, batch_size=16, workers=0)
    loss, acc = ref.point(0.5, -2.0)
    for p, t, a, b in zip(net.parameters(), theta, d1, d2, strict=True):
        torch.testing.assert_close(p.data, t + 0.5 * a - 2.0 * b)
    x = normalized_split(images, labels, mean, std).x
    with torch.no_grad():
        out = net(x)
    assert loss == pytest.approx(F.cross_entropy(out, torch.from_numpy(labels)).item(), rel=1e-5)
    assert acc == pytest.approx(100.0 * (out.argmax(1).numpy() == labels).mean())


def test_reference_train_epoch_counts_every_image():
    images, labels = cifar_like(20, seed=4)
    torch.manual_seed(0)
    r = reference_train_epoch(build_model("resnet20"), images, labels, *CIFAR_NORM, CPU,
                              batch_size=8, workers=0)
    assert r["images"] == 20 and np.isfinite(r["loss"]) and 0 <= r["acc"] <= 100


def test_e2e_demo_case_runs_the_cli(tmp_path):
    case = cs.e2e_demo_case(4, "cpu")
    assert case["seconds"] is not None, case["failures"]
    assert case["points_done"] == 16 and case["points_finite"] == 16
    assert case["command"].startswith("lossviz") and "--x=-1:1:4" in case["command"]


def test_markdown_flags_missed_gpu_targets():
    env = {"device": "cuda", "device_name": "NVIDIA H200", "date": "2025-01-01", "torch": "x",
           "python": "3", "cpu_count": 16, "cpu_threads": 16, "bf16_peak_tflops": 989.0}
    row = {"seconds_per_point": 0.2, "points": 10, "ratio": 23.5, "warmup_seconds": 5.0,
           "tflops": 63.0, "peak_fraction": 63 / 989, "info": {"mode": "single"}}
    data = {"suite": "gpu", "command": "c", "env": env, "skipped": [], "cases": [
        {"kind": "eval", "model": "resnet56", "images": 50000, "reference": None,
         "lossviz": {"auto": row}},
        {"kind": "estimate", "model": "resnet56", "what": "w", "seconds": 300.0,
         "warmup_seconds": 10.0, "points": 2601, "seconds_per_point": 0.11, "basis": "b"}]}
    md = markdown(data)
    assert "| ResNet-56 ≥ 40× reference | 23.5× | NO |" in md
    assert "| ResNet-56 ≤ 0.11 s/point | 0.2 s | NO |" in md
    assert "| 51×51 ResNet-56 surface ≤ 6 min incl. warm-up | 300 s (b) | yes |" in md


def test_max_rel_diff():
    assert cs.max_rel_diff([1.0, 2.2, np.nan], [1.0, 2.0, 5.0]) == pytest.approx(0.1)
    assert np.isnan(cs.max_rel_diff([np.nan], [1.0]))
