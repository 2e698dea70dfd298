"""ase-rm plugin: matgl architectures as RM denoisers (uses only ase_rm's public API).

A :class:`MatglConfig` takes the place of :class:`ase_rm.config.ModelConfig`
wherever a model config goes (``ase_rm.training``, ``ase_rm.training.Trainer``); the
checkpoint it produces records ``architecture = "matgl"`` and loads through
the ``ase_rm.models`` entry point (``RMCalculator.from_checkpoint``,
``ase_rm.load_potential``, the generate/relax/demo paths).

    from ase_rm_matgl import MatglConfig
    from ase_rm import train
    train(structures, "runs/tn", MatglConfig(species=(6,), net="tensornet"), noise, config)
"""

from .model import ARCHITECTURE, NETS, MatglConfig, MatglDenoiser

__all__ = ["ARCHITECTURE", "NETS", "MatglConfig", "MatglDenoiser"]
