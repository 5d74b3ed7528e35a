"""What a command may do before it starts: run code, only from files the user named.

A model, dataset or loss in a Python file (or an archive, which may unpickle code) runs
when this command line names it (``--model``, ``--dataset``, ``--loss``); code that only a
file names (a result's stored recipe under ``--resume``, a run folder's ``run.json`` under
``--run`` / ``--pca``, a study or the study a figure carries) needs ``--allow-code``.
"""

from __future__ import annotations

import argparse

from lossviz_core.errors import InputError
from lossviz_core.recipe.spec import Recipe


def _code_of(recipe: Recipe) -> tuple[str | None, str | None, str | None]:
    """The files whose code the model, the dataset and the loss of ``recipe`` run."""
    from lossviz_core.data import user_code_of as data_code
    from lossviz_core.sources import user_code_of as model_code
    from lossviz_core.usercode import user_file

    return model_code(recipe.model), data_code(recipe.dataset), user_file(recipe.loss.name)


def check_code_allowed(recipe: Recipe, a: argparse.Namespace) -> None:
    """Code runs only from files this command line names (--model, --dataset, --loss), or
    with --allow-code: a result file's recipe or a run folder's run.json naming a Python file
    or an archive is data from elsewhere."""
    model, data, loss = _code_of(recipe)
    named = {model if getattr(a, "model", None) else None,
             data if getattr(a, "dataset", None) else None,
             loss if getattr(a, "loss", "ce") != "ce" else None}  # given: it is the flag's
    foreign = [f for f in _code_of(recipe) if f and f not in named]
    if not foreign or getattr(a, "allow_code", False):
        return
    run = getattr(a, "pca", None) or getattr(a, "run", None)
    where = (f"the run folder {run} (its run.json)" if run and not getattr(a, "resume", False)
             else getattr(a, "out", None) or "the recipe")
    raise InputError(f"{where} names code to run ({foreign[0]}); pass --allow-code to run it, "
                     "or name it yourself with --model / --dataset")
