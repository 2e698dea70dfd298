"""Pseudo convex hull of a binary system on E~ (the paper's Li-S figure, docs/method.md section 5).

Crystals A_x B_(1-x) are generated over a grid of cell compositions (default:
every (n_A, n_B) with n_A + n_B <= 8, plus the cells of the known structures
up to ``max_atoms`` atoms), known structures (a CSV with a CIF column) are
relaxed on E~, and pymatgen's PhaseDiagram on E~ of the generated structures
(optionally the known ones too) gives, per structure, E~_ex = E~ - x E~_A -
(1-x) E~_B per atom (E~_A, E~_B: the lowest elemental E~ per atom) and the
distance to the hull. Generated structures that
StructureMatcher (the paper's tolerances) finds equal to a known structure are
marked with its id.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ase.io
from ase import Atoms
from pymatgen.analysis.structure_matcher import StructureMatcher
from pymatgen.core import Composition, Element, Structure

from ase_rm import RMError
from ase_rm.keys import RM_ATTEMPT, RM_CONVERGED, RM_ENERGY, RM_FORMULA
from ase_rm.relaxation import relax
from ase_rm.rss import Protocol

from .analysis import energy_of, pseudo_phase_diagram, spacegroup
from .convert import ModelLike, load_model, to_atoms, to_pymatgen
from .csp.benchmark import match_rms
from .csp.campaign import attempt_number, canonical_formula, generate_compositions, resolve_protocol
from .csp.physical import (
    PHYSICAL_CALCULATOR,
    PHYSICAL_CONVERGED,
    PHYSICAL_ENERGY,
    CalculatorLike,
    relax_physical,
)
from .csp.predict import write_atomic
from .reference import paper_matcher, parse_cif, read_table
from .tables import write_rows

log = logging.getLogger(__name__)

GRID_ATOMS = 8
"""Default largest cell of the full composition grid (every n_A + n_B <= GRID_ATOMS)."""

HULL_COLUMNS = ("source", "id", "formula", "reduced_formula", "x", "n_atoms", "energy_per_atom",
                "formation_energy_per_atom", "e_above_hull", "on_hull", "in_hull", "converged", "spacegroup",
                "known_match", "times_generated")
"""Columns of hull.csv (energies in eV/atom; x = fraction of the first element)."""

MATERIAL_ID = "material_id"
"""info key of a relaxed known structure: its id from the CSV."""


@dataclass(frozen=True)
class KnownStructure:
    """A known crystal: ``material_id`` (e.g. "mp-1153"), the structure, and a label for plots."""

    material_id: str
    structure: Structure
    label: str = ""


def read_known_structures(path: str | os.PathLike[str]) -> list[KnownStructure]:
    """Known structures from a CSV with columns ``material_id`` and ``cif`` (``spacegroup_symbol`` optional).

    Raises:
        RMError: missing file or column, or a CIF that does not parse.
    """
    known = []
    for k, row in enumerate(read_table(path, ("material_id", "cif")), start=1):
        mid = (row["material_id"] or f"row{k}").strip()
        structure = parse_cif(row["cif"] or "", f"{path}, row {k} ({mid})")
        symbol = (row.get("spacegroup_symbol") or "").strip()
        label = f"{structure.composition.reduced_formula} {symbol}".strip()
        known.append(KnownStructure(mid, structure, label))
    return known


def binary_compositions(
    a: str = "Li", b: str = "S", max_atoms: int = 12, grid_atoms: int = GRID_ATOMS, extra: Iterable[str] = ()
) -> list[str]:
    """Cell formulas A_nA B_nB to generate, ordered by fraction of A, then size.

    Args:
        a, b: the two elements.
        max_atoms: largest cell of any composition.
        grid_atoms: every (n_A, n_B) with 1 <= n_A + n_B <= min(grid_atoms, max_atoms).
        extra: more cell formulas of A and B (e.g. the known structures' cells), kept if <= max_atoms atoms.
    """
    if max_atoms < 1 or grid_atoms < 1:
        raise RMError("max_atoms and grid_atoms must be >= 1")
    cells = {(na, nt - na) for nt in range(1, min(grid_atoms, max_atoms) + 1) for na in range(nt + 1)}
    for formula in extra:
        comp = Composition(formula)
        if set(map(str, comp.elements)) - {a, b}:
            raise RMError(f"{formula} is not made of {a} and {b}")
        cell = (int(comp[a]), int(comp[b]))
        if 0 < sum(cell) <= max_atoms:
            cells.add(cell)

    def name(cell: tuple[int, int]) -> str:
        return canonical_formula("".join(f"{el}{n}" for el, n in zip((a, b), cell, strict=True) if n))

    return [name(c) for c in sorted(cells, key=lambda c: (c[0] / sum(c), sum(c)))]


def fraction_of(structure: Structure | Atoms, element: str) -> float:
    """Atomic fraction of ``element``."""
    comp = to_pymatgen(structure).composition if isinstance(structure, Atoms) else structure.composition
    return float(comp.get_atomic_fraction(Element(element)))


def relax_known(
    model: ModelLike, known: Sequence[KnownStructure], fmax: float = 0.01, steps: int = 2000,
    device: str = "cpu", **relax_kwargs: Any,
) -> list[Atoms]:
    """Known structures relaxed on E~ (positions and cell, batched FIRE), with ``material_id`` in ``info``."""
    potential, _ = load_model(model, device=device)
    atoms = []
    for k in known:
        a = to_atoms(k.structure)
        a.info = {MATERIAL_ID: k.material_id}
        atoms.append(a)
    return relax(potential, atoms, fmax=fmax, steps=steps, cell="full", **relax_kwargs)


def _usable(atoms: Atoms, converged_only: bool) -> bool:
    energy = energy_of(atoms)
    ok = energy is not None and math.isfinite(energy)
    return ok and (bool(atoms.info.get(RM_CONVERGED)) or not converged_only)


def _matches(matcher: StructureMatcher, structure: Atoms, known: Sequence[KnownStructure]) -> list[str]:
    return [k.material_id for k in known if match_rms(matcher, k.structure, structure) is not None]


def _base_row(source: str, ident: str, atoms: Atoms, a: str) -> dict[str, Any]:
    energy = energy_of(atoms)
    converged = atoms.info.get(RM_CONVERGED)
    reduced = to_pymatgen(atoms).composition.reduced_formula
    return {"source": source, "id": ident, "formula": atoms.get_chemical_formula(mode="metal"),
            "reduced_formula": reduced, "x": fraction_of(atoms, a), "n_atoms": len(atoms),
            "energy_per_atom": None if energy is None else energy / len(atoms),
            "converged": None if converged is None else bool(converged), "known_match": ""}


def hull_rows(
    generated: Sequence[Atoms],
    known: Sequence[KnownStructure],
    known_relaxed: Sequence[Atoms],
    a: str = "Li",
    matcher: StructureMatcher | None = None,
    converged_only: bool = True,
    known_in_hull: bool = False,
    progress: bool = False,
) -> list[dict[str, Any]]:
    """One row per generated and known structure (see :data:`HULL_COLUMNS`).

    The hull (and the elemental references E~_A, E~_B) is built from the
    generated structures with a finite E~ that converged (all of them with
    ``converged_only=False``; the known ones too with ``known_in_hull``). Every
    other row still gets E~_ex and its distance to that hull (``in_hull``
    False; negative below it). Known rows' ``known_match`` is their own id if
    the relaxed structure still matches the original, and ``times_generated``
    counts the generated structures in the hull that match them.

    Raises:
        RMError: no usable elemental structure of an element (generate the end members).
    """
    from pymatgen.analysis.phase_diagram import PDEntry
    from tqdm.auto import tqdm

    if len(known) != len(known_relaxed):
        raise RMError(f"got {len(known_relaxed)} relaxed structures for {len(known)} known ones")
    matcher = matcher or paper_matcher()
    n_gen = len(generated)
    structures = [*generated, *known_relaxed]
    rows = [_base_row("generated", f"{s.info.get(RM_FORMULA, '?')}#{attempt_number(s)}", s, a) for s in generated]
    rows += [_base_row("known", k.material_id, s, a) for k, s in zip(known, known_relaxed, strict=True)]
    used = [k for k, s in enumerate(structures) if (k < n_gen or known_in_hull) and _usable(s, converged_only)]
    diagram, used_entries = pseudo_phase_diagram([structures[k] for k in used])
    entries = dict(zip(used, used_entries, strict=True))
    hull_ids = {id(e) for e in diagram.stable_entries}
    for k, (row, s) in enumerate(zip(rows, structures, strict=True)):
        energy = energy_of(s)
        row.update(in_hull=k in entries, on_hull=k in entries and id(entries[k]) in hull_ids)
        if energy is None or not math.isfinite(energy):
            continue
        entry = entries.get(k) or PDEntry(to_pymatgen(s).composition, energy)
        row["formation_energy_per_atom"] = float(diagram.get_form_energy_per_atom(entry))
        above = diagram.get_e_above_hull(entry, allow_negative=True)
        row["e_above_hull"] = None if above is None else float(above)
    checked = [k for k in range(len(structures)) if k in entries or k >= n_gen]
    counts = dict.fromkeys((k.material_id for k in known), 0)
    with tqdm(total=len(checked), desc="match", unit="structure", disable=not progress) as bar:
        for k in checked:
            rows[k]["spacegroup"] = spacegroup(structures[k])[0]
            found = _matches(matcher, structures[k], [known[k - n_gen]] if k >= n_gen else known)
            rows[k]["known_match"] = ";".join(found)
            for mid in found if k < n_gen else ():
                counts[mid] += 1
            bar.update(1)
    for k, row in enumerate(rows[n_gen:]):
        row["times_generated"] = counts[known[k].material_id]
    return rows


def physical_hull_rows(
    generated: Sequence[Atoms],
    known: Sequence[KnownStructure],
    a: str = "Li",
    calculator: CalculatorLike = "chgnet",
    top: int = 2,
    converged_only: bool = True,
    known_in_hull: bool = False,
    cache: str | os.PathLike[str] | None = None,
    matcher: StructureMatcher | None = None,
    device: str = "cpu",
    progress: bool = False,
) -> tuple[list[dict[str, Any]], list[Atoms]]:
    """The hull on a physical MLIP's energy: rows as :func:`hull_rows` gives them, and the relaxed structures.

    The ``top`` lowest-E~ usable attempts of each composition and the known
    structures (as their files give them, not relaxed on E~) are relaxed,
    positions and cell, with the MLIP (:func:`.csp.physical.relax_physical`);
    the hull is built on its energy as the pseudo one is on E~ (``converged``:
    the MLIP relaxation converged). ``cache`` (an extxyz) keeps the relaxed
    structures: a rerun with the same candidates and calculator reads them
    instead of relaxing again.
    """
    from tqdm.auto import tqdm

    by_formula: dict[str, list[Atoms]] = {}
    for s in generated:
        if _usable(s, converged_only):
            by_formula.setdefault(str(s.info.get(RM_FORMULA)), []).append(s)
    chosen = [s for group in by_formula.values()
              for s in sorted(group, key=lambda s: float(energy_of(s) or 0.0) / len(s))[:top]]
    starts = chosen + [to_atoms(k.structure) for k in known]
    name = calculator if isinstance(calculator, str) else None
    relaxed = _read_cache(cache, starts, name) if cache is not None else None
    if relaxed is None:
        with tqdm(total=len(starts), desc=f"relax on {name or 'MLIP'}", unit="structure",
                  disable=not progress) as bar:
            relaxed = relax_physical(starts, calculator, device=device, progress=bar)
        if cache is not None:
            write_atomic(relaxed, Path(cache))
    swapped = []
    for s in relaxed:  # the hull reads rm_energy/rm_converged: give it the physical ones
        copy = s.copy()
        copy.info.update({RM_ENERGY: s.info[PHYSICAL_ENERGY], RM_CONVERGED: bool(s.info[PHYSICAL_CONVERGED])})
        swapped.append(copy)
    rows = hull_rows(swapped[: len(chosen)], known, swapped[len(chosen):], a, matcher=matcher,
                     converged_only=converged_only, known_in_hull=known_in_hull, progress=progress)
    return rows, relaxed


def _read_cache(path: str | os.PathLike[str], starts: Sequence[Atoms], name: str | None) -> list[Atoms] | None:
    """The cached relaxations if they are of these starts (same formulas and attempts) with this calculator."""
    p = Path(path)
    if not p.exists() or name is None:
        return None
    cached = ase.io.read(p, index=":", format="extxyz")
    assert isinstance(cached, list)

    def key(s: Atoms) -> tuple[str, Any, Any]:
        return (s.get_chemical_formula(), s.info.get(RM_FORMULA), s.info.get(RM_ATTEMPT))

    if len(cached) != len(starts) or any(key(c) != key(s) or c.info.get(PHYSICAL_CALCULATOR) != name
                                         for c, s in zip(cached, starts, strict=True)):
        return None
    return cached


def plot_hull(rows: Sequence[dict[str, Any]], path: str | os.PathLike[str], a: str = "Li", b: str = "S",
              physical_rows: Sequence[dict[str, Any]] | None = None, physical_name: str = "MLIP") -> Path:
    """E~_ex per atom against x: generated structures (grey), those matching a known structure
    (coloured by it), the relaxed known structures (open diamonds, labelled), and the hull line.
    With ``physical_rows`` (see :func:`physical_hull_rows`), the hull on the physical
    energy is drawn beside the pseudo one."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    panels = [(rows, "E~", "E~", "pseudo convex hull on E~")]
    if physical_rows is not None:
        panels.append((physical_rows, "E", physical_name, f"convex hull on {physical_name}'s energy E"))
    fig = Figure(figsize=(7.0 * len(panels), 5.0), dpi=150)
    FigureCanvasAgg(fig)
    for k, (panel_rows, symbol, source, title) in enumerate(panels, start=1):
        ax = fig.add_subplot(1, len(panels), k)
        _draw_hull(ax, panel_rows, source, "pseudo hull" if k == 1 else f"{source} hull")
        ax.set_xlabel(f"x in {a}$_x${b}$_{{1-x}}$")
        ax.set_ylabel(f"{symbol} - x {symbol}$_{{{a}}}$ - (1-x) {symbol}$_{{{b}}}$ per atom (eV)")
        ax.set_title(f"{a}-{b} {title}")
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    return out


def _draw_hull(ax: Any, rows: Sequence[dict[str, Any]], source: str, hull_label: str) -> None:
    """One panel of :func:`plot_hull`: the points, labels, hull line and limits (axis labels by the caller)."""
    import numpy as np
    from matplotlib import colormaps

    placed = [r for r in rows if r.get("formation_energy_per_atom") is not None]
    known_ids = sorted({r["id"] for r in placed if r["source"] == "known"})
    palette = colormaps["tab20"]
    colour = {mid: palette(k % 20) for k, mid in enumerate(known_ids)}
    plain = [r for r in placed if r["source"] == "generated" and r["in_hull"] and not r["known_match"]]
    ax.scatter([r["x"] for r in plain], [r["formation_energy_per_atom"] for r in plain], s=9, color="0.65",
               edgecolors="none", label=f"generated ({len(plain)})")
    matched = [r for r in placed if r["source"] == "generated" and r["in_hull"] and r["known_match"]]
    for mid in known_ids:
        pts = [r for r in matched if mid in r["known_match"].split(";")]
        if pts:
            ax.scatter([r["x"] for r in pts], [r["formation_energy_per_atom"] for r in pts], s=30,
                       color=colour[mid], edgecolors="k", linewidths=0.4, label=f"generated = {mid} ({len(pts)})")
    stacked: dict[float, int] = {}  # labels of known structures at the same x go one under another
    for r in sorted((r for r in placed if r["source"] == "known"), key=lambda r: -r["formation_energy_per_atom"]):
        ax.scatter([r["x"]], [r["formation_energy_per_atom"]], s=70, marker="D", facecolors="none",
                   edgecolors=colour[r["id"]], linewidths=1.2)
        slot = stacked[round(r["x"], 6)] = stacked.get(round(r["x"], 6), -1) + 1
        ax.annotate(f"{r['id']} {r.get('spacegroup') or ''}".strip(), (r["x"], r["formation_energy_per_atom"]),
                    xytext=(-6 if r["x"] > 0.9 else 6, 3 - 8 * slot), textcoords="offset points", fontsize=6,
                    color=colour[r["id"]], ha="right" if r["x"] > 0.9 else "left")
    vertices = sorted((r for r in placed if r.get("on_hull")), key=lambda r: r["x"])
    ax.plot([r["x"] for r in vertices], [r["formation_energy_per_atom"] for r in vertices], "-o", color="tab:red",
            ms=4, lw=1.2, label=hull_label)
    ax.scatter([], [], s=70, marker="D", facecolors="none", edgecolors="k", label=f"known, relaxed on {source}")
    ys = np.array([r["formation_energy_per_atom"] for r in placed])
    if ys.size:
        gen_ys = np.array([r["formation_energy_per_atom"] for r in plain + matched] or [0.0])
        known_ys = [r["formation_energy_per_atom"] for r in placed if r["source"] == "known"]
        top = max(float(np.quantile(gen_ys, 0.95)), *known_ys, 0.0)
        low = float(ys.min())
        pad = 0.05 * max(top - low, 1e-3)
        ax.set_ylim(low - pad, top + pad)
    ax.axhline(0.0, color="k", lw=0.5)
    ax.set_xlim(-0.03, 1.03)
    ax.legend(fontsize=6, loc="best")


@dataclass
class HullResult:
    """hull.csv rows, the compositions generated and the files written."""

    rows: list[dict[str, Any]]
    compositions: list[str]
    elements: tuple[str, str] = ("Li", "S")
    files: list[Path] = field(default_factory=list)
    physical_rows: list[dict[str, Any]] | None = None
    """The hull on a physical MLIP's energy (see :func:`physical_hull_rows`), if one was asked for."""

    @property
    def vertices(self) -> list[dict[str, Any]]:
        """Rows on the hull, by x (one per composition: the lowest E~)."""
        return sorted((r for r in self.rows if r.get("on_hull")), key=lambda r: r["x"])

    @property
    def physical_vertices(self) -> list[dict[str, Any]]:
        """Rows on the physical hull, by x (empty without one)."""
        return sorted((r for r in self.physical_rows or () if r.get("on_hull")), key=lambda r: r["x"])

    @property
    def known(self) -> list[dict[str, Any]]:
        return [r for r in self.rows if r["source"] == "known"]

    def summary(self) -> str:
        """``hull: S, LiS4, Li2S, Li; known structures generated: 3/13 (mp-135, ...)``."""
        found = [r["id"] for r in self.known if r.get("times_generated")]
        vertices = ", ".join(r["reduced_formula"] for r in self.vertices)
        text = f"hull: {vertices}; known structures generated: {len(found)}/{len(self.known)} ({', '.join(found)})"
        if self.physical_rows is not None:
            text += f"\nphysical hull: {', '.join(r['reduced_formula'] for r in self.physical_vertices)}"
        return text


def run_binary_hull(
    model: ModelLike,
    known: str | os.PathLike[str] | Sequence[KnownStructure],
    out_dir: str | os.PathLike[str],
    n: int = 20,
    elements: tuple[str, str] = ("Li", "S"),
    max_atoms: int = 12,
    grid_atoms: int = GRID_ATOMS,
    compositions: Sequence[str] | None = None,
    seed: int = 0,
    protocol: str | Protocol = "crystal",
    max_steps: int | None = None,
    converged_only: bool = True,
    known_in_hull: bool = False,
    max_atoms_per_batch: int = 4096,
    mlip: CalculatorLike | None = None,
    mlip_top: int = 2,
    device: str = "cpu",
    progress: bool = False,
) -> HullResult:
    """Generate A_x B_(1-x) crystals, relax the known structures, build the pseudo hull, write the results.

    Args:
        model: checkpoint path, shipped name or RMCalculator.
        known: a CSV path (see :func:`read_known_structures`) or known structures, made of the two elements.
        out_dir: output folder: generated.extxyz (+ .json manifest; resumed), known_relaxed.extxyz,
            hull.csv, hull.png.
        n: attempts per composition.
        elements: (A, B); x is the fraction of A.
        max_atoms, grid_atoms: the composition grid (see :func:`binary_compositions`); the
            known structures' cells up to ``max_atoms`` are added.
        compositions: cell formulas to generate instead of the grid.
        seed: seeds every start and kick.
        protocol: generation protocol; its last stage also relaxes the known structures.
        max_steps: cap every stage at this many FIRE steps (quick checks only).
        converged_only: build the hull from converged structures only.
        known_in_hull: build the hull from the relaxed known structures too (default: generated only).
        max_atoms_per_batch: memory bound of each relaxation pool.
        mlip: also build the hull on a physical MLIP's energy (chgnet, emt, module:factory or a
            calculator; see :func:`physical_hull_rows`): physical.extxyz (reused by a rerun),
            hull_physical.csv, and hull.png with both hulls side by side.
        mlip_top: lowest-E~ attempts per composition that the MLIP relaxes.
        device: torch device.
        progress: progress bars.
    """
    a, b = elements
    found = read_known_structures(known) if isinstance(known, (str, os.PathLike)) else list(known)
    for k in found:
        if {str(el) for el in k.structure.composition.elements} - {a, b}:
            raise RMError(f"known structure {k.material_id} ({k.structure.formula}) is not made of {a} and {b}")
    cells = [k.structure.composition.formula.replace(" ", "") for k in found]
    formulas = list(compositions) if compositions else binary_compositions(a, b, max_atoms, grid_atoms, cells)
    proto = resolve_protocol(protocol, max_steps)
    out = Path(out_dir)
    generated = generate_compositions(model, formulas, out / "generated.extxyz", n, seed, proto,
                                      max_atoms_per_batch, device, progress)
    last = proto.stages[-1]
    relaxed = relax_known(model, found, fmax=last.fmax, steps=last.max_steps, device=device, maxstep=last.maxstep,
                          dt=last.dt, max_atoms_per_batch=max_atoms_per_batch) if found else []
    if relaxed:
        ase.io.write(out / "known_relaxed.extxyz", relaxed, format="extxyz")
    attempts = [s for f in formulas for s in generated[canonical_formula(f)]]
    rows = hull_rows(attempts, found, relaxed, a, converged_only=converged_only, known_in_hull=known_in_hull,
                     progress=progress)
    write_rows(rows, HULL_COLUMNS, out / "hull.csv")
    result = HullResult(rows, [canonical_formula(f) for f in formulas], (a, b))
    result.files = [out / "hull.csv"]
    name = "MLIP"
    if mlip is not None:
        result.physical_rows, physical = physical_hull_rows(
            attempts, found, a, mlip, mlip_top, converged_only, known_in_hull, out / "physical.extxyz",
            device=device, progress=progress)
        write_rows(result.physical_rows, HULL_COLUMNS, out / "hull_physical.csv")
        result.files += [out / "physical.extxyz", out / "hull_physical.csv"]
        name = str(physical[0].info.get(PHYSICAL_CALCULATOR, name)) if physical else name
    result.files.append(plot_hull(rows, out / "hull.png", a, b, result.physical_rows, name))
    result.files += [out / "known_relaxed.extxyz"] if relaxed else []
    return result
