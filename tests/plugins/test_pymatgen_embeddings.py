"""ase_rm_pymatgen element embeddings: periodic-table groups, PCA, the embedding tables, ``ase-rm embeddings``."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("pymatgen")
pytest.importorskip("matplotlib")

from ase_rm_pymatgen import element_embeddings, embedding_pca, pca, periodic_group  # noqa: E402

from ase_rm import Denoiser, ModelConfig, RMCalculator, RMError  # noqa: E402
from ase_rm.checkpoint import atomic_save, make_checkpoint  # noqa: E402
from ase_rm.cli.main import main  # noqa: E402

ALKALI = (3, 11, 19, 37)  # Li Na K Rb
ALKALINE_EARTH = (4, 12, 20, 38)  # Be Mg Ca Sr
HALOGENS = (9, 17)  # F Cl (untrained in the checkpoint below)


def test_periodic_groups() -> None:
    expected = {1: "1", 2: "18", 3: "1", 4: "2", 5: "13", 10: "18", 11: "1", 13: "13", 18: "18", 19: "1",
                21: "3", 26: "8", 30: "12", 31: "13", 36: "18", 37: "1", 39: "3", 47: "11", 54: "18", 55: "1",
                56: "2", 57: "Ln", 71: "Ln", 72: "4", 79: "11", 80: "12", 81: "13", 86: "18", 87: "1", 88: "2",
                89: "An", 94: "An", 103: "An", 104: "4", 118: "18"}
    assert {z: periodic_group(z) for z in expected} == expected
    with pytest.raises(RMError):
        periodic_group(0)


def test_pca_recovers_known_directions() -> None:
    rng = np.random.default_rng(0)
    basis, _ = np.linalg.qr(rng.normal(size=(5, 5)))
    u, v = basis[:, 0], basis[:, 1]
    a, b = rng.normal(size=200) * 3.0, rng.normal(size=200) * 1.0  # variance 9 along u, 1 along v
    x = 7.0 + np.outer(a, u) + np.outer(b, v) + 0.01 * rng.normal(size=(200, 5))
    result = pca(x, 2)
    assert abs(result.components[0] @ u) == pytest.approx(1.0, abs=1e-3)
    assert abs(result.components[1] @ v) == pytest.approx(1.0, abs=1e-3)
    assert result.explained_variance_ratio[0] > result.explained_variance_ratio[1] > 0
    assert result.explained_variance_ratio.sum() == pytest.approx(1.0, abs=1e-3)
    assert result.explained_variance_ratio[0] / result.explained_variance_ratio[1] == pytest.approx(
        a.var() / b.var(), rel=0.05)
    np.testing.assert_allclose(result.scores, (x - x.mean(axis=0)) @ result.components.T)
    for comp in result.components:  # deterministic sign: largest entry positive
        assert comp[np.abs(comp).argmax()] > 0
    with pytest.raises(RMError):
        pca(x[:1], 2)
    with pytest.raises(RMError):
        pca(x, 6)


def checkpoint(tmp_path: Path, separate_receiver: bool = True) -> Path:
    """A model whose sender embedding puts alkali metals at +3 and alkaline earths at -3 along one direction."""
    species = tuple(sorted(ALKALI + ALKALINE_EARTH + HALOGENS))
    config = ModelConfig(species=species, cutoff=3.5, n_embedding=3, separate_receiver=separate_receiver, hidden=(8,))
    model = Denoiser(config, torch.Generator().manual_seed(0), dtype=torch.float64)
    direction = np.array([2.0, -1.0, 2.0]) / 3.0
    rng = np.random.default_rng(1)
    table = np.array([(3.0 if z in ALKALI else -3.0) * direction + 0.05 * rng.normal(size=3) for z in species])
    with torch.no_grad():
        model.sender_embedding.copy_(torch.as_tensor(table))
    trained = {z: 20.0 for z in ALKALI + ALKALINE_EARTH}  # volume_fit: the elements of the training set
    path = tmp_path / "emb.pt"
    atomic_save(make_checkpoint(model, volume_fit=trained), path)
    return path


def test_embedding_tables_and_their_pca(tmp_path: Path) -> None:
    path = checkpoint(tmp_path)
    emb = element_embeddings(path)
    assert emb.numbers == tuple(sorted(ALKALI + ALKALINE_EARTH)) and emb.table.shape == (8, 3)
    assert len(element_embeddings(path, all_elements=True).numbers) == 10
    assert element_embeddings(path, "both").table.shape == (8, 6)
    np.testing.assert_allclose(element_embeddings(path, "both").table[:, :3], emb.table)
    assert element_embeddings(path, "receiver").table.shape == (8, 3)

    emb, result = embedding_pca(path, tmp_path / "pca.png")
    assert (tmp_path / "pca.png").stat().st_size > 0
    assert result.explained_variance_ratio[0] > 0.99
    assert abs(result.components[0] @ np.array([2.0, -1.0, 2.0]) / 3.0) == pytest.approx(1.0, abs=1e-2)
    pc1 = dict(zip(emb.numbers, result.scores[:, 0], strict=True))
    side = np.sign(pc1[3])
    assert all(np.sign(pc1[z]) == side for z in ALKALI) and all(np.sign(pc1[z]) == -side for z in ALKALINE_EARTH)

    calc = RMCalculator.from_checkpoint(path)  # a loaded calculator works as well
    np.testing.assert_allclose(element_embeddings(calc).table, emb.table, atol=1e-6)


def test_embedding_errors(tmp_path: Path) -> None:
    path = checkpoint(tmp_path, separate_receiver=False)
    with pytest.raises(RMError, match="no separate receiver embedding"):
        element_embeddings(path, "receiver")
    with pytest.raises(RMError, match="which must be"):
        element_embeddings(path, "neither")
    one = ModelConfig(species=(6,), n_embedding=1, cutoff=3.5, hidden=(8,))
    atomic_save(make_checkpoint(Denoiser(one, torch.Generator().manual_seed(0))), tmp_path / "c.pt")
    with pytest.raises(RMError, match="at least 3 elements"):
        embedding_pca(tmp_path / "c.pt")


def test_embeddings_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = checkpoint(tmp_path)
    out, table = tmp_path / "pca.png", tmp_path / "pca.csv"
    assert main(["embeddings", str(path), "--out", str(out), "--csv", str(table), "--which", "both"]) == 0
    text = capsys.readouterr().out
    assert "8 elements, both embedding of dimension 6" in text and "explained variance ratio: PC1 " in text
    with open(table) as fh:
        rows = list(csv.DictReader(fh))
    assert [r["symbol"] for r in rows] == ["Li", "Be", "Na", "Mg", "K", "Ca", "Rb", "Sr"]
    assert [r["group"] for r in rows] == ["1", "2"] * 4 and out.stat().st_size > 0
    assert main(["embeddings", str(tmp_path / "missing.pt"), "--out", str(out)]) == 2
    assert "ase-rm embeddings: error:" in capsys.readouterr().err
