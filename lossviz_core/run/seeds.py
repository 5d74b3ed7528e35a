"""Error bands over direction seeds: one landscape per seed, their mean and spread per point.

One random plane is one sample ("the choice of direction changes the curve"). With
``DirectionSpec.seeds`` a job makes the directions of every seed around the same θ and
evaluates each grid point on each of them; a point is done when all seeds are. The result
holds, per quantity ``q`` of one seed: ``q`` the mean over the seeds (what views and figures
show first), ``q_std`` their standard deviation (``numpy.std``, ddof 0) and ``q_seed{s}``
each seed's own value, so every seed's landscape is in the file as a single-seed run would
have made it. All seeds are evaluated with the first one's decisions (batch, precision,
mode), as a resumed file is; shards (``--shards``) split each seed's pass the same way.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Generator, Sequence
from typing import Any

import numpy as np

from lossviz_core.progress import Step
from lossviz_core.results.quantities import SEED_INFIX, SPREAD_SUFFIX
from lossviz_core.run.workspace import Workspace


def seed_quantity(q: str, seed: int) -> str:
    return f"{q}{SEED_INFIX}{seed}"


def seed_quantities(base: Sequence[str], seeds: Sequence[int]) -> tuple[str, ...]:
    """What a seeded result holds for one seed's quantities ``base``."""
    spread = tuple(q + SPREAD_SUFFIX for q in base)
    each = tuple(seed_quantity(q, s) for s in seeds for q in base)
    return (*base, *spread, *each)


@dataclasses.dataclass
class SeedWorkspace(Workspace):
    """A workspace evaluating every point on each member's plane (one per seed); the
    workspace's own fields are the first seed's."""

    members: list[Workspace] = dataclasses.field(default_factory=list)

    @property
    def seeds(self) -> tuple[int, ...]:
        return tuple(m.recipe.directions.seed for m in self.members)

    @property
    def quantities(self) -> tuple[str, ...]:
        return seed_quantities(self.members[0].quantities, self.seeds)

    @property
    def chunk_size(self) -> int:
        return max(1, self.members[0].chunk_size // len(self.members))

    @property
    def info(self) -> dict[str, Any]:
        return {**self.members[0].info, "seeds": list(self.seeds)}

    @property
    def decision_log(self) -> list[dict[str, Any]]:
        return self.members[0].decision_log

    @property
    def decision_id(self) -> int:
        return self.members[0].decision_id

    def evaluate(self, coords: np.ndarray) -> dict[str, np.ndarray]:
        """Each seed's quantities at ``coords``, their mean and standard deviation."""
        each = [m.evaluate(coords) for m in self.members]
        out: dict[str, np.ndarray] = {}
        for q in each[0]:
            stacked = np.stack([v[q] for v in each])
            out[q] = np.mean(stacked, axis=0)
            out[q + SPREAD_SUFFIX] = np.std(stacked, axis=0)
            for s, v in zip(self.seeds, each, strict=True):
                out[seed_quantity(q, s)] = v[q]
        return out

    def with_members(self, members: list[Workspace]) -> SeedWorkspace:
        return dataclasses.replace(self, members=list(members), measures=members[0].measures)

    def with_recipe(self, recipe: Any) -> SeedWorkspace:
        """New grid, split, precision or measures for every seed (no reloading)."""
        if recipe.workspace_key() != self.recipe.workspace_key():
            return super().with_recipe(recipe)  # says what needs a new workspace
        members = [m.with_recipe(_one_seed(recipe, s))
                   for m, s in zip(self.members, self.seeds, strict=True)]
        return dataclasses.replace(self, recipe=recipe, members=members, loss=members[0].loss,
                                   measures=members[0].measures)


def _one_seed(recipe: Any, seed: int) -> Any:
    return recipe.replace(directions=recipe.directions.replace(seed=seed, seeds=()))


def iter_seeded(ws: Workspace, pinned: dict | None = None
                ) -> Generator[Step, None, SeedWorkspace]:
    """``ws`` (made for the recipe's first seed) with a member per seed of its recipe; each
    seed's directions are made around the same θ and evaluated as the first seed's are."""
    recipe = ws.recipe
    seeds = recipe.directions.seeds
    members = [dataclasses.replace(ws, recipe=_one_seed(recipe, seeds[0]))]
    loss = next((m for m in ws.measures if m.name == "loss"), None)
    pin = pinned or (loss.decisions if loss is not None else None)
    for i, seed in enumerate(seeds[1:], 2):
        yield Step(f"making the directions of seed {seed} ({i}/{len(seeds)})",
                   0.5 + 0.2 * i / len(seeds))
        members.append(ws.with_directions(_one_seed(recipe, seed), pin))
    fields = {f.name: getattr(ws, f.name) for f in dataclasses.fields(Workspace)}
    return SeedWorkspace(**fields, members=members)
