"""The denoiser: published parameter counts and the model contract suite."""

from __future__ import annotations

import pytest
import torch

from ase_rm import MODEL_PRESETS, Denoiser, Potential, count_parameters
from ase_rm import testing as contracts
from ase_rm.model.angular import Invariants, monomials, nu3_keys

from .conftest import TINY, tiny_model


@pytest.mark.parametrize(("preset", "count"), [("qm7b", 16490), ("diamond", 2137), ("mp20", 16312)])
def test_published_parameter_counts(preset: str, count: int) -> None:
    assert count_parameters(Denoiser(MODEL_PRESETS[preset])) == count


def test_angular_tables() -> None:
    assert len(monomials(3)) == 20 and len(monomials(2)) == 10
    assert nu3_keys(3) == [(1, 1, 0), (1, 1, 1), (2, 1, 0), (2, 1, 1)]
    assert Invariants(3, 3).n_features == 8 and Invariants(2, 2).n_features == 3


def test_invariants_match_explicit_monomial_sums() -> None:
    """nu=2 and key (1,1,0) written out by hand for one feature vector."""
    torch.manual_seed(0)
    a = torch.randn(20, dtype=torch.float64)
    mono = monomials(3)
    idx = {m: k for k, m in enumerate(mono)}
    feats = Invariants(3, 3)(a[None])[0]
    x, y, z = (a[idx[m]] for m in [(1, 0, 0), (0, 1, 0), (0, 0, 1)])
    nu2_l1 = x * x + y * y + z * z
    assert torch.allclose(feats[1], nu2_l1)
    t2 = torch.tensor([[a[idx[(2, 0, 0)]], a[idx[(1, 1, 0)]], a[idx[(1, 0, 1)]]],
                       [a[idx[(1, 1, 0)]], a[idx[(0, 2, 0)]], a[idx[(0, 1, 1)]]],
                       [a[idx[(1, 0, 1)]], a[idx[(0, 1, 1)]], a[idx[(0, 0, 2)]]]], dtype=torch.float64)
    v = torch.stack([x, y, z])
    assert torch.allclose(feats[4], v @ t2 @ v)  # key (1,1,0)
    assert torch.allclose(feats[5], torch.trace(t2 @ t2 @ t2))  # key (1,1,1)


@pytest.mark.parametrize("preset", ["qm7b", "diamond", "mp20"])
def test_presets_pass_the_contracts(preset: str) -> None:
    model = Denoiser(MODEL_PRESETS[preset], torch.Generator().manual_seed(1), dtype=torch.float64)
    contracts.run_contracts(Potential(model))


def test_float32_contracts_hold_at_float32_tolerance() -> None:
    model = tiny_model(torch.float32)
    mol, crystal, batch = contracts.default_structures(list(TINY.species))
    pot = Potential(model)
    contracts.check_batched_equals_single(pot, batch)
    contracts.check_invariance(pot, crystal)
    out = contracts.evaluate(pot, [mol])
    ref = contracts.evaluate(Potential(tiny_model(torch.float64)), [mol])
    assert abs(out["energy"][0] - ref["energy"][0]) < 1e-4


def test_contract_suite_catches_a_broken_force() -> None:
    """The finite-difference check must fail for a potential with wrong forces."""

    class Broken(Potential):
        def forward(self, graph, forces=True, stress=False, create_graph=False):  # type: ignore[no-untyped-def]
            out = super().forward(graph, forces, stress, create_graph)
            out["forces"] = out["forces"] * 1.1
            return out

    mol, _, _ = contracts.default_structures(list(TINY.species))
    with pytest.raises(AssertionError, match="finite differences"):
        contracts.check_forces_fd(Broken(tiny_model()), mol)


def test_building_a_model_leaves_global_rng_alone() -> None:
    state = torch.random.get_rng_state()
    Denoiser(MODEL_PRESETS["qm7b"], torch.Generator().manual_seed(0))
    assert torch.equal(state, torch.random.get_rng_state())


def test_same_generator_seed_same_weights() -> None:
    a, b = tiny_model(seed=3), tiny_model(seed=3)
    c = tiny_model(seed=4)
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not all(torch.equal(sa[k], sc[k]) for k in sa)


def test_model_rejects_unknown_elements_itself() -> None:
    from ase import Atoms

    from ase_rm import UnknownElementError, build_graph
    from ase_rm.graph import Frame

    pot = Potential(tiny_model())
    graph = build_graph([Frame.from_atoms(Atoms("CSi", positions=[[0, 0, 0], [0, 0, 1.8]]))], pot.cutoff,
                        torch.float64)
    with pytest.raises(UnknownElementError, match=r"\[14\]"):
        pot(graph)
