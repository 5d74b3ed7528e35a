"""Directions for transformers: per-unit normalization of embeddings, linear layers and
attention projections (transformers' transposed Conv1D too), biases and norm layers left
at θ, and ``--only`` / ``--exclude`` restricting a plane to some parameters by name."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from lm_files import GPT2, TinyTransformer, next_token, tokens

from lossviz_core.cli import main
from lossviz_core.directions import make_directions, random_direction, weights_of
from lossviz_core.directions.select import Selection, parameter_tree
from lossviz_core.errors import InputError
from lossviz_core.export.titles import recipe_title
from lossviz_core.progress import drain
from lossviz_core.recipe.spec import DirectionSpec, Recipe
from lossviz_core.resolve import resolve
from lossviz_core.results.store import read_result
from lossviz_core.run.job import prepare

LM = Path(__file__).with_name("lm_files.py")
ARGS = ("--model", f"{LM}:gpt2", "--dataset", f"{LM}:tokens", "--loss", f"{LM}:next_token")


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def unit_norms(t: torch.Tensor, axis: int) -> torch.Tensor:
    t = t.transpose(0, axis) if axis else t
    return t.reshape(t.shape[0], -1).norm(dim=1)


def test_filter_normalization_per_output_unit_in_a_gpt2():
    model = GPT2()
    named = dict(model.named_parameters())
    d = dict(zip(named, random_direction(model, "weights", "filter", "biasbn", gen(1)),
                 strict=True))
    c_attn = model.lm.transformer.h[0].attn.c_attn
    assert type(c_attn).__name__ == "Conv1D" and c_attn.weight.shape == (16, 48)  # (in, out)
    for name, w in named.items():
        if w.dim() <= 1:  # biases, LayerNorm weights and biases: left at θ
            assert not d[name].any(), name
            continue
        axis = 1 if name.endswith(("c_attn.weight", "c_proj.weight", "c_fc.weight")) else 0
        # every output unit (a token's embedding row, a projection's output column) has θ's norm
        torch.testing.assert_close(unit_norms(d[name], axis), unit_norms(w, axis), rtol=1e-5,
                                   atol=0)
        if axis:  # the input rows do not: the rule is per output unit, not per stored row
            assert not torch.allclose(unit_norms(d[name], 0), unit_norms(w, 0), rtol=1e-2)


def test_filter_normalization_in_plain_pytorch_attention():
    model = TinyTransformer()
    names = [n for n, _ in model.named_parameters()]
    assert "block.self_attn.in_proj_weight" in names  # q, k, v projections stacked as rows
    d = random_direction(model, "weights", "filter", "biasnorm", gen(2))
    for name, di, w in zip(names, d, weights_of(model), strict=True):
        if w.dim() <= 1:  # in_proj_bias, LayerNorms norm1/norm2, biases
            assert not di.any(), name
        else:  # embedding rows, in_proj rows, out_proj / linear1 / linear2 / head rows
            torch.testing.assert_close(unit_norms(di, 0), unit_norms(w, 0), rtol=1e-5, atol=0)


def test_biasnorm_is_biasbn_and_layer_norm_is_per_tensor():
    assert DirectionSpec(xignore="biasnorm", yignore="biasnorm").xignore == "biasbn"
    r = resolve({"model": f"{LM}:gpt2", "dataset": f"{LM}:tokens", "xignore": "biasnorm"})
    assert (r.directions.xignore, r.directions.yignore) == ("biasbn", "biasbn")
    model = TinyTransformer()
    d = random_direction(model, "weights", "layer", "biasbn", gen(3))
    for di, w in zip(d, weights_of(model), strict=True):
        if w.dim() > 1:
            assert float(di.norm()) == pytest.approx(float(w.norm()), rel=1e-5)


def test_parameter_tree_lists_modules_and_counts_tied_weights_once():
    model = GPT2()
    tree = parameter_tree(model)
    assert tree.numel == sum(p.numel() for p in model.parameters())  # tied wte/lm_head once
    h1 = tree.find("lm.transformer.h.1")
    assert h1.glob == "lm.transformer.h.1" and [c.name for c in h1.children] == [
        "ln_1", "attn", "ln_2", "mlp"]
    assert h1.numel == sum(p.numel() for p in model.lm.transformer.h[1].parameters())
    assert tree.find("lm.transformer.wte.weight").shape == (61, 16)
    states = parameter_tree(model, "states")  # both names of the tied tensor, counted once
    assert states.find("lm.lm_head.weight").numel == 0
    assert "h  " in "\n".join(tree.lines(2))


def test_selection_by_globs_and_modules():
    model = GPT2()
    names = [n for n, _ in model.named_parameters()]

    def chosen(only=(), exclude=()):
        return {n for n, k in zip(names, Selection(only, exclude).chosen(model), strict=True)
                if k}

    block1 = {n for n in names if n.startswith("lm.transformer.h.1.")}
    assert chosen(("lm.transformer.h.1.*",)) == block1 == chosen(("lm.transformer.h.1",))
    assert chosen(("*.attn.*",)) == {n for n in names if ".attn." in n}
    assert chosen(exclude=("lm.transformer.h.1",)) == set(names) - block1
    with pytest.raises(InputError, match=r"'lm.transformer.h.7' .*lm.transformer.h holds 0, 1"):
        Selection(("lm.transformer.h.7",)).chosen(model)
    with pytest.raises(InputError, match="leaves no parameter"):
        Selection(("lm.transformer.h.1",), ("lm.transformer",)).chosen(model)
    with pytest.raises(InputError, match="only biases and norm layers"):
        make_directions(model, DirectionSpec(params={"only": "*.ln_1"}), True)
    only_norms = make_directions(model, DirectionSpec(xignore="none", yignore="none",
                                                      params={"only": "*.ln_1"}), True)
    for (n, p), d in zip(model.named_parameters(), only_norms.x, strict=True):
        assert torch.equal(d, p.detach()) if ".ln_1." in n else not d.any(), n
    # tied tensors move together: naming the output embedding chooses the input one
    states = [n for n in model.state_dict()]
    keep = Selection(("lm.lm_head",)).chosen(model, "states")
    assert {n for n, k in zip(states, keep, strict=True) if k} == {
        "lm.transformer.wte.weight", "lm.lm_head.weight"}


def _plain_loss(model, dirs, a: float, b: float) -> float:
    """L(θ + a·d₁ + b·d₂) by plain PyTorch on the train tokens."""
    ids, _ = tokens("train")
    with torch.no_grad():
        state = {n: p + a * dx + b * dy for (n, p), dx, dy in
                 zip(model.named_parameters(), dirs.x, dirs.y, strict=True)}
        out = torch.func.functional_call(model, state, (ids.float(),))
        return float(next_token(out, ids))


def test_only_one_block_moves_the_rest_stays_bit_identical(tmp_path):
    """--only 'lm.transformer.h.1.*': at every grid point every other parameter is θ's bit for
    bit (checked by a forward hook), block 1 moves, and the surface differs from the whole
    model's."""
    choices = {"model": f"{LM}:gpt2", "dataset": f"{LM}:tokens", "loss": f"{LM}:next_token",
               "x": "-1:1:3", "y": "-1:1:3", "multi": "off"}
    job = prepare(resolve({**choices, "only": "lm.transformer.h.1.*"}))
    model = job.model
    theta = {n: p.detach().clone() for n, p in model.named_parameters()}
    seen = {"forwards": 0, "moved": set()}

    def check(module, args):
        seen["forwards"] += 1
        for n, p in module.named_parameters():
            if n.startswith("lm.transformer.h.1."):
                if not torch.equal(p, theta[n]):
                    seen["moved"].add(n)
            else:
                assert torch.equal(p, theta[n]), n  # bit-identical, not merely close

    hook = model.register_forward_pre_hook(check)
    result = drain(job.iter(out=tmp_path / "only.h5"))
    hook.remove()
    assert seen["forwards"] >= 9
    assert seen["moved"] == {n for n in theta if n.startswith("lm.transformer.h.1.") and
                             theta[n].dim() > 1}  # its LayerNorms and biases: biasbn
    whole = drain(prepare(resolve(choices)).iter(out=tmp_path / "whole.h5"))
    only, full = result.values["train_loss"], whole.values["train_loss"]
    assert only[1, 1] == full[1, 1]  # the same θ
    assert np.abs(only - full).max() > 1e-3
    # a corner against plain PyTorch, with the restricted directions
    dirs = job.directions
    assert dirs.info["only"] == ["lm.transformer.h.1.*"]
    assert only[0, 2] == pytest.approx(_plain_loss(GPT2(), dirs, 1.0, -1.0), rel=1e-5)


