"""The ``csp`` generation signal: match rate of crystals generated on validation compositions."""

from __future__ import annotations

import pytest

pytest.importorskip("pymatgen")

from ase.build import bulk  # noqa: E402

from ase_rm.keys import RM_CONVERGED, RM_ENERGY, RM_FORMULA  # noqa: E402
from ase_rm.training.signal import GenerationSignal, SignalSpec, get_scorer  # noqa: E402


def _attempt(atoms, energy: float, converged: bool = True):  # type: ignore[no-untyped-def]
    atoms = atoms.copy()
    atoms.info.update({RM_FORMULA: "Cl4Na4", RM_ENERGY: energy, RM_CONVERGED: converged})
    return atoms


def test_csp_signal_counts_a_match_at_k_and_at_1() -> None:
    scorer = get_scorer("csp")  # the entry point of the pymatgen plugin
    truth = bulk("NaCl", "rocksalt", a=5.64, cubic=True)
    rattled = truth.copy()
    rattled.rattle(0.02, seed=1)
    wrong = bulk("NaCl", "wurtzite", a=4.0, c=6.5) * (1, 1, 2)  # 4 formula units, another structure type
    refs = {"Cl4Na4": [truth]}
    assert scorer([_attempt(wrong, -2.0), _attempt(rattled, -1.0)], refs) == {
        "score": 1.0, "match_at_k": 1.0, "match_at_1": 0.0, "converged": 1.0}
    assert scorer([_attempt(wrong, -1.0), _attempt(rattled, -2.0)], refs)["match_at_1"] == 1.0
    # a match that did not converge does not count
    out = scorer([_attempt(wrong, -1.0), _attempt(rattled, -2.0, converged=False)], refs)
    assert out["score"] == 0.0 and out["converged"] == 0.5


def test_csp_signal_runs_inside_a_generation_signal() -> None:
    """Crystal validation structures make the signal use the crystal protocol; the score is a rate."""
    from ase_rm import load_potential

    valid = [bulk("NaCl", "rocksalt", a=5.64), bulk("Si", "diamond", a=5.43)]
    signal = GenerationSignal(SignalSpec("csp", compositions=2, attempts=2), valid,
                              element_volumes={11: 37.7, 17: 25.0, 14: 20.0})
    assert signal.protocol.name == "crystal"
    potential, _ = load_potential("mp20")
    out = signal(potential.model)
    assert set(out) >= {"gen_score", "gen_match_at_k", "gen_match_at_1", "gen_converged", "gen_seconds"}
    assert 0.0 <= out["gen_match_at_1"] <= out["gen_match_at_k"] <= 1.0
