"""Checks of a generation request that fail in milliseconds, before any relaxation.

Every composition must use only elements the model was trained on; a crystal
start needs a volume for every element (from the protocol or the model's
per-element volumes); and the atoms must fit the start box or volume. The fit
test is that of random sequential placement, which the starts use: uniform
tries never fill more than the saturation (jamming) fraction of random
sequential addition of hard spheres in 3-D, about 0.38 (Torquato, Uche &
Stillinger, PRE 74, 061308, 2006), well below the densest packing (0.74)
that :mod:`.starts` checks.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
from ase.data import chemical_symbols

from ..errors import UnknownElementError
from .composition import Composition, composition_numbers, format_formula
from .protocols import StartSpec
from .starts import StartError, distance_matrix

RANDOM_PACKING_LIMIT = 0.385
"""Saturation fraction of random sequential addition of equal spheres in 3-D (about 0.383), rounded up."""

MIN_ATOMS_FOR_LIMIT = 64
"""Below this many atoms a small box's fluctuations can beat the jamming fraction: not refused."""


def check_species(compositions: Sequence[Composition], species: Sequence[int]) -> None:
    """Every element of every composition is one the model knows.

    Raises:
        UnknownElementError: naming the elements and the model's species.
    """
    known = {int(z) for z in species}
    unknown = sorted({int(z) for comp in compositions for z in composition_numbers(comp)} - known)
    if unknown:
        names = ", ".join(chemical_symbols[z] for z in unknown)
        have = ", ".join(chemical_symbols[z] for z in sorted(known))
        raise UnknownElementError(f"the model was not trained on {names} (it knows {have})")


def start_volume_bounds(spec: StartSpec, numbers: np.ndarray,
                        element_volumes: Mapping[int | str, float] | None) -> float:
    """The smallest cell volume, Å^3, a crystal start of ``numbers`` may get.

    Raises:
        StartError: there is no volume for some element.
    """
    if spec.volume_per_atom is not None:
        return len(numbers) * spec.volume_per_atom
    if spec.volume_range is not None:
        return len(numbers) * min(spec.volume_range)
    volumes = {int(k) if str(k).isdigit() else chemical_symbols.index(str(k)): float(v)
               for k, v in (element_volumes or {}).items()}
    missing = sorted({int(z) for z in numbers} - set(volumes))
    if missing:
        names = ", ".join(chemical_symbols[z] for z in missing)
        raise StartError(f"no start volume for {names} (the model has no per-element volume for it); "
                         "give one with --volume-per-atom V or LOW:HIGH")
    return float(sum(volumes[int(z)] for z in numbers))


def check_fits(compositions: Sequence[Composition], spec: StartSpec,
               element_volumes: Mapping[int | str, float] | None = None) -> None:
    """The atoms of each composition can be placed at random in the start's box or volume.

    Raises:
        StartError: naming the composition, the room and the option that enlarges it.
    """
    for comp in compositions:
        numbers = composition_numbers(comp)
        if len(numbers) < MIN_ATOMS_FOR_LIMIT:
            continue
        d = float(distance_matrix(numbers, spec.min_distance, spec.pair_distances).min())
        need = len(numbers) * math.pi / 6.0 * d**3
        if spec.kind == "molecule":
            room = float(np.prod(np.asarray(spec.box) + d))
            where, option = f"the {' x '.join(f'{x:g}' for x in spec.box)} Å start box", "--box L or LX,LY,LZ"
        else:
            room = start_volume_bounds(spec, numbers, element_volumes)
            where, option = "the start volume", "--volume-per-atom"
        if need > RANDOM_PACKING_LIMIT * room:
            raise StartError(
                f"{format_formula(comp)}: {len(numbers)} atoms {d:.3g} Å apart do not fit in {where} "
                f"({room:.4g} Å^3, random placement fills at most {RANDOM_PACKING_LIMIT:.0%}); "
                f"enlarge it with {option}"
            )


def check_request(compositions: Sequence[Composition], spec: StartSpec, species: Sequence[int],
                  element_volumes: Mapping[int | str, float] | None = None) -> None:
    """All of the above, in the order a user fixes them: elements, volumes, fit."""
    check_species(compositions, species)
    if spec.kind != "molecule":
        for comp in compositions:
            start_volume_bounds(spec, composition_numbers(comp), element_volumes)
    check_fits(compositions, spec, element_volumes)