def test_only_is_recorded_titled_and_read_back(tmp_path, capsys):
    out = tmp_path / "attn.h5"
    assert main(["surface", *ARGS, "--x=-1:1:3", "--y=-1:1:3", "--only", "*.attn.*",
                 "--exclude", "lm.transformer.h.0", "--out", str(out)]) == 0, \
        capsys.readouterr().err
    r = read_result(out)
    assert r.recipe.directions.params == {"only": "*.attn.*", "exclude": "lm.transformer.h.0"}
    title = recipe_title(r)
    assert "only *.attn.*" in title and "without lm.transformer.h.0" in title
    # an older file has neither: it reads as every parameter
    old = Recipe.from_dict({**r.recipe.to_dict(), "directions": {"method": "random"}})
    assert Selection.of(old.directions).everything
    assert main(["surface", *ARGS, "--x=-1:1:3", "--y=-1:1:3", "--only", "lm.transformer.h.9",
                 "--out", str(tmp_path / "typo.h5")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == ("lossviz: error: --only 'lm.transformer.h.9' matches no parameter of "
                       "the model; lm.transformer.h holds 0, 1")


def test_target_interpolates_only_the_chosen_parameters(tmp_path):
    model_a, model_b = GPT2(0), GPT2(1)
    b_path = tmp_path / "b.pt"
    torch.save(model_b.state_dict(), b_path)
    spec = DirectionSpec(method="target", dir_type="weights",
                         params={"checkpoint": str(b_path), "only": "lm.transformer.h.0"})
    d = make_directions(model_a, spec, two_d=False)
    for (n, pa), pb, dn in zip(model_a.named_parameters(), model_b.parameters(), d.x,
                               strict=True):
        want = pb - pa if n.startswith("lm.transformer.h.0.") else torch.zeros_like(pa)
        assert torch.equal(dn, want.detach()), n


def test_a_study_result_takes_only_exclude_and_the_storage():
    from lossviz_core.studies import make_plan, parse_study

    study = parse_study('[study]\nname = "t"\n[models.a]\nmodel = "digits_mlp"\nepochs = 1\n'
                        '[results.block]\nmodel = "a"\nonly = "transformer.h.1"\n'
                        'exclude = "*.ln_1"\ndir_storage = "seeded"\n')
    unit = make_plan(study, "/nonexistent/out").find("grid", "block")
    assert unit.spec["choices"] == {"only": "transformer.h.1", "exclude": "*.ln_1",
                                    "dir_storage": "seeded"}
