"""ase-rm plugin: an RM potential as a torch-sim model (uses only ase_rm's public API).

Public API::

    from ase_rm_torchsim import RMModel

``RMModel("qm7b")`` (a shipped name or a checkpoint path) is a
``torch_sim.models.interface.ModelInterface``: energy, forces and stress of
batched torch-sim states, so torch-sim's optimizers, integrators and
autobatchers run on the pseudo energy E~. Needs ``torch-sim-atomistic``
(``pip install ase-rm[torchsim]``).
"""

from __future__ import annotations

from .model import RMModel
from .relax import generalized_fmax, torchsim_relax

__all__ = ["RMModel", "generalized_fmax", "torchsim_relax"]
