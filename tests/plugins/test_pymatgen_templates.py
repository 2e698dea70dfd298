"""ase_rm_pymatgen.templates: known structure types as crystal starts (``ase-rm csp --starts template``)."""

from __future__ import annotations

import gzip
import json
from dataclasses import replace
from pathlib import Path

import ase.io
import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk

pytest.importorskip("pymatgen")
pytest.importorskip("spglib")

from ase_rm_pymatgen import read_csp_targets, to_pymatgen  # noqa: E402
from ase_rm_pymatgen.campaign import generate_compositions  # noqa: E402
from ase_rm_pymatgen.templates import (  # noqa: E402
    START_KIND,
    START_TEMPLATE,
    START_TEMPLATE_FORMULA,
    TemplateLibrary,
    TemplateStarts,
    _compact_repeat,
    anonymous_key,
    mendeleev_number,
)
from pymatgen.analysis.structure_matcher import StructureMatcher  # noqa: E402

from ase_rm import RMError  # noqa: E402
from ase_rm.cli.main import main  # noqa: E402
from ase_rm.rss import Stage, composition_numbers, get_protocol, parse_formula  # noqa: E402

from ..test_select import _script  # noqa: E402
from .test_pymatgen_csp import QUICK, rocksalt, run_script, write_targets  # noqa: E402

MATCHER = StructureMatcher(stol=0.5, ltol=0.3, angle_tol=10)
VOLUMES = {3: 20.0, 11: 24.0, 16: 25.0, 17: 25.0}


def named(atoms: Atoms, name: str) -> Atoms:
    atoms.info["material_id"] = name
    return atoms


def library_atoms() -> list[Atoms]:
    """KBr and NaF (rock salt), CsCl (B2), ZnS (zinc blende), Cu (one element), and a
    conventional 8-atom rock salt (too many atoms for a 4-atom target)."""
    return [named(bulk("KBr", "rocksalt", a=6.6), "kbr"), named(bulk("NaF", "rocksalt", a=4.6), "naf"),
            named(bulk("CsCl", "cesiumchloride", a=4.1), "cscl"), named(bulk("ZnS", "zincblende", a=5.4), "zns"),
            named(bulk("Cu", "fcc", a=3.6), "cu"), named(bulk("LiF", "rocksalt", a=4.0, cubic=True), "lif8")]


def test_anonymous_key_and_mendeleev_numbers() -> None:
    assert anonymous_key([27, 27, 51, 51]) == (1, 1)
    assert anonymous_key([47] * 6 + [8] * 2) == (1, 3)
    assert anonymous_key([19, 30, 9, 9, 9]) == (1, 1, 3)
    # Pettifor's scale puts alike elements near: Na is closer to K (alkali) than to Cl (halogen)
    assert abs(mendeleev_number(11) - mendeleev_number(19)) < abs(mendeleev_number(11) - mendeleev_number(17))


def test_candidates_ranking_and_distinct_types() -> None:
    lib = TemplateLibrary(library_atoms())
    target = composition_numbers(parse_formula("Na2Cl2"))
    cands = lib.candidates(target)
    # KBr, NaF, CsCl, ZnS (2 atoms each, dividing 4), each with both assignments; not Cu, not the 8-atom cell
    assert sorted({c.template for c in cands}) == [0, 1, 2, 3] and len(cands) == 8
    ranked = lib.ranked(target)
    assert len({c.kind for c in ranked}) == len(ranked)
    best = ranked[0]
    # The closest chemistry is KBr with Na on K and Cl on Br: (|M(K) - M(Na)| + |M(Br) - M(Cl)|) / 2
    m = mendeleev_number
    assert lib.name(best.template) == "kbr" and dict(best.mapping) == {19: 11, 35: 17}
    assert best.score == pytest.approx((abs(m(19) - m(11)) + abs(m(35) - m(17))) / 2)
    assert [c.score for c in ranked] == sorted(c.score for c in ranked)
    # NaF is a rock salt too, less alike (|M(F) - M(Cl)| / 2 = 1.5 > 1), so KBr stands for it
    assert "naf" not in {lib.name(c.template) for c in ranked}
    assert {lib.name(c.template) for c in ranked} == {"kbr", "cscl", "zns"}
    # Types are told apart by space group and the Wyckoff letters of each element, so the
    # two ways round of a binary count separately (6 = 3 structures x 2 assignments)
    assert len(ranked) == 6


