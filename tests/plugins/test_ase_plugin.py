"""RMCalculator in ASE's calculator plugin registry (entry-point group ``ase.plugins``).

ASE 3.29 discovers plugins in ``ase._4.plugins`` (``PluginCollection.from_entry_points``):
it loads each ``ase.plugins`` entry-point module and reads its ``__ase_plugins__``
(a collection of ``CalculatorPlugin`` s); ``ase info --plugins`` lists them. Older
ASE versions have no registry: the listing test skips there. Nothing in ase_rm
depends on the registration.
"""

from __future__ import annotations

import ast
import importlib
import sys
from importlib.metadata import entry_points
from pathlib import Path
from types import ModuleType

import pytest
from ase.build import bulk

from ase_rm import RMCalculator

CORE = Path(__file__).resolve().parents[2] / "ase_rm"


def plugin_registry() -> ModuleType:
    """ASE's plugin registry module, or skip."""
    for name in ("ase._4.plugins", "ase.plugins"):
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        if hasattr(module, "PluginCollection"):
            return module
    pytest.skip("the installed ASE has no calculator plugin registry (ase._4.plugins, ASE >= 3.26)")


def test_entry_point_is_declared() -> None:
    (ep,) = [e for e in entry_points(group="ase.plugins") if e.name == "ase_rm"]
    assert ep.value == "ase_rm.ase_plugin"


def test_ase_lists_rm_calculator() -> None:
    registry = plugin_registry()
    collection = registry.PluginCollection.from_entry_points()  # a fresh read of the entry points
    ours = [p for p in collection.calculators if p.package == "ase_rm"]
    assert ours, "ase_rm.ase_plugin registers no CalculatorPlugin in __ase_plugins__"
    assert ours[0].implementation is RMCalculator
    assert ours[0].version  # ASE finds the distribution's metadata


def test_ase_info_plugins_shows_it(capsys: pytest.CaptureFixture[str]) -> None:
    registry = plugin_registry()
    from ase.cli.info import print_plugins

    if not any(p.package == "ase_rm" for p in registry.plugins.calculators):
        pytest.fail("ase info --plugins does not list ase_rm")
    print_plugins()
    assert "ase_rm" in capsys.readouterr().out


def test_nothing_in_ase_rm_imports_the_plugin_module() -> None:
    for path in CORE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.ImportFrom):
                names = [node.module or "", *(a.name for a in node.names)]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            assert not [n for n in names if n and n.endswith("ase_plugin")], path


def test_calculator_works_with_the_plugin_module_blocked(tiny_checkpoint: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ase_rm.ase_plugin", None)  # any import of it now fails
    monkeypatch.setitem(sys.modules, "ase._4.plugins", None)
    atoms = bulk("C", "diamond", a=3.57)
    atoms.calc = RMCalculator.from_checkpoint(tiny_checkpoint)
    assert atoms.get_forces().shape == (2, 3)
