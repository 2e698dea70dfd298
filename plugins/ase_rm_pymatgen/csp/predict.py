"""Run a recipe: generate n attempts per composition, rank them, optionally refine with a physical MLIP.

:func:`generate` makes the attempts (resumable, :func:`.campaign.generate_compositions`)
with the recipe's starts; :func:`rank` turns one composition's attempts into
ranked, distinct candidates (:mod:`.ranking`), with the recipe's physical stage
when it has one (:mod:`.physical`): the ``refine_top`` lowest-E~ distinct
candidates are relaxed on the physical MLIP and ranked by its energy per atom,
duplicates merged again; the other candidates follow in E~ order.
:func:`predict` does both for compositions without ground truth and writes
``candidates.extxyz``, ``ranking.csv`` and ``top.png``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import ase.io
from ase import Atoms

from ase_rm import RMError

from ..convert import ModelLike
from ..tables import write_rows
from .campaign import ATTEMPT_STRIDE, canonical_formula, generate_compositions, resolve_protocol
from .physical import PHYSICAL_CALCULATOR, CalculatorLike, get_calculator, physical_energies, relax_physical
from .ranking import CSP_ENERGY_PER_ATOM, CSP_ID, CSP_RANK, CSP_TIMES_FOUND, rank_candidates
from .recipes import Recipe, load_recipe
from .templates import TemplateLibrary, TemplateStarts

log = logging.getLogger(__name__)

RANKING_COLUMNS = ("csp_id", "composition", "csp_rank", "energy_per_atom", "ranked_by", "times_found",
                   "spacegroup", "rm_energy_per_atom")


def template_starts(recipe: Recipe, templates: str | os.PathLike[str] | TemplateLibrary | None = None
                    ) -> TemplateStarts | None:
    """The recipe's TemplateStarts (``templates`` replaces its library), or None for other starts."""
    if recipe.starts != "template":
        if templates is not None:
            raise RMError(f"--templates needs a recipe with template starts; {recipe.name} has {recipe.starts}")
        return None
    if isinstance(templates, TemplateLibrary):
        library = templates
    elif templates is not None:
        library = TemplateLibrary.from_file(templates)
    elif recipe.templates == "builtin":
        from .prototypes import load_prototypes

        library = load_prototypes()
    else:
        library = TemplateLibrary.from_file(str(recipe.templates))
    return TemplateStarts(library, ATTEMPT_STRIDE, exclude_same_formula=recipe.exclude_same_formula)


def generate(model: ModelLike, compositions: Sequence[str], out_dir: str | os.PathLike[str], n: int,
             recipe: Recipe, seed: int = 0, templates: str | os.PathLike[str] | TemplateLibrary | None = None,
             max_steps: int | None = None, max_atoms_per_batch: int = 4096, device: str = "cpu",
             progress: bool = False) -> dict[str, list[Atoms]]:
    """``n`` attempts per composition into ``out_dir/generated.extxyz`` (resumed), by the recipe's starts."""
    starts = template_starts(recipe, templates)
    proto = resolve_protocol(recipe.protocol, max_steps)
    return generate_compositions(model, list(dict.fromkeys(compositions)), Path(out_dir) / "generated.extxyz", n,
                                 seed, proto, max_atoms_per_batch, device, progress, recipe.starts, starts)


def rank(attempts: Sequence[Atoms], csp_id: str, recipe: Recipe, calculator: CalculatorLike | None = None,
         device: str = "cpu") -> list[Atoms]:
    """Ranked distinct candidates of one composition (see the module doc)."""
    by_rm = rank_candidates(attempts, csp_id)
    if recipe.rank_by != "physical" or not by_rm:
        return by_rm
    head, tail = by_rm[:recipe.refine_top], by_rm[recipe.refine_top:]
    relaxed = relax_physical(head, calculator if calculator is not None else recipe.calculator, recipe.fmax,
                             recipe.steps, device=device)
    name = str(relaxed[0].info.get(PHYSICAL_CALCULATOR, recipe.calculator))
    refined = rank_candidates(relaxed, csp_id, physical_energies(relaxed), ranked_by=name,
                              weights=[int(a.info[CSP_TIMES_FOUND]) for a in head])
    for k, atoms in enumerate(tail, start=len(refined) + 1):
        atoms.info[CSP_RANK] = k
    return [*refined, *tail]


def ranking_rows(candidates: Sequence[Atoms], composition: str) -> list[dict[str, Any]]:
    """One ranking.csv row per candidate."""
    from ..analysis import spacegroup

    rows = []
    for a in candidates:
        try:
            symbol = spacegroup(a)[0]
        except Exception:  # spglib may fail on a degenerate cell
            symbol = None
        rm = a.info.get("rm_energy")
        rows.append({"csp_id": a.info[CSP_ID], "composition": composition, "csp_rank": a.info[CSP_RANK],
                     "energy_per_atom": a.info[CSP_ENERGY_PER_ATOM], "ranked_by": a.info["csp_ranked_by"],
                     "times_found": a.info[CSP_TIMES_FOUND], "spacegroup": symbol,
                     "rm_energy_per_atom": None if rm is None else float(rm) / len(a)})
    return rows


def write_atomic(frames: Sequence[Atoms], path: Path) -> None:
    """extxyz written to a temporary name, then renamed (a killed run leaves no half file)."""
    tmp = path.with_name(path.name + ".tmp")
    ase.io.write(tmp, list(frames), format="extxyz")
    os.replace(tmp, path)


def predict(model: ModelLike, jobs: Sequence[tuple[str, str]], out_dir: str | os.PathLike[str], n: int,
            recipe: str | Recipe = "paper", seed: int = 0, pictures: int = 3, device: str = "cpu",
            progress: bool = False, **generate_kwargs: Any) -> dict[str, list[Atoms]]:
    """Ranked candidates of each (id, composition); writes candidates.extxyz, ranking.csv, top.png.

    Returns:
        ``{id: candidates}`` (``csp_id``, ``csp_rank`` and the other keys of :mod:`.ranking` in info).
    """
    rec = load_recipe(recipe) if isinstance(recipe, str) else recipe
    out = Path(out_dir)
    if rec.rank_by == "physical":
        get_calculator(rec.calculator, device)  # fail before generating if the MLIP is missing
    generated = generate(model, [c for _, c in jobs], out, n, rec, seed, device=device, progress=progress,
                         **generate_kwargs)
    ranked: dict[str, list[Atoms]] = {}
    rows: list[dict[str, Any]] = []
    for csp_id, composition in jobs:
        formula = canonical_formula(composition)
        ranked[csp_id] = rank(generated[formula], csp_id, rec, device=device)
        rows += ranking_rows(ranked[csp_id], formula)
    write_atomic([a for cands in ranked.values() for a in cands], out / "candidates.extxyz")
    write_rows(rows, RANKING_COLUMNS, out / "ranking.csv")
    if pictures > 0:
        from .pictures import plot_top

        plot_top(ranked, out / "top.png", pictures)
    return ranked
