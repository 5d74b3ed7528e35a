"""Engine messages in the window's words: buttons and fields, not command-line flags."""

from __future__ import annotations

import re
from typing import Any

# (pattern, replacement), tried in order; longer forms before their prefixes
_FLAGS = [
    (r"--download\b", "the Download button"),
    (r"--data-root\b", "the Data folder field"),
    (r"--split (train|test|both)\b", r"Split: \1"),
    (r"--checkpoint2(?: FILE)?\b", "Checkpoint B"),
    (r"--checkpoint(?: FILE)?\b", "the Checkpoint field"),
    (r"--pca(?: RUN_DIR)?\b", "a Run folder"),
    (r"--run(?: RUN_DIR)?\b", "a Run folder"),
    (r"--demo\b", "the bundled demo (Source)"),
    (r"--model(?: NAME)?\b", "a model (Source)"),
    (r"--dataset(?: NAME)?\b", "a dataset (Dataset panel)"),
    (r"the class count with --num-classes or a checkpoint\b",
     "a checkpoint (its output layer gives the class count)"),
    (r"--num-classes\b", "a checkpoint (its output layer gives the class count)"),
    (r"--output (INDEX|KEY)\b", r"the Output field (\1 of the logits)"),
    (r"--output\b", "the Output field"),
    (r"--directions(?: FILE)?\b", "a Direction file"),
    (r"--precision (\w+)", r"Precision: \1"),
    (r"--device (\w+)", r"Device: \1"),
    (r"--resume\b", "Compute (it resumes)"),
    (r"--overwrite\b", "another file name"),
    (r"--image-size\b", "an image size"),
    (r"--hessian-params all\b", "all parameters"),
    (r"--multi off\b", "one point at a time"),
    (r"--subsample\b", "Subsample"),
    (r"`lossviz models`", "the Model list"),
]


def for_window(text: str) -> str:
    """``text`` with the command line's flags replaced by the window's controls."""
    for pattern, repl in _FLAGS:
        text = re.sub(pattern, repl, text)
    # "the Download button, or the Download button": a message that named both says it once
    return re.sub(r"(the [A-Z][\w ]+?)(, or | or )\1", r"\1", text)


def clock(seconds: float) -> str:
    """A duration as m:ss, or h:mm:ss from an hour on."""
    s = int(round(seconds))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


def title_of(recipe: Any) -> str:
    """A recipe in a few words (model, data, directions, ranges)."""
    from lossviz_core.export.titles import recipe_title  # matplotlib-free, but lazy anyway

    return recipe_title(recipe)


def describe(result: Any) -> str:
    """What distinguishes a result: its recipe in a few words with the grid it computed (a
    fitted PCA plane's fitted ranges), or its file."""
    if result.recipe is not None:
        from lossviz_core.export.titles import recipe_title

        return recipe_title(result)
    return str(result.path) if result.path else "a landscape"
