"""Atomic numbers -> rows of a model's element tables; unknown elements raise."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ..errors import UnknownElementError


class SpeciesIndex(nn.Module):
    """Maps atomic numbers to 0..n_species-1 in the order of ``species``.

    Args:
        species: the atomic numbers a model knows.
    """

    table: torch.Tensor

    def __init__(self, species: Sequence[int]) -> None:
        super().__init__()
        self.species = tuple(int(z) for z in species)
        table = torch.full((max(self.species) + 1,), -1, dtype=torch.long)
        table[list(self.species)] = torch.arange(len(self.species))
        self.register_buffer("table", table, persistent=False)

    def forward(self, numbers: torch.Tensor) -> torch.Tensor:
        """(n_atoms,) rows; raises UnknownElementError for an element not in ``species``."""
        table = self.table
        rows = table.index_select(0, numbers.clamp(min=0, max=table.shape[0] - 1))
        unknown = (rows < 0) | (numbers >= table.shape[0]) | (numbers < 0)
        if bool(unknown.any()):
            bad = sorted({int(z) for z in numbers[unknown].tolist()})
            raise UnknownElementError(f"atomic numbers {bad} are not among the model's species {list(self.species)}")
        return rows
