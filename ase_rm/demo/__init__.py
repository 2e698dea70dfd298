"""The one-shot diamond demo: train on one cubic diamond cell, search, classify.

    from ase_rm.demo import DemoConfig, run_demo
    result = run_demo("demo_out", DemoConfig())     # what ``ase-rm demo`` runs
"""

from .run import QUICK, DemoConfig, DemoResult, checks, run_demo, training_cell

__all__ = ["QUICK", "DemoConfig", "DemoResult", "checks", "run_demo", "training_cell"]
