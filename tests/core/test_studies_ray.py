"""A study on a local Ray (2 CPUs): its training runs are Ray tasks, its grid goes through
the Ray executor, and every output equals the local run's bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lossviz_core.progress import EpochReport, drain
from lossviz_core.results.store import read_result
from lossviz_core.studies import UnitFinished, UnitProgress, iter_study, make_plan, parse_study

ray = pytest.importorskip("ray")

STUDY = """
[defaults.model]
epochs = 2
[models."m{batch}"]
sweep = { batch = [64, 512] }
model = "digits_resnet6"
batch_size = "{batch}"
init = "m64"
[results.line]
model = "m64"
model_b = "m512"
method = "target"
x = "0:1:3"
subsample = 64
precision = "fp32"
"""


def test_a_study_on_ray_equals_the_local_run(cluster, tmp_path):
    from lossviz_core.run.ray_executor import RayExecutor

    study = parse_study(STUDY)
    events = list(iter_study(study, tmp_path / "ray",
                             executor=RayExecutor(workers=1, cpus_per_worker=1)))
    finished = [e.unit.label for e in events if isinstance(e, UnitFinished)]
    assert finished == ["init m64", "train m64", "train m512", "grid line"]
    assert sum(isinstance(e, UnitProgress) and isinstance(e.item, EpochReport)
               for e in events) == 4
    torch.set_num_threads(1)  # the Ray task's thread count: CPU training is then bit-exact
    drain(iter_study(study, tmp_path / "local"))
    remote, local = make_plan(study, tmp_path / "ray"), make_plan(study, tmp_path / "local")
    for a, b in zip(remote.of_kind("train"), local.of_kind("train"), strict=True):
        for epoch in (0, 2):
            sa = torch.load(a.path / f"model_{epoch}.pt", weights_only=True)["state_dict"]
            sb = torch.load(b.path / f"model_{epoch}.pt", weights_only=True)["state_dict"]
            assert all(torch.equal(sa[k], sb[k]) for k in sa)
    m64, m512 = remote.of_kind("train")
    s64 = torch.load(m64.path / "model_0.pt", weights_only=True)["state_dict"]
    s512 = torch.load(m512.path / "model_0.pt", weights_only=True)["state_dict"]
    assert all(torch.equal(s64[k], s512[k]) for k in s64)  # one initialization
    ra = read_result(remote.find("grid", "line").path)
    rb = read_result(local.find("grid", "line").path)
    np.testing.assert_allclose(ra.values["train_loss"], rb.values["train_loss"], rtol=1e-6)
    again = drain(iter_study(study, tmp_path / "ray"))  # the local executor finds it done
    assert again.did_nothing
