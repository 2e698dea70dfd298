"""ase_rm_pymatgen binary pseudo hull (Li-S): composition grid, E~_ex, hull vertices, known matches, ``ase-rm lis``."""

from __future__ import annotations

import csv
import sys
import types
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from ase import Atoms
from ase.build import bulk
from ase.calculators.calculator import Calculator, all_changes

pytest.importorskip("pymatgen")

from ase_rm_pymatgen import (  # noqa: E402
    KnownStructure,
    binary_compositions,
    hull_rows,
    physical_hull_rows,
    read_known_structures,
    run_binary_hull,
    to_pymatgen,
)
from pymatgen.core import Structure  # noqa: E402

from ase_rm import Denoiser, ModelConfig, RMError, keys  # noqa: E402
from ase_rm.checkpoint import atomic_save, make_checkpoint  # noqa: E402
from ase_rm.cli.main import main  # noqa: E402
from ase_rm.rss import Stage, get_protocol  # noqa: E402

from ..conftest import SHARED_DATA  # noqa: E402

KNOWN_CSV = SHARED_DATA / "li_s_known_structures.csv"
QUICK = replace(get_protocol("crystal"), stages=(Stage(cell="full", fmax=0.05, max_steps=15, name="quick"),))


@pytest.fixture
def li_s_checkpoint(tmp_path: Path) -> Path:
    config = ModelConfig(species=(3, 16), cutoff=3.5, n_embedding=2, hidden=(8,))
    model = Denoiser(config, torch.Generator().manual_seed(0), dtype=torch.float64)
    path = tmp_path / "lis.pt"
    atomic_save(make_checkpoint(model, volume_fit={3: 20.0, 16: 25.0}), path)
    return path


def crystal(atoms: Atoms, energy_per_atom: float | None = None, converged: bool = True, name: str = "") -> Atoms:
    out = atoms.copy()
    if energy_per_atom is not None:
        out.info.update({keys.RM_ENERGY: energy_per_atom * len(out), keys.RM_CONVERGED: converged})
    if name:
        out.info.update({keys.RM_FORMULA: name, keys.RM_ATTEMPT: 0})
    return out


def li_bcc() -> Atoms:
    return bulk("Li", "bcc", a=3.44)


def li2s() -> Atoms:
    return bulk("SLi2", "fluorite", a=5.7)  # antifluorite: Li on the fluorine sites


def sulfur() -> Atoms:
    return bulk("S", "sc", a=2.6)


def known(atoms: Atoms, mid: str) -> KnownStructure:
    structure = to_pymatgen(atoms)
    assert isinstance(structure, Structure)
    return KnownStructure(mid, structure, mid)


def test_composition_grid() -> None:
    grid = binary_compositions(max_atoms=12)
    assert len(grid) == sum(n + 1 for n in range(1, 9))  # every (nLi, nS) with nLi + nS <= 8
    assert grid[0] == "S" and grid[-1] == "Li8" and "LiS4" in grid and "Li3S" in grid and "Li3S2" in grid
    x = [to_pymatgen(Atoms(f, cell=np.eye(3) * 9, pbc=True)).composition.get_atomic_fraction("Li") for f in grid]
    assert x == sorted(x)
    more = binary_compositions(max_atoms=10, extra=["S9", "Li2S8", "Li8S4", "Li4"])
    assert {"S9", "Li2S8"} <= set(more) and "Li8S4" not in more and len(more) == len(grid) + 2
    assert binary_compositions(max_atoms=2) == ["S", "S2", "LiS", "Li", "Li2"]
    with pytest.raises(RMError, match="not made of Li and S"):
        binary_compositions(extra=["NaS"])


