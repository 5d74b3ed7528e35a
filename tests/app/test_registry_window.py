"""The window's panels are generated from the engine's registries: every registered entry
(a plugin's too) is offered, its parameters get rows, and the window and the command line
resolve the same recipe for it (checked for every entry, automatically)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from lossviz.schema import model_sources, window_losses, window_measures, window_methods
from lossviz.state import recipe_from_state, state_from_recipe

from lossviz_core import demo
from lossviz_core.cli import build_parser, recipe_from_args
from lossviz_core.registry import DATA_SOURCES, DIRECTION_METHODS, LOSSES, MODEL_SOURCES
from lossviz_core.resolve import choice_key

PLUGIN_DIR = Path(__file__).resolve().parents[1] / "plugin"
RANGES = {"xmin": -1.0, "xmax": 1.0, "xnum": 5, "ymin": -1.0, "ymax": 1.0, "ynum": 3}


@pytest.fixture
def plugin():
    sys.path.insert(0, str(PLUGIN_DIR))
    import lossviz_testplugin

    lossviz_testplugin.register()
    yield lossviz_testplugin
    lossviz_testplugin.unregister()
    sys.path.remove(str(PLUGIN_DIR))


@pytest.fixture
def samples(tmp_path):
    """A value of each kind a parameter may have, for an automatic round trip."""
    code = tmp_path / "code.py"
    code.write_text("def make(num_classes=10):\n    import torch\n"
                    "    return torch.nn.Linear(4, num_classes)\n")
    archive = tmp_path / "net.jit"
    archive.write_bytes(b"not really")
    return {"file": str(demo.final_checkpoint()), "folder": str(demo.run_dir()),
            "path": str(tmp_path), "code": str(code), "archive": str(archive),
            "str": "something", "int": 3, "float": 0.25, "bool": True, "floats": "0.1,0.2"}


def _value(p, samples):
    if p.choices:
        return p.allowed()[-1]
    if p.name == "archive":
        return samples["archive"]
    if p.kind == "str" and p.suggestions is None and p.name.endswith("function"):
        return "make"
    return samples[p.kind]


def _argv(choices: dict, line: bool) -> list[str]:
    argv = ["line" if line else "surface"]
    for key, value in choices.items():
        flag = "--" + key.replace("_", "-")
        if value is True:
            argv.append(flag)
        elif value not in (None, False):
            argv += [flag, str(value)]
    return argv + ["--x=-1:1:5"] + ([] if line else ["--y=-1:1:3"]) + ["--out", "u.h5"]


def _both(state: dict, choices: dict, line: bool):
    a = build_parser().parse_args(_argv(choices, line))
    cli = recipe_from_args(a, line=line)
    gui = recipe_from_state({**RANGES, **state})
    return cli, gui


def _entry_cases(samples) -> list[tuple[str, dict, dict, bool]]:
    """``(what, window values, CLI choices, line)``: one case per registered entry."""
    ckpt = samples["file"]
    cases = []
    for m in DIRECTION_METHODS.all():
        own = {choice_key(p): _value(p, samples) for p in m.params if p.name != m.run_param}
        for line in (False, True):
            if not (m.lines if line else m.planes):
                continue
            value = next(v for v, (n, is_line, _) in window_methods().items()
                         if n == m.name and is_line == line)
            if m.run_param is not None:
                state = {"source": "run", "run_dir": samples["folder"], "method": value,
                         "fit_ranges": False}  # the ranges given, as on the CLI below
                cases.append((f"method {value}", state, {m.run_choice: samples["folder"]},
                              line))
                continue
            state = {"source": "zoo", "model": "digits_cnn", "checkpoint": ckpt,
                     "dataset": "digits", "method": value, **own}
            cli = {"model": "digits_cnn", "checkpoint": ckpt, "dataset": "digits",
                   "method": m.name, **own}
            cases.append((f"method {value}", state, cli, line))
    for s in MODEL_SOURCES.all():
        parts = {p.name: _value(p, samples) for p in s.name_parts.params}
        if s.name == "zoo":
            parts = {"model": "digits_cnn"}
        opts = {choice_key(p): _value(p, samples) for p in s.options}
        state = {"source": s.name, "checkpoint": ckpt, "dataset": "digits", **parts, **opts}
        cli = {"model": s.name_parts.compose(parts), "checkpoint": ckpt, "dataset": "digits",
               **opts}
        cases.append((f"model {s.name}", state, cli, False))
    for k in DATA_SOURCES.all():
        parts = {p.name: _value(p, samples) for p in k.name_parts.params}
        opts = {choice_key(p): _value(p, samples) for p in k.options}
        state = {"source": "zoo", "model": "digits_cnn", "checkpoint": ckpt, "dataset": k.name,
                 **parts, **opts}
        cli = {"model": "digits_cnn", "checkpoint": ckpt, "dataset": k.name_parts.compose(parts),
               **opts}
        cases.append((f"dataset {k.name}", state, cli, False))
    for loss in LOSSES.all():
        if loss.name not in window_losses():
            continue
        opts = {choice_key(p): _value(p, samples) for p in loss.params}
        cases.append((f"loss {loss.name}", {"source": "demo", "loss": loss.name, **opts},
                      {"demo": True, "loss": loss.name, **opts}, False))
    for kind in window_measures():  # a method's own measures come with the method (above)
        opts = {choice_key(p): _value(p, samples) for p in kind.params}
        cases.append((f"measure {kind.name}",
                      {"source": "demo", f"measure_{kind.name}": True, **opts},
                      {"demo": True, "measure": kind.name, **opts}, False))
    return cases


def _check_every_entry(samples) -> list[str]:
    cases = _entry_cases(samples)
    for what, state, choices, line in cases:
        cli, gui = _both(state, choices, line)
        assert gui == cli, what
        back = recipe_from_state({**RANGES, **state_from_recipe(cli)})
        assert back == cli, f"{what}: the panels filled from the recipe"
    return [c[0] for c in cases]


def test_every_registered_entry_resolves_the_same_in_the_window_and_the_cli(samples):
    covered = _check_every_entry(samples)
    for m in DIRECTION_METHODS.all():  # nothing registered is left out
        assert any(c.startswith(f"method {m.name}") for c in covered), m.name
    assert {f"model {s.name}" for s in MODEL_SOURCES.all()} <= set(covered)
    assert {f"dataset {k.name}" for k in DATA_SOURCES.all()} <= set(covered)


def test_a_plugin_is_in_the_panels_and_resolves_as_on_the_command_line(plugin, samples,
                                                                        make_window):
    covered = _check_every_entry(samples)  # the plugin's entries among all the others
    for what in ("method radial", "method radial1d", "model affine", "dataset blobs",
                 "loss hinge", "measure weight_norm"):
        assert what in covered
    w = make_window(autostart=False)
    src, dirs, ranges = w.source_panel, w.directions_panel, w.ranges_panel
    assert src.source.findData("affine") >= 0 and src.dataset.findData("blobs") >= 0
    assert src.loss.findData("hinge") >= 0
    assert dirs.method.findData("radial") >= 0 and dirs.method.findData("radial1d") >= 0
    assert "weight_norm" in ranges.measures
    w.state.update(source="affine", affine_inputs=4, dataset="blobs", blobs_count=64,
                   blob_dims=4, loss="hinge", hinge_margin=0.5, method="radial",
                   radial_scale=0.5, measure_weight_norm=True, **RANGES)
    assert src.model_form.isRowVisible(src.affine_inputs)
    assert src.data_form.isRowVisible(src.blob_dims) and src.data_form.isRowVisible(src.hinge_margin)
    assert dirs.form.isRowVisible(dirs.param_radial_scale)
    assert not dirs.form.isRowVisible(dirs.param_checkpoint2)  # another method's row
    assert dirs.param_radial_scale.toolTip() == "d₁ = scale·θ"
    r = recipe_from_state(w.state.snapshot())
    assert (r.model.name, r.dataset.name, r.loss.name) == ("affine:4", "blobs:64", "hinge")
    assert r.directions.params == {"scale": 0.5} and r.measures == ("loss", "weight_norm")
    assert r.dataset.options == {"dims": 4} and r.loss.params == {"margin": 0.5}
    assert "affine" in model_sources() and window_losses()["hinge"].startswith("multi-class")
    assert np.isclose(w.state["radial_scale"], 0.5)
