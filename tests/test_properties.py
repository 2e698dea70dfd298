"""Property-based tests (hypothesis) of the public entry points: whatever goes in,
the only outcomes are a result or one clear typed error; no NaN in a result and
no partial file left behind."""

from __future__ import annotations

import contextlib
import functools
import io
import os
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch
from ase import Atoms
from ase.build import molecule
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir

from ase_rm import Potential, RMError
from ase_rm.checkpoint import CheckpointError, load_potential
from ase_rm.cli.main import main
from ase_rm.relaxation import relax
from ase_rm.rss import expand_compositions
from ase_rm.rss.preflight import check_request

from .conftest import TINY, tiny_model

set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "ase_rm_hypothesis")  # its caches stay out of the checkout

FAST = settings(max_examples=int(os.environ.get('ASE_RM_FUZZ_EXAMPLES', 25)), deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

NUMBERS = st.one_of(st.integers(-5, 5).map(str), st.sampled_from(["0", "-0.0", "1e9", "nan", "inf", "-inf", "x", ""]),
                    st.floats(allow_nan=True, allow_infinity=True).map(str))


@st.composite
def argv_vectors(draw: st.DrawFn, folder: Path) -> list[str]:
    """A subcommand with random values of its numeric options, on missing inputs."""
    missing = str(folder / "missing.extxyz")
    out = str(folder / "out" / "o.extxyz")
    command = draw(st.sampled_from(["generate", "relax", "noise", "select"]))
    options = {
        "generate": ["--n", "--seed", "--batch-atoms", "--best-of", "--formula-units", "--volume-per-atom", "--box"],
        "relax": ["--fmax", "--steps", "--pressure", "--batch-atoms"],
        "noise": ["--seed", "--epoch"],
        "select": ["--lowest"],
    }[command]
    head = {
        "generate": ["generate", "no-model", "-c", draw(st.sampled_from(["CH4", "Og2", "C0", "", "H-1"])),
                     "--out", out],
        "relax": ["relax", "no-model", missing, out],
        "noise": ["noise", missing, out],
        "select": ["select", missing, out],
    }[command]
    chosen = draw(st.lists(st.sampled_from(options), unique=True, max_size=3))
    tail = [x for flag in chosen for x in (flag, draw(NUMBERS))]
    if command == "select" and "--lowest" not in chosen:
        tail += ["--first", draw(NUMBERS)]
    return [*head, *tail]


@FAST
@given(data=st.data())
def test_cli_argument_vectors_end_in_one_line(data: st.DataObject, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    argv = data.draw(argv_vectors(tmp_path))
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse: usage line, then one error line
        code = exc.code
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2, argv  # every input is missing: never a success
    assert err and err[-1].startswith(f"ase-rm {argv[0]}: error:") and not any("Traceback" in e for e in err)
    assert not (tmp_path / "out").exists()


FORMULA = st.text(alphabet="CHNOSiFeOgXx()0123456789-.·+ ", max_size=12)


@FAST
@given(formula=FORMULA, enumerate_h=st.booleans(), units=st.integers(1, 3))
def test_composition_strings_parse_or_raise_typed(formula: str, enumerate_h: bool, units: int) -> None:
    try:
        comps = expand_compositions(formula, enumerate_h=enumerate_h, formula_units=units)
    except RMError:
        return
    assert comps and all(n > 0 for comp in comps for _, n in comp)
    with contextlib.suppress(RMError):  # unknown elements or too many atoms: typed; anything else fails
        check_request(comps, _molecule_spec(), TINY.species, None)


def _molecule_spec() -> object:
    from ase_rm.rss import get_protocol

    return get_protocol("molecule").start


FLOATS = st.floats(min_value=-50, max_value=50, allow_nan=False) | st.sampled_from([np.nan, np.inf, 0.0])


@st.composite
def atoms_objects(draw: st.DrawFn) -> Atoms:
    n = draw(st.integers(0, 5))
    numbers = draw(st.lists(st.sampled_from([1, 6, 7, 8, 8, 26]), min_size=n, max_size=n))
    positions = draw(st.lists(st.tuples(FLOATS, FLOATS, FLOATS), min_size=n, max_size=n))
    periodic = draw(st.booleans())
    cell = np.array(draw(st.lists(FLOATS, min_size=9, max_size=9))).reshape(3, 3) if periodic else np.zeros((3, 3))
    return Atoms(numbers=numbers, positions=np.array(positions).reshape(-1, 3), cell=cell, pbc=periodic)


@pytest.fixture(scope="module")
def potential() -> Potential:
    return Potential(tiny_model()).eval()


@FAST
@given(atoms=atoms_objects(), cell=st.sampled_from([None, "full"]))
def test_relaxing_any_atoms_gives_finite_results_or_a_typed_error(atoms: Atoms, cell: str | None,
                                                                 potential: Potential) -> None:
    before = atoms.copy()
    try:
        (result,) = relax(potential, [atoms], steps=3, cell=cell if atoms.pbc.all() else None)
    except RMError:
        return
    finally:
        assert np.array_equal(atoms.positions, before.positions, equal_nan=True)  # inputs are never mutated
    assert np.isfinite(result.positions).all() and np.isfinite(result.cell.array).all()
    assert np.isfinite(result.info["rm_energy"])


@functools.cache
def checkpoint_bytes() -> bytes:
    from ase_rm.checkpoint import make_checkpoint

    buf = io.BytesIO()
    torch.save(make_checkpoint(tiny_model()), buf)
    return buf.getvalue()


MUTATIONS = st.one_of(
    st.tuples(st.just("truncate"), st.floats(0, 0.999)),
    st.tuples(st.just("flip"), st.lists(st.tuples(st.floats(0, 0.999), st.integers(1, 255)), min_size=1, max_size=8)),
    st.tuples(st.just("random"), st.binary(max_size=256)),
)


def mutate(raw: bytes, mutation: tuple[str, object]) -> bytes:
    how, arg = mutation
    if how == "truncate":
        return raw[: int(float(arg) * len(raw))]  # type: ignore[arg-type]
    if how == "flip":
        out = bytearray(raw)
        for where, bits in arg:  # type: ignore[attr-defined]
            out[int(where * len(raw))] ^= bits
        return bytes(out)
    return bytes(arg)  # type: ignore[call-overload]


@FAST
@given(mutation=MUTATIONS)
def test_any_checkpoint_bytes_load_or_raise_checkpoint_error(mutation: tuple[str, object], tmp_path: Path) -> None:
    path = tmp_path / "fuzzed.pt"
    path.write_bytes(mutate(checkpoint_bytes(), mutation))
    try:
        potential, _ = load_potential(path)
    except CheckpointError as exc:
        assert "weights_only" not in str(exc) and "\n" not in str(exc)
        return
    try:
        (result,) = relax(potential, [molecule("CH4")], steps=2)
    except FloatingPointError as exc:  # finite but absurd weights: the relaxation stops with one line
        assert "non-finite" in str(exc)
        return
    assert np.isfinite(result.info["rm_energy"]) and np.isfinite(result.positions).all()
