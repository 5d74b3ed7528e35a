"""How points are computed stays true to the file: a plan far slower than probed is replaced
and recorded, one the probe confirms is not probed again; the command line loads no
compiler it does not use."""

from __future__ import annotations

import subprocess
import sys

import h5py
import numpy as np

from lossviz_core.cli import main
from lossviz_core.results.store import read_decisions, read_result


def test_a_plan_far_slower_than_probed_is_replaced_and_recorded(tmp_path, capsys, monkeypatch):
    import lossviz_core.evaluation.evaluate as ev_mod

    calls = []

    def probe(option, *args, **kwargs):
        calls.append(option)
        if len(calls) == 1:  # a probe fooled by a load spike: multi-point, far too optimistic
            return True, 4, 1e-12
        return False, 1, 1e-3  # then a sober one (slower than the demo really is: it stands)

    monkeypatch.setattr(ev_mod.planner, "REPLAN_SECONDS", 0.0)
    monkeypatch.setattr(ev_mod.mp, "probe_multi", probe)
    out = tmp_path / "replanned.h5"
    assert main(["surface", "--demo", "--x=-1:1:9", "--y=-1:1:9", "--out", str(out)]) == 0
    assert "changed plan mid-run" in capsys.readouterr().err
    plans = read_decisions(out)
    assert [p["mode"] for p in plans] == ["multi", "single"] and len(calls) == 2
    with h5py.File(out, "r") as f:
        ids = set(np.unique(f["lossviz/plan"][()]).tolist())
    assert ids == {0, 1}  # each point says which plan computed it
    monkeypatch.undo()
    ref = tmp_path / "ref.h5"
    assert main(["surface", "--demo", "--x=-1:1:9", "--y=-1:1:9", "--multi", "off", "--out",
                 str(ref)]) == 0
    np.testing.assert_allclose(read_result(out).values["train_loss"],
                               read_result(ref).values["train_loss"], rtol=1e-5)


def test_the_command_line_loads_no_compiler_it_does_not_use(tmp_path):
    """`lossviz surface --demo` on a CPU: neither torch._dynamo nor triton (nor torchvision,
    which pulls dynamo in) is imported; together they cost over a second of start-up."""
    code = ("import sys\nfrom lossviz_core.cli import main\n"
            f"rc = main(['surface', '--demo', '--x=-1:1:3', '--y=-1:1:3', "
            f"'--out', {str(tmp_path / 'd.h5')!r}])\n"
            "print(rc, *(m in sys.modules for m in ('torch._dynamo', 'triton', 'torchvision')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300)
    assert done.stdout.split() == ["0", "False", "False", "False"], done.stderr


def test_a_plan_the_probe_confirms_is_not_probed_again_and_again(tmp_path, capsys,
                                                                 monkeypatch):
    import lossviz_core.evaluation.evaluate as ev_mod

    calls = []

    def probe(option, *args, **kwargs):
        calls.append(option)
        return False, 1, 1e-12  # always the same plan, always far too optimistic

    monkeypatch.setattr(ev_mod.planner, "REPLAN_SECONDS", 0.0)
    monkeypatch.setattr(ev_mod.mp, "probe_multi", probe)
    out = tmp_path / "stands.h5"
    assert main(["surface", "--demo", "--x=-1:1:15", "--y=-1:1:15", "--out", str(out)]) == 0
    assert "changed plan" not in capsys.readouterr().err
    # the start-up probe, one check that confirms the plan, then its measured cost is the
    # reference: no probe per chunk for the rest of the grid
    assert len(calls) == 2 and [p["mode"] for p in read_decisions(out)] == ["single"]