def test_hull_rows_formation_energies_vertices_and_known_matches() -> None:
    generated = [
        crystal(li_bcc(), -1.0, name="Li"),  # E~_Li = -1
        crystal(li_bcc() * (2, 1, 1), -0.9, name="Li2"),  # above the Li reference
        crystal(sulfur(), -2.0, name="S"),  # E~_S = -2
        crystal(li2s(), -2.0, name="Li2S"),  # x = 2/3: E~_ex = -2 - (2/3)(-1) - (1/3)(-2) = -2/3
        crystal(li2s(), -5.0, converged=False, name="Li2S"),  # not converged: not in the hull
    ]
    found = [known(li2s(), "mp-1153"), known(li_bcc(), "mp-135")]
    relaxed = [crystal(li2s(), -1.5), crystal(bulk("Li", "fcc", a=4.3), -1.2)]  # Li relaxed into another structure
    rows = hull_rows(generated, found, relaxed)
    assert [r["source"] for r in rows] == ["generated"] * 5 + ["known"] * 2
    ex = [r["formation_energy_per_atom"] for r in rows]
    assert ex[:4] == pytest.approx([0.0, 0.1, 0.0, -2 / 3])
    assert ex[4] == pytest.approx(-5 + 2 / 3 + 2 / 3)  # placed against the same references
    assert ex[5:] == pytest.approx([-1.5 + 2 / 3 + 2 / 3, -0.2])
    assert [r["on_hull"] for r in rows] == [True, False, True, True, False, False, False]
    assert [r["in_hull"] for r in rows] == [True] * 4 + [False] * 3  # generated, converged only
    assert [r["e_above_hull"] for r in rows[5:]] == pytest.approx([0.5, -0.2])  # fcc Li: below the hull
    assert rows[1]["e_above_hull"] == pytest.approx(0.1)
    assert [r["x"] for r in rows[:4]] == pytest.approx([1.0, 1.0, 0.0, 2 / 3])
    assert [r["known_match"] for r in rows] == ["mp-135", "mp-135", "", "mp-1153", "", "mp-1153", ""]
    assert [r["times_generated"] for r in rows[5:]] == [1, 2]
    assert rows[3]["spacegroup"] == "Fm-3m"
    assert rows[0]["id"] == "Li#0"

    everything = hull_rows(generated, found, relaxed, converged_only=False, known_in_hull=True)
    assert [r["on_hull"] for r in everything] == [False, False, True, False, True, False, True]
    assert everything[0]["formation_energy_per_atom"] == pytest.approx(0.2)  # E~_Li is now fcc's -1.2
    assert [r["in_hull"] for r in everything] == [True] * 7

    with pytest.raises(RMError, match="elemental structure of S"):
        hull_rows(generated[:2] + generated[3:], [], [])
    with pytest.raises(RMError, match="1 relaxed structures for 2 known"):
        hull_rows(generated, found, relaxed[:1])


def write_known(path: Path, structures: dict[str, Atoms]) -> Path:
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["material_id", "spacegroup_symbol", "cif"])
        writer.writeheader()
        for mid, atoms in structures.items():
            writer.writerow({"material_id": mid, "spacegroup_symbol": "", "cif": to_pymatgen(atoms).to(fmt="cif")})
    return path


def test_read_known_structures_and_errors(tmp_path: Path) -> None:
    known_csv = write_known(tmp_path / "known.csv", {"mp-135": li_bcc(), "mp-1153": li2s()})
    found = read_known_structures(known_csv)
    assert [k.material_id for k in found] == ["mp-135", "mp-1153"] and len(found[1].structure) == 3
    with pytest.raises(RMError, match="not found"):
        read_known_structures(tmp_path / "nope.csv")
    (tmp_path / "bad.csv").write_text("id,cif\nx,y\n")
    with pytest.raises(RMError, match="no column material_id"):
        read_known_structures(tmp_path / "bad.csv")


def test_shared_known_structures() -> None:
    if not KNOWN_CSV.exists():
        pytest.skip(f"{KNOWN_CSV} not found (shared datasets only exist in the project checkout/CI)")
    found = read_known_structures(KNOWN_CSV)
    assert len(found) == 13
    assert {k.structure.composition.reduced_formula for k in found} == {"Li", "S", "Li2S", "LiS4"}
    cells = [k.structure.composition.formula.replace(" ", "") for k in found]
    grid = binary_compositions(max_atoms=12, extra=cells)
    assert {"Li8S4", "Li2S8", "S9"} <= set(grid) and "S28" not in grid and len(grid) == 44 + 3


def test_run_binary_hull_writes_csv_and_plot(li_s_checkpoint: Path, tmp_path: Path) -> None:
    found = [known(li_bcc(), "mp-135"), known(li2s(), "mp-1153")]
    out = tmp_path / "hull"
    result = run_binary_hull(li_s_checkpoint, found, out, n=2, compositions=["S", "Li", "LiS", "Li2S"], seed=0,
                             protocol=QUICK, converged_only=False)
    assert result.compositions == ["S", "Li", "LiS", "Li2S"]
    assert len(result.rows) == 4 * 2 + 2 and len(result.known) == 2
    xs = [r["x"] for r in result.vertices]
    assert xs[0] == 0.0 and xs[-1] == 1.0  # the end members are hull vertices
    assert all(r["formation_energy_per_atom"] == pytest.approx(0.0, abs=1e-9) for r in result.vertices[:: len(xs) - 1])
    assert (out / "hull.png").stat().st_size > 0 and (out / "known_relaxed.extxyz").exists()
    with open(out / "hull.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 10 and rows[0]["source"] == "generated" and rows[-1]["id"] == "mp-1153"
    assert result.summary().startswith("hull: S, ")


def test_lis_cli(li_s_checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    known_csv = write_known(tmp_path / "known.csv", {"mp-135": li_bcc(), "mp-1153": li2s()})
    out = tmp_path / "out"
    argv = ["lis", str(li_s_checkpoint), "--known", str(known_csv), "--out", str(out), "--n", "1",
            "-c", "S", "-c", "Li", "-c", "Li2S", "--protocol", "diamond", "--max-steps", "10", "--no-progress",
            "--include-unconverged"]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert text.startswith("3 compositions x 1 attempts: S, Li, Li2S")
    assert "pseudo hull vertices:" in text and text.strip().splitlines()[-1].startswith("hull: S, ")
    assert (out / "hull.csv").exists() and (out / "hull.png").exists()

    assert main(["lis", str(li_s_checkpoint), "--known", str(tmp_path / "nope.csv"), "--out", str(out)]) == 2
    assert "ase-rm lis: error: CSV file" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["lis", str(li_s_checkpoint), "--known", str(known_csv), "--out", str(out), "--elements", "Li"])
    capsys.readouterr()
    from ase_rm.cli.main import build_parser

    base = ["lis", str(li_s_checkpoint), "--known", str(known_csv), "--out", str(out)]
    assert build_parser().parse_args([*base, "--max-cell-atoms", "6"]).max_cell_atoms == 6
    with pytest.raises(SystemExit) as exc:  # the old spelling: it named the largest cell here
        main([*base, "--max-atoms", "6"])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and len(err.strip().splitlines()) == 1
    assert "--max-atoms was removed; the largest cell generated is --max-cell-atoms" in err


class FlatCalculator(Calculator):
    """A physical stand-in with no forces or stress: E = -1.9 eV per Li, -4.1 per S, and -0.3 n_Li n_S / N.

    Every structure is its own minimum, so the physical hull's energies are known exactly."""

    implemented_properties = ("energy", "forces", "stress")
    made = 0

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):  # type: ignore[no-untyped-def]
        super().calculate(atoms, properties, system_changes)
        n_li = int((self.atoms.numbers == 3).sum())
        n_s = len(self.atoms) - n_li
        self.results = {"energy": -1.9 * n_li - 4.1 * n_s - 0.3 * n_li * n_s / len(self.atoms),
                        "forces": np.zeros((len(self.atoms), 3)), "stress": np.zeros(6)}