def test_build_is_the_template_with_the_target_elements_at_the_start_volume() -> None:
    lib = TemplateLibrary(library_atoms())
    target = composition_numbers(parse_formula("Na2Cl2"))
    best = lib.ranked(target)[0]
    atoms = lib.build(best, 4, volume=4 * 24.5)
    assert atoms.get_chemical_formula() == "Cl2Na2" and atoms.get_volume() == pytest.approx(98.0)
    assert atoms.info[START_KIND] == "template" and atoms.info[START_TEMPLATE] == "kbr"
    assert atoms.info[START_TEMPLATE_FORMULA] == "BrK"
    assert MATCHER.fit(to_pymatgen(atoms), rocksalt())
    cscl = next(c for c in lib.ranked(target) if lib.name(c.template) == "cscl")
    assert not MATCHER.fit(to_pymatgen(lib.build(cscl, 4, 98.0)), rocksalt())


def test_compact_repeat() -> None:
    assert sorted(_compact_repeat(np.array([1.0, 1.0, 1.0]), 4)) == [1, 2, 2]
    assert _compact_repeat(np.array([1.0, 1.0, 4.0]), 4) == (2, 2, 1)
    assert _compact_repeat(np.array([3.0, 3.0, 3.0]), 1) == (1, 1, 1)
    assert sorted(_compact_repeat(np.array([2.0, 2.0, 2.0]), 8)) == [2, 2, 2]


def test_exclude_same_formula_and_bad_libraries() -> None:
    lib = TemplateLibrary([*library_atoms(), named(bulk("NaCl", "rocksalt", a=5.6), "nacl")])
    target = composition_numbers(parse_formula("NaCl"))
    assert "nacl" in {lib.name(c.template) for c in lib.candidates(target)}
    assert "nacl" not in {lib.name(c.template) for c in lib.candidates(target, exclude_same_formula=True)}
    assert lib.ranked(target)[0].score == 0.0  # NaCl itself, when it may be used
    with pytest.raises(RMError, match="holds no structures"):
        TemplateLibrary([])
    with pytest.raises(RMError, match="not a periodic crystal"):
        TemplateLibrary([Atoms("H2", positions=[[0, 0, 0], [0, 0, 0.74]])])


def test_template_starts_by_attempt_then_random() -> None:
    lib = TemplateLibrary(library_atoms())
    starts = TemplateStarts(lib, stride=100)
    spec = get_protocol("crystal").start
    comp = parse_formula("Na2Cl2")
    n_types = len(lib.ranked(composition_numbers(comp)))
    rng = np.random.default_rng
    first = starts(spec, comp, rng(0), VOLUMES, attempt=300)  # attempt 0 of its composition
    again = starts(spec, comp, rng(5), VOLUMES, attempt=700)
    np.testing.assert_allclose(first.positions, again.positions)  # the template, not the rng, decides
    assert first.info[START_TEMPLATE] == "kbr" and first.get_volume() == pytest.approx(2 * 24.0 + 2 * 25.0)
    second = starts(spec, comp, rng(0), VOLUMES, attempt=301)
    assert second.info[START_KIND] == "template" and second.info[START_TEMPLATE] == "cscl"
    past = starts(spec, comp, rng(0), VOLUMES, attempt=n_types)
    assert past.info[START_KIND] == "random" and START_TEMPLATE not in past.info
    assert len(past) == 4
    molecule = starts(get_protocol("molecule").start, parse_formula("CH4"), rng(0), None, attempt=0)
    assert not molecule.pbc.any() and START_KIND not in molecule.info
    with pytest.raises(ValueError, match="stride"):
        TemplateStarts(lib, stride=0)


