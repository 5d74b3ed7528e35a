"""A recipe in a few words, for titles and names: what makes this landscape this one."""

from __future__ import annotations

from pathlib import Path

from lossviz_core.recipe.spec import Recipe

METHOD_WORDS = {"random": "random", "target": "A → B", "pca": "PCA", "file": "file",
                "hessian": "Hessian", "hessian-random": "Hessian × random"}


def model_words(recipe: Recipe) -> str:
    name = recipe.model.name
    if ".py:" in name or "/" in name:  # a file: its name, not its folder
        name = Path(name.split(":")[0] if ".py:" in name else name).name + (
            ":" + name.rsplit(":", 1)[1] if ".py:" in name else "")
    ckpt = recipe.model.checkpoint
    return f"{name} ({Path(ckpt).name})" if ckpt else name


def direction_words(recipe: Recipe) -> str:
    d = recipe.directions
    words = METHOD_WORDS.get(d.method, d.method)
    if d.method in ("random", "hessian-random"):
        words += f" seed {d.seed}"
    if d.method in ("random", "hessian", "hessian-random") and d.xnorm != "none":
        words += f", {d.xnorm}-normalized"
    if d.method == "target" and d.target_checkpoint:
        words += f" {Path(d.target_checkpoint).name}"
    if d.dir_type == "states":
        words += ", states"
    return words


def grid_words(recipe: Recipe) -> str:
    g = recipe.grid
    return f"α {g.x}" + ("" if g.y is None else f", β {g.y}")


def describe_recipe(recipe: Recipe | None) -> str:
    """E.g. ``digits_cnn (model_30.pt) · random seed 0, filter-normalized · α -1:1:21, β
    -1:1:21 · train``."""
    if recipe is None:
        return "a landscape without a recipe"
    parts = [model_words(recipe), direction_words(recipe), grid_words(recipe),
             recipe.loss.split]
    if recipe.dataset.name not in ("digits", "cifar10") or recipe.dataset.subsample:
        data = recipe.dataset.name.split(":", 1)[-1]
        parts.insert(1, Path(data).name + (f" ×{recipe.dataset.subsample}"
                                           if recipe.dataset.subsample else ""))
    if len(recipe.measures) > 1:
        parts.append(" + ".join(recipe.measures[1:]))
    return " · ".join(parts)
