"""CSP recipes: starts, stages, ranking and refinement, by name or from a TOML file.

A recipe is everything ``ase-rm csp`` needs besides the model, the compositions
and the number of attempts. Shipped ones (``ase_rm_pymatgen/csp/recipes/*.toml``):

- ``paper``: the published protocol (random starts, the crystal protocol's two
  stages on E~, ranked by E~);
- ``templates``: template starts from the shipped prototype library, ranked by E~;
- ``recommended``: template starts, then the lowest-E~ distinct candidates
  relaxed with CHGNet and ranked by its energy (needs ``ase-rm[chgnet]``);
- ``symmetric``, ``symmetric-mp20``, ``mixed``: the experimental symmetric starts.

A file of your own takes the same keys (:class:`Recipe`); unknown keys are an error.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from ase_rm import RMError

from .symmetric import STARTS

RECIPE_DIR = Path(__file__).with_name("recipes")
RANK_BY = ("rm_energy", "physical")


@dataclass(frozen=True)
class Recipe:
    """How candidates are made and ranked.

    Attributes:
        name: the recipe's name (file stem).
        description: one line.
        protocol: the generation protocol (``ase_rm.rss`` name), e.g. "crystal".
        starts: one of :data:`.symmetric.STARTS`.
        templates: with ``starts = "template"``: "builtin" (the shipped prototype
            library, :data:`.prototypes.PROTOTYPES`) or a structure file.
        exclude_same_formula: leave out templates of the target's reduced formula.
        rank_by: "rm_energy" (E~ per atom) or "physical" (a physical MLIP, below).
        calculator: the physical stage's calculator ("chgnet", "emt", "module:factory").
        refine_top: how many of the lowest-E~ distinct candidates the physical stage relaxes.
        fmax: physical relaxation force threshold, eV/Å.
        steps: physical relaxation FIRE step cap.
    """

    name: str = "custom"
    description: str = ""
    protocol: str = "crystal"
    starts: str = "random"
    templates: str | None = None
    exclude_same_formula: bool = False
    rank_by: str = "rm_energy"
    calculator: str = "chgnet"
    refine_top: int = 5
    fmax: float = 0.05
    steps: int = 300

    def __post_init__(self) -> None:
        if self.starts not in STARTS:
            raise RMError(f"recipe {self.name}: starts must be one of {', '.join(STARTS)}, not {self.starts!r}")
        if (self.starts == "template") != (self.templates is not None):
            raise RMError(f"recipe {self.name}: starts = 'template' and a templates entry go together")
        if self.rank_by not in RANK_BY:
            raise RMError(f"recipe {self.name}: rank_by must be one of {', '.join(RANK_BY)}, not {self.rank_by!r}")
        if self.refine_top < 1 or self.steps < 0 or self.fmax <= 0:
            raise RMError(f"recipe {self.name}: refine_top >= 1, steps >= 0 and fmax > 0 are needed")

    @classmethod
    def from_dict(cls, data: dict[str, Any], name: str = "custom") -> Recipe:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise RMError(f"recipe {name}: unknown keys {', '.join(unknown)} (known: {', '.join(sorted(known))})")
        return cls(**{"name": name, **data})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def replace(self, **changes: Any) -> Recipe:
        return Recipe.from_dict({**self.to_dict(), **changes}, self.name)


def shipped_recipes() -> list[str]:
    """Names of the recipes that ship with the package."""
    return sorted(p.stem for p in RECIPE_DIR.glob("*.toml"))


def load_recipe(name_or_path: str | os.PathLike[str]) -> Recipe:
    """A shipped recipe by name, or a TOML file.

    Raises:
        RMError: neither a shipped name nor a readable TOML file, or bad keys.
    """
    text = str(name_or_path)
    path = RECIPE_DIR / f"{text}.toml" if text in shipped_recipes() else Path(text)
    if not path.is_file():
        raise RMError(f"no recipe {text!r}: use one of {', '.join(shipped_recipes())} or a TOML file")
    try:
        data = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise RMError(f"recipe {path} is not valid TOML ({exc})") from None
    return Recipe.from_dict(data, path.stem)
