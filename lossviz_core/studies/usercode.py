"""The code a study would run: Python files and archives its models and results name.

A study (a file, a bundled study, the study a figure carries) is data from elsewhere as much
as a result file is: ``lossviz study run`` runs its code only with ``--allow-code``, and the
window asks once per file first. Run folders a result names (``run``, a method's run folder
such as ``pca``) count with the code their ``run.json`` names.
"""

from __future__ import annotations

from typing import Any

from lossviz_core.errors import LossVizError


def study_code_files(study: Any) -> list[str]:
    """Every file whose code running ``study`` would run (models, data, losses), once."""
    from lossviz_core.data import user_code_of as data_code
    from lossviz_core.recipe.spec import DatasetSpec, ModelSpec
    from lossviz_core.registry import DIRECTION_METHODS
    from lossviz_core.runs import read_run
    from lossviz_core.sources import user_code_of as model_code
    from lossviz_core.usercode import user_file

    files: list[str | None] = []

    def add(make: Any) -> None:
        try:
            files.append(make())
        except LossVizError:  # a name no source knows runs nothing (it fails first)
            pass

    for m in study.models.values():
        add(lambda t=m.train: model_code(ModelSpec(t.model)))
        add(lambda t=m.train: data_code(t.dataset))
    for r in study.results.values():
        c = r.choices
        if c.get("model"):
            add(lambda c=c: model_code(ModelSpec(str(c["model"]))))
        if c.get("dataset"):
            add(lambda c=c: data_code(DatasetSpec(name=str(c["dataset"]))))
        if c.get("loss"):
            files.append(user_file(str(c["loss"])))
        method = DIRECTION_METHODS.get(r.method)
        for key in dict.fromkeys(("run", method.run_choice or "run")):
            if c.get(key):
                add(lambda c=c, key=key: model_code(ModelSpec(read_run(c[key]).model_name)))
                add(lambda c=c, key=key: data_code(DatasetSpec(
                    name=str(read_run(c[key]).dataset.get("name", "digits")))))
    return list(dict.fromkeys(f for f in files if f))