def test_campaign_and_cli_with_template_starts(salt_checkpoint: Path, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    templates = tmp_path / "templates.extxyz"
    ase.io.write(templates, library_atoms())
    out = tmp_path / "gen.extxyz"
    quick = replace(QUICK, stages=(Stage(cell="full", fmax=0.05, max_steps=3, name="quick"),))
    made = generate_compositions(salt_checkpoint, ["Na2Cl2"], out, n=2, seed=1, protocol=quick, starts="template",
                                 templates=templates)
    assert [a.info[START_KIND] for a in made["Na2Cl2"]] == ["template", "template"]
    manifest = json.loads(out.with_suffix(".json").read_text())
    assert manifest["starts"] == "template" and manifest["templates"] == "templates.extxyz"
    assert len(manifest["templates_sha256"]) == 64
    other = tmp_path / "other.extxyz"
    ase.io.write(other, library_atoms()[:3])
    with pytest.raises(RMError, match="different template file"):
        generate_compositions(salt_checkpoint, ["Na2Cl2"], out, n=2, seed=1, protocol=quick, starts="template",
                              templates=other)
    with pytest.raises(RMError, match="need a template file"):
        generate_compositions(salt_checkpoint, ["Na2Cl2"], tmp_path / "a.extxyz", n=1, protocol=quick,
                              starts="template")
    with pytest.raises(RMError, match="only used with starts='template'"):
        generate_compositions(salt_checkpoint, ["Na2Cl2"], tmp_path / "b.extxyz", n=1, protocol=quick,
                              templates=templates)

    targets = write_targets(tmp_path / "targets.csv", [{"composition": "Na2Cl2", "cif": rocksalt().to(fmt="cif")}])
    argv = ["csp", str(salt_checkpoint), "--compositions", str(targets), "--n", "2", "--max-steps", "3",
            "--no-progress", "--no-ground-truth-check"]
    # --starts template alone takes the shipped prototype library
    assert main([*argv, "--out", str(tmp_path / "builtin"), "--starts", "template"]) == 0
    capsys.readouterr()
    assert main([*argv, "--out", str(tmp_path / "cli"), "--starts", "template", "--templates", str(templates)]) == 0
    frames = ase.io.read(tmp_path / "cli" / "generated.extxyz", ":")
    assert [f.info[START_KIND] for f in frames] == ["template", "template"]


def test_quiet_spglib_turns_the_c_warnings_off_for_the_block(monkeypatch: pytest.MonkeyPatch) -> None:
    """spglib's C code prints 'spglib: ... failed' lines unless SPGLIB_WARNING is OFF; the
    template ranking symmetrises thousands of cells, so the block turns them off, and leaves
    a value the user set alone."""
    import os

    from ase_rm_pymatgen.analysis import quiet_spglib

    monkeypatch.delenv("SPGLIB_WARNING", raising=False)
    with quiet_spglib():
        assert os.environ["SPGLIB_WARNING"] == "OFF"
    assert "SPGLIB_WARNING" not in os.environ
    monkeypatch.setenv("SPGLIB_WARNING", "ON")
    with quiet_spglib():
        assert os.environ["SPGLIB_WARNING"] == "ON"
    assert os.environ["SPGLIB_WARNING"] == "ON"


def _cif(atoms: Atoms) -> str:
    return str(to_pymatgen(atoms).to(fmt="cif"))


def test_template_rules_script_finds_the_type_each_rule_puts_first(tmp_path: Path) -> None:
    """experiments/mp20/template_rules.py, no relaxation. KCl (rock salt): KBr is the most alike
    template and a rock salt, so similarity and frequency (two rock salts in the library) start
    with it. CsBr (CsCl type): CsCl is the most alike (0.5 against 1.0 for KBr), but the rock-salt
    types are the most frequent, so frequency reaches CsCl third. KBr (rock salt): its own formula
    is left out, and CsCl (1.5) is more alike than NaF (2.5), so similarity matches second."""
    templates = tmp_path / "templates.extxyz"
    ase.io.write(templates, library_atoms())
    truths = {"KCl": bulk("KCl", "rocksalt", a=6.3), "CsBr": bulk("CsBr", "cesiumchloride", a=4.3),
              "KBr": bulk("KBr", "rocksalt", a=6.6)}
    targets = write_targets(tmp_path / "targets.csv",
                            [{"composition": k, "cif": _cif(v)} for k, v in truths.items()])
    out = run_script("template_rules.py", str(targets), str(templates), "--n", "4")
    rows = {line.split("|")[1].strip(): [x.strip() for x in line.strip("|").split("|")[1:]]
            for line in out.splitlines() if line.startswith("| ") and not line.startswith("| composition")}
    header = next(line for line in out.splitlines() if line.startswith("| composition"))
    rules = [x.strip() for x in header.strip("|").split("|")[2:]]
    assert rules == ["random", "frequency", "similarity", "freqsim"]
    first = {k: dict(zip(rules, rows[k][1:], strict=True)) for k in truths}
    assert first["KCl"]["similarity"] == "0" and first["KCl"]["frequency"] == "0"
    assert first["CsBr"]["similarity"] == "0" and first["CsBr"]["frequency"] == "2"
    assert first["KBr"]["similarity"] == "1"
    assert rows["similarity"] == ["2/3", "3/3", "3/3"]  # first start, first 5, first n = 4
    assert rows["frequency"] == ["1/3", "3/3", "3/3"]


def test_val_targets_script_keeps_new_formulas_of_the_asked_size(tmp_path: Path) -> None:
    """experiments/mp20/val_targets.py: one row per new reduced formula, 2-3 elements, 4-20 atoms."""
    module = _script("val_targets", "mp20")
    structures = {"nacl": bulk("NaCl", "rocksalt", a=5.6, cubic=True),  # kept
                  "nacl2": bulk("NaCl", "rocksalt", a=5.7, cubic=True),  # the same reduced formula
                  "kbr": bulk("KBr", "rocksalt", a=6.6, cubic=True),  # in the train file
                  "cu": bulk("Cu", "fcc", a=3.6, cubic=True),  # one element
                  "lif": bulk("LiF", "rocksalt", a=4.0),  # 2 atoms
                  "zns": bulk("ZnS", "zincblende", a=5.4, cubic=True)}  # kept
    val = [{"material_id": k, "cif": _cif(v)} for k, v in structures.items()]
    kept = module.draw_targets(val, {"KBr"}, n=10, seed=0)
    assert sorted(r["material_id"] for r in kept if r["material_id"] != "nacl2") == ["nacl", "zns"]
    assert len(kept) == 2 and {r["composition"] for r in kept} == {"Na4Cl4", "Zn4S4"}
    assert len(module.draw_targets(val, {"KBr"}, n=1, seed=0)) == 1
    write_targets(tmp_path / "val.csv", val)
    with gzip.open(tmp_path / "train.csv.gz", "wt") as fh:
        fh.write("pretty_formula,cif\nKBr,x\n")
    module.main([str(tmp_path / "val.csv"), str(tmp_path / "train.csv.gz"), str(tmp_path / "out.csv")])
    assert sorted(t.reduced_formula for t in read_csp_targets(tmp_path / "out.csv")) == ["NaCl", "ZnS"]


def test_template_volume_scales_the_templates_own_volume_by_the_fit() -> None:
    """volume="template": KBr's cell (a = 6.6, 71.9 Å^3 per 2 atoms) times 2 for Na2Cl2, times
    fit(Na2Cl2) / fit(K2Br2); the fit where an element has no fitted volume or the protocol
    sets the volume."""
    lib = TemplateLibrary(library_atoms())
    spec = get_protocol("crystal").start
    comp = parse_formula("Na2Cl2")
    starts = TemplateStarts(lib, stride=100, volume="template")
    volumes = {11: 24.0, 17: 25.0, 19: 40.0, 35: 30.0}
    atoms = starts(spec, comp, np.random.default_rng(0), volumes, attempt=0)
    assert atoms.info[START_TEMPLATE] == "kbr"
    assert atoms.get_volume() == pytest.approx(2 * 6.6**3 / 4 * (2 * 49.0) / (2 * 70.0))
    fit = TemplateStarts(lib, stride=100)(spec, comp, np.random.default_rng(0), volumes, attempt=0)
    assert fit.get_volume() == pytest.approx(98.0)
    no_k = starts(spec, comp, np.random.default_rng(0), {11: 24.0, 17: 25.0, 35: 30.0}, attempt=0)
    assert no_k.get_volume() == pytest.approx(98.0)
    fixed = starts(replace(spec, volume_per_atom=30.0), comp, np.random.default_rng(0), volumes, attempt=0)
    assert fixed.get_volume() == pytest.approx(120.0)
    with pytest.raises(ValueError, match="volume must be one of"):
        TemplateStarts(lib, stride=100, volume="cell")


def test_campaign_takes_configured_template_starts(salt_checkpoint: Path, tmp_path: Path) -> None:
    """A TemplateStarts (here volume="template") goes in as templates=; the manifest records its
    volume choice, so resuming with the default is refused, as is another stride."""
    from ase_rm_pymatgen.campaign import ATTEMPT_STRIDE

    lib = TemplateLibrary(library_atoms())
    out = tmp_path / "gen.extxyz"
    quick = replace(QUICK, stages=(Stage(cell="full", fmax=0.05, max_steps=2, name="quick"),))
    made = generate_compositions(salt_checkpoint, ["Na2Cl2"], out, n=1, protocol=quick, starts="template",
                                 templates=TemplateStarts(lib, ATTEMPT_STRIDE, volume="template"))
    assert made["Na2Cl2"][0].info[START_TEMPLATE] == "kbr"
    assert json.loads(out.with_suffix(".json").read_text())["template_volume"] == "template"
    with pytest.raises(RMError, match="different template volume"):
        generate_compositions(salt_checkpoint, ["Na2Cl2"], out, n=1, protocol=quick, starts="template",
                              templates=lib)
    with pytest.raises(RMError, match="needs stride ATTEMPT_STRIDE"):
        generate_compositions(salt_checkpoint, ["Na2Cl2"], tmp_path / "b.extxyz", n=1, protocol=quick,
                              starts="template", templates=TemplateStarts(lib, 7))
    fit = tmp_path / "fit.extxyz"  # the default leaves the key out (as manifests before it)
    generate_compositions(salt_checkpoint, ["Na2Cl2"], fit, n=1, protocol=quick, starts="template", templates=lib)
    assert "template_volume" not in json.loads(fit.with_suffix(".json").read_text())


def test_csp_template_volume_script(salt_checkpoint: Path, tmp_path: Path) -> None:
    """experiments/mp20/csp_template_volume.py: a csp run whose manifest records the volume choice."""
    templates = tmp_path / "templates.extxyz"
    ase.io.write(templates, library_atoms())
    targets = write_targets(tmp_path / "targets.csv", [{"composition": "Na2Cl2", "cif": rocksalt().to(fmt="cif")}])
    out = run_script("csp_template_volume.py", str(salt_checkpoint), str(targets), str(templates),
                     str(tmp_path / "run"), "--n", "2", "--max-steps", "2")
    assert "Na2Cl2" in out and "(any of 2)" in out
    manifest = json.loads((tmp_path / "run" / "generated.json").read_text())
    assert manifest["starts"] == "template" and manifest["template_volume"] == "template"
