"""Plugins use only the core's public API, and the verbs are at the top of ``ase_rm``."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

PLUGINS = Path(__file__).resolve().parents[2] / "plugins"

def core_imports() -> list[tuple[str, str, list[str]]]:
    """(plugin file, core module, names) of every ``from ase_rm... import`` in the plugins."""
    found = []
    for path in sorted(PLUGINS.glob("ase_rm_*/*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and (
                    node.module == "ase_rm" or node.module.startswith("ase_rm.")):
                found.append((str(path.relative_to(PLUGINS)), node.module, [a.name for a in node.names]))
    return found


def test_plugins_import_only_names_the_core_exports() -> None:
    """Each name a plugin imports from the core is in its module's ``__all__`` (``ase_rm.keys``:
    every constant is public)."""
    imports = core_imports()
    assert len(imports) > 20
    wrong = []
    for path, module, names in imports:
        if module == "ase_rm.keys":
            continue
        exported = getattr(importlib.import_module(module), "__all__", None)
        if exported is None:
            wrong.append(f"{path}: {module} has no __all__")
            continue
        wrong += [f"{path}: {module}.{name}" for name in names if name not in exported]
    assert not wrong, wrong


def test_the_verbs_are_at_the_top() -> None:
    import ase_rm
    from ase_rm import load_potential, noise_structures, relax, search, train
    from ase_rm.checkpoint import load_potential as from_module
    from ase_rm.data import noise_structures as noise_from_module
    from ase_rm.relaxation import relax as relax_from_module
    from ase_rm.rss import search as search_from_module
    from ase_rm.training import train as train_from_module

    assert (load_potential, noise_structures, relax, search, train) == (
        from_module, noise_from_module, relax_from_module, search_from_module, train_from_module)
    assert ase_rm.__all__[:6] == ["load_potential", "noise_structures", "read_structures", "relax", "search", "train"]
    for name in ase_rm.__all__:
        assert hasattr(ase_rm, name), name


@pytest.mark.parametrize("name", ["Frame", "Graph", "build_graph", "check_atoms", "count_parameters", "shipped_names",
                                  "MODEL_PRESETS", "TRAIN_PRESETS", "RunConfig", "CheckpointError"])
def test_names_exported_before_are_still_importable(name: str) -> None:
    import ase_rm

    assert getattr(ase_rm, name) is not None


def test_no_exported_name_shadows_a_submodule() -> None:
    """``ase_rm.relax`` is the verb and ``ase_rm.relaxation`` its package: a top-level name that were
    also a subpackage would break ``import ase_rm.X.module as m`` and ``ase_rm.X.Name``."""
    import importlib.util

    import ase_rm

    shadowing = [name for name in ase_rm.__all__ if importlib.util.find_spec(f"ase_rm.{name}") is not None
                 and getattr(ase_rm, name) is not importlib.import_module(f"ase_rm.{name}")]
    assert not shadowing, shadowing
    import ase_rm.relaxation.engine as engine
    import ase_rm.training.loop as loop

    assert callable(ase_rm.relax) and callable(ase_rm.train) and engine.RelaxOptions and loop.__name__