def flat_calculator() -> Calculator:
    FlatCalculator.made += 1
    return FlatCalculator()


@pytest.fixture
def flat_mlip(monkeypatch: pytest.MonkeyPatch) -> str:
    """``module:factory`` name of :class:`FlatCalculator` (how a user names their own MLIP)."""
    module = types.ModuleType("flat_mlip_for_tests")
    module.make = flat_calculator  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, module.__name__, module)
    FlatCalculator.made = 0
    return f"{module.__name__}:make"


def test_physical_hull_relaxes_the_lowest_attempts_and_the_known_ones(flat_mlip: str, tmp_path: Path) -> None:
    generated = [crystal(li_bcc(), -1.0, name="Li"), crystal(sulfur(), -2.0, name="S"),
                 crystal(li2s(), -1.5, name="Li2S"), crystal(li2s() * (1, 1, 2), -2.0, name="Li2S"),
                 crystal(li2s(), -9.0, converged=False, name="Li2S")]  # not converged: never chosen
    generated[3].info[keys.RM_ATTEMPT] = 1
    found = [known(li2s(), "mp-1153")]
    cache = tmp_path / "physical.extxyz"
    rows, relaxed = physical_hull_rows(generated, found, "Li", flat_mlip, top=1, cache=cache)
    assert [r["id"] for r in rows] == ["Li#0", "S#0", "Li2S#1", "mp-1153"]  # the lowest-E~ Li2S attempt
    assert [r["energy_per_atom"] for r in rows] == pytest.approx([-1.9, -4.1, -2.7, -2.7])
    mixing = -0.3 * 2 * 1 / 3 / 3  # per atom, at x = 2/3
    assert [r["formation_energy_per_atom"] for r in rows] == pytest.approx([0.0, 0.0, mixing, mixing])
    assert [r["on_hull"] for r in rows] == [True, True, True, False]  # known: not in the hull by default
    assert all(s.info["csp_physical_converged"] for s in relaxed) and FlatCalculator.made == 1
    assert relaxed[2].info[keys.RM_ENERGY] == pytest.approx(-2.0 * 6)  # E~ kept beside the physical energy

    again, _ = physical_hull_rows(generated, found, "Li", flat_mlip, top=1, cache=cache)
    assert FlatCalculator.made == 1 and again == rows  # read from the cache, not relaxed again
    physical_hull_rows(generated, found, "Li", flat_mlip, top=2, cache=cache)
    assert FlatCalculator.made == 2  # other candidates: relaxed again


def test_lis_cli_with_a_physical_mlip(li_s_checkpoint: Path, flat_mlip: str, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    known_csv = write_known(tmp_path / "known.csv", {"mp-135": li_bcc(), "mp-1153": li2s()})
    out = tmp_path / "out"
    argv = ["lis", str(li_s_checkpoint), "--known", str(known_csv), "--out", str(out), "--n", "2",
            "-c", "S", "-c", "Li", "-c", "Li2S", "--protocol", "diamond", "--max-steps", "10", "--no-progress",
            "--include-unconverged", "--mlip", flat_mlip, "--mlip-top", "1"]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert f"hull on {flat_mlip}'s energy (eV/atom), vertices:" in text
    assert text.strip().splitlines()[-1].startswith("physical hull: S, ")
    with open(out / "hull_physical.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 3 + 2 and [r["source"] for r in rows].count("known") == 2
    assert (out / "physical.extxyz").exists() and (out / "hull.png").stat().st_size > 0
