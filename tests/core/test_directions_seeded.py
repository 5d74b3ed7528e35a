"""Seeded directions (``--dir-storage seeded``): d₁, d₂ regenerated block by block from the
seed, θ read back from a file. They equal the stored directions, their plane writes the
stored plane's points, a resumed grid is bit-equal to an uninterrupted one, tied weights
move once, and θ comes from a matching safetensors checkpoint when there is one."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from fakes import TinyNet
from lm_files import GPT2

from lossviz_core.cli import main
from lossviz_core.directions import load_directions, make_directions
from lossviz_core.directions.seeded import SeededDirections, regenerate
from lossviz_core.errors import InputError
from lossviz_core.plane import Plane, SeededPlane, make_plane
from lossviz_core.recipe.spec import DirectionSpec
from lossviz_core.results.store import read_result

LM = Path(__file__).with_name("lm_files.py")
ARGS = ("--model", f"{LM}:gpt2", "--dataset", f"{LM}:tokens", "--loss", f"{LM}:next_token",
        "--x=-1:1:5", "--y=-1:1:3", "--multi", "off")


@pytest.fixture(autouse=True)
def small_blocks(monkeypatch):
    """Blocks of 64 entries: every tensor of these small models spans several."""
    monkeypatch.setattr("lossviz_core.directions.seeded.BLOCK", 64)


def tiny() -> TinyNet:
    torch.manual_seed(0)
    return TinyNet()


def spec(storage: str, norm="filter", ignore="biasbn", dir_type="weights", **params):
    return DirectionSpec(xnorm=norm, ynorm=norm, xignore=ignore, yignore=ignore,
                         dir_type=dir_type, seed=5, params={"dir_storage": storage, **params})


def both(make, **kw):
    """(stored, seeded) directions of two equal models made by ``make``."""
    m1, m2 = make(), make()
    return (m1, make_directions(m1, spec("stored", **kw), True),
            m2, make_directions(m2, spec("seeded", **kw), True))


@pytest.mark.parametrize("make", [tiny, GPT2], ids=["cnn", "gpt2"])
@pytest.mark.parametrize("norm", ["filter", "layer", "dfilter", "dlayer", "weight", "none"])
@pytest.mark.parametrize("ignore", ["biasbn", "none"])
def test_seeded_directions_equal_stored_ones(make, norm, ignore):
    _, st, _, se = both(make, norm=norm, ignore=ignore)
    assert isinstance(se, SeededDirections) and not isinstance(st, SeededDirections)
    for d_st, d_se in ((st.x, se.x), (st.y, se.y)):
        assert len(d_st) == len(d_se)
        for a, b in zip(d_st, d_se, strict=True):
            if make is tiny and norm in ("filter", "dfilter", "weight", "none"):
                assert torch.equal(a, b)  # per-row rules: bit for bit
            else:  # a whole tensor's or a column's norm summed by blocks: fp32 rounding
                torch.testing.assert_close(a, b, rtol=2e-6, atol=2e-7)
    for key in ("x_norm", "y_norm", "cosine"):
        assert se.info[key] == pytest.approx(st.info[key], rel=1e-6, abs=1e-7)
    assert se.info["storage"] == "seeded"


@pytest.mark.parametrize("threads", [1, 3])
@pytest.mark.parametrize("dir_type, norm, ignore", [("weights", "filter", "biasbn"),
                                                    ("states", "weight", "none")])
def test_the_seeded_plane_writes_the_stored_planes_points(threads, dir_type, norm, ignore):
    m1, st, m2, se = both(GPT2, dir_type=dir_type, norm=norm, ignore=ignore)
    stored, seeded = Plane(m1, st), SeededPlane(m2, se, threads=threads)
    theta = {k: v.clone() for k, v in m2.state_dict().items()}
    fixed = {n for n, p in m2.named_parameters() if p.dim() <= 1} if ignore == "biasbn" else set()
    for a, b in ((0.5, -0.25), (0.0, 1.0), (1.0, 0.0), (-1.0, -1.0), (0.3, 0.7)):
        stored.write(a, b)
        seeded.write(a, b)
        for k, v in m2.state_dict().items():
            torch.testing.assert_close(v, m1.state_dict()[k], rtol=1e-6, atol=1e-7)
            if k in fixed:
                assert torch.equal(v, theta[k]), k  # never written
    seeded.restore()
    for k, v in m2.state_dict().items():
        assert torch.equal(v, theta[k]), k  # θ back bit for bit
    seeded.close()


def test_tied_weights_move_once():
    for storage in ("stored", "seeded"):
        for dir_type in ("weights", "states"):
            model = GPT2()
            wte, head = model.lm.transformer.wte.weight, model.lm.lm_head.weight
            assert wte.data_ptr() == head.data_ptr()  # one tensor, two names in the state
            theta = wte.detach().clone()
            dirs = make_directions(model, spec(storage, dir_type=dir_type), True)
            plane = make_plane(model, dirs)
            assert sum(n.endswith(("wte.weight", "lm_head.weight")) for n in plane.names) == 1
            i = [n for n, _ in (model.named_parameters() if dir_type == "weights" else
                                model.state_dict().items())].index("lm.transformer.wte.weight")
            plane.write(0.75, -0.5)
            want = theta + 0.75 * dirs.x[i] - 0.5 * dirs.y[i]
            torch.testing.assert_close(wte.detach(), want, rtol=1e-6, atol=1e-7)
            plane.restore()
            assert torch.equal(wte.detach(), theta)


def test_a_bf16_model_gets_each_point_rounded_once():
    model = GPT2().to(torch.bfloat16)
    dirs = make_directions(model, spec("seeded"), True)
    plane = SeededPlane(model, dirs)
    theta = {n: p.detach().clone() for n, p in model.named_parameters()}
    plane.write(0.5, 0.25)
    for i, (n, p) in enumerate(model.named_parameters()):
        # θ + a·d₁ + b·d₂ in float32 (the directions drawn in float32), rounded to bf16 once
        exact = (theta[n].float() + 0.5 * regenerate(dirs.seeds_x[i], theta[n])
                 + 0.25 * regenerate(dirs.seeds_y[i], theta[n])).to(torch.bfloat16)
        assert torch.equal(p.detach(), exact), n
    plane.restore()
    assert all(torch.equal(p, theta[n]) for n, p in model.named_parameters())


def test_theta_from_a_matching_safetensors_checkpoint(tmp_path):
    from safetensors.torch import save_file

    model = tiny()
    good, other = tmp_path / "good.safetensors", tmp_path / "other.safetensors"
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    save_file(state, good)
    save_file({**state, "fc.weight": state["fc.weight"] + 1e-3}, other)
    dirs = make_directions(model, spec("seeded"), True)
    assert make_plane(model, dirs, good).theta_file.source == f"checkpoint {good}"
    plane = make_plane(model, dirs, other)  # its values are not θ: a temporary file instead
    assert plane.theta_file.source == "temporary file"
    theta = model.fc.weight.detach().clone()
    plane.write(1.0, 1.0)
    plane.restore()
    assert torch.equal(model.fc.weight.detach(), theta)


def test_seeded_directions_travel_as_seeds():
    """What a cluster ships: the seeds, not the tensors; a worker's plane writes the same."""
    m1, _, m2, se = both(GPT2)
    shipped = pickle.loads(pickle.dumps(se))
    # one generator state (5 KB) per block, a scale per output unit: nothing weight-sized
    states = sum(len(t.states) for seeds in (se.seeds_x, se.seeds_y) for t in seeds)
    units = sum(t.scale.numel() for seeds in (se.seeds_x, se.seeds_y) for t in seeds
                if t.scale is not None)
    assert states > 20 and len(pickle.dumps(se)) < states * 5300 + units * 8 + 30_000
    SeededPlane(m1, shipped).write(0.5, 0.5)
    SeededPlane(m2, se).write(0.5, 0.5)
    for a, b in zip(m1.state_dict().values(), m2.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_seeded_planes_refuse_what_needs_whole_directions():
    model = tiny()
    plane = make_plane(model, make_directions(model, spec("seeded"), True))
    with pytest.raises(InputError, match="one point at a time"):
        plane.stacked(torch.zeros(2), torch.zeros(2))
    with pytest.raises(InputError, match="--dir-storage stored"):
        plane.load_state(model.state_dict())


def test_seeded_surface_equals_stored_and_saved_directions(tmp_path, capsys):
    seeded, stored, saved = (tmp_path / f"{n}.h5" for n in ("seeded", "stored", "file"))
    dir_file = tmp_path / "dirs.h5"
    assert main(["surface", *ARGS, "--dir-storage", "seeded", "--save-directions",
                 str(dir_file), "--out", str(seeded)]) == 0, capsys.readouterr().err
    assert main(["surface", *ARGS, "--out", str(stored)]) == 0
    assert main(["surface", *ARGS, "--directions", str(dir_file), "--out", str(saved)]) == 0
    z = {p.stem: read_result(p).values["train_loss"] for p in (seeded, stored, saved)}
    np.testing.assert_allclose(z["seeded"], z["stored"], rtol=1e-6)
    np.testing.assert_allclose(z["seeded"], z["file"], rtol=1e-6)
    assert np.ptp(z["seeded"]) > 1e-3  # a surface, not a constant
    r = read_result(seeded)
    assert r.recipe.directions.param("dir_storage") == "seeded"
    # the seeded and the stored grids are one landscape, computed two ways
    assert r.recipe.landscape_key() == read_result(stored).recipe.landscape_key()
    assert r.recipe.workspace_key() != read_result(stored).recipe.workspace_key()
    model = GPT2()
    written = load_directions(dir_file, model)
    stored_dirs = make_directions(model, spec("stored").replace(seed=0), True)
    for a, b in zip(written.x, stored_dirs.x, strict=True):
        torch.testing.assert_close(a, b, rtol=2e-6, atol=2e-7)


def test_a_seeded_grid_resumes_bit_equal(tmp_path, capsys, monkeypatch, cut_after_one_chunk):
    monkeypatch.setattr("lossviz_core.evaluation.evaluate.CHUNK_SECONDS", 1e-9)  # 1 point
    out, full = tmp_path / "cut.h5", tmp_path / "full.h5"
    cut_after_one_chunk()
    assert main(["surface", *ARGS, "--dir-storage", "seeded", "--out", str(out)]) == 130
    assert 0 < read_result(out).done.sum() < 15
    monkeypatch.undo()
    assert main(["surface", "--resume", "--allow-code", "--out", str(out)]) == 0, \
        capsys.readouterr().err
    assert main(["surface", *ARGS, "--dir-storage", "seeded", "--out", str(full)]) == 0
    np.testing.assert_array_equal(read_result(out).values["train_loss"],
                                  read_result(full).values["train_loss"])
    code = main(["surface", *ARGS[:-2], "--multi", "on", "--dir-storage", "seeded",
                 "--out", str(tmp_path / "multi.h5")])
    assert code == 2 and "one point at a time" in capsys.readouterr().err


def test_curvature_at_a_point_of_a_seeded_plane_equals_the_stored_ones():
    """Hessian work asks a plane for whole tensors (θ, d₁, d₂): a seeded plane makes them."""
    from lossviz_core.curvature.report import CurvatureOptions
    from lossviz_core.progress import drain
    from lossviz_core.resolve import resolve
    from lossviz_core.run.at_point import iter_curvature

    options = CurvatureOptions(k=1, per_layer=False, trace_hvps=3, density_steps=8)
    reports = [drain(iter_curvature(resolve({"demo": True, "dir_storage": storage}), options,
                                    at=(0.5, -0.25), subsample=16))
               for storage in ("stored", "seeded")]
    stored, seeded = reports
    assert seeded["eigenvalues"] == pytest.approx(stored["eigenvalues"], rel=1e-5)
    assert seeded["trace"] == pytest.approx(stored["trace"], rel=1e-5)


def test_a_seeded_surface_never_makes_a_whole_tensor(tmp_path, capsys, monkeypatch):
    """Nothing on the way to a grid (the loss measure's running-variance record included)
    asks a seeded plane for whole θ, d₁ or d₂ tensors of a model without BatchNorm: each
    would cost a tensor's size again (the largest, the embedding, 1.5× at once)."""
    made = []
    for name in ("_direction", "_theta_whole"):
        real = getattr(SeededPlane, name)
        monkeypatch.setattr(SeededPlane, name,
                            lambda self, *a, _real=real, _n=name: made.append(_n)
                            or _real(self, *a))
    out = tmp_path / "seeded.h5"
    assert main(["surface", *ARGS, "--dir-storage", "seeded", "--out", str(out)]) == 0, (
        capsys.readouterr().err)
    assert made == []
    assert np.isfinite(read_result(out).values["train_loss"]).all()
