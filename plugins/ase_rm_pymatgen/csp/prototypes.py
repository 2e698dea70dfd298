"""The shipped prototype library: one crystal per structure type of the MP-20 training file.

Template starts (:mod:`.templates`) need known structures. The package ships a
compact library so that the ``templates`` and ``recommended`` recipes work on
any machine: ``data/mp20_prototypes.json.gz`` holds, for every distinct
structure type of ``mp20_train_partial.csv.gz`` (the model's training file),
its first structure in material_id order. A structure type is (atom count,
spglib space group at symprec 0.1, and per element its reduced-formula count
and sorted Wyckoff letters): NaCl and KBr rock salt are one type. The file
records its source, the source's SHA-256 and the rule; cells are rounded to
1e-4 Å and fractional coordinates to 1e-5. Rebuild it (or make one from your
own structures) with::

    python -m ase_rm_pymatgen.csp.prototypes ../shared/data/mp20_train_partial.csv.gz OUT.json.gz

``ase-rm csp --templates FILE`` replaces it with any structure file.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path

from ase import Atoms

from ase_rm import RMError

from .templates import TemplateLibrary, _reduced

PROTOTYPES = Path(__file__).with_name("data") / "mp20_prototypes.json.gz"
"""The shipped library (see the module doc)."""
RULE = ("first structure (file order) per (n_atoms, space group at symprec 0.1, per-element reduced count "
        "and Wyckoff letters)")


def structure_type(atoms: Atoms, group: int, letters: Sequence[str]) -> tuple[object, ...]:
    """The type key of the module doc, from the space group and each atom's Wyckoff letter."""
    reduced, _ = _reduced(atoms.numbers)
    sites: dict[int, list[str]] = {}
    for z, w in zip(atoms.numbers, letters, strict=True):
        sites.setdefault(int(z), []).append(str(w))
    return (len(atoms), int(group), tuple(sorted((reduced[z], tuple(sorted(ws))) for z, ws in sites.items())))


def distinct_types(structures: Sequence[Atoms], symprec: float = 0.1) -> list[int]:
    """Indices of the first structure of each structure type, in input order."""
    library = TemplateLibrary(structures, symprec=symprec)
    seen: set[tuple[object, ...]] = set()
    keep = []
    for k, atoms in enumerate(structures):
        key = structure_type(atoms, *library._symmetry(k))
        if key not in seen:
            seen.add(key)
            keep.append(k)
    return keep


def write_prototypes(structures: Sequence[Atoms], keep: Sequence[int], out: str | os.PathLike[str],
                     source: str, source_sha256: str | None) -> None:
    """The kept structures as gzip JSON with provenance (byte-identical for the same input)."""
    items = [{"material_id": str(structures[k].info.get("material_id", k)),
              "numbers": [int(z) for z in structures[k].numbers],
              "cell": [[round(float(x), 4) for x in row] for row in structures[k].cell[:]],
              "frac": [[round(float(x), 5) % 1.0 for x in row] for row in structures[k].get_scaled_positions()]}
             for k in keep]
    doc = {"source": source, "source_sha256": source_sha256, "rule": RULE, "n_source": len(structures),
           "n_types": len(items), "structures": items}
    with open(out, "wb") as fh, gzip.GzipFile(fileobj=fh, mode="wb", mtime=0) as gz:
        gz.write(json.dumps(doc, separators=(",", ":")).encode())


def load_prototypes(path: str | os.PathLike[str] = PROTOTYPES) -> TemplateLibrary:
    """A :class:`.templates.TemplateLibrary` from a prototype file (default: the shipped one)."""
    p = Path(path)
    try:
        doc = json.loads(gzip.decompress(p.read_bytes()))
        structures = []
        for item in doc["structures"]:
            atoms = Atoms(numbers=item["numbers"], cell=item["cell"], scaled_positions=item["frac"], pbc=True)
            atoms.info["material_id"] = item["material_id"]
            structures.append(atoms)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise RMError(f"{p} is not a prototype library ({type(exc).__name__}: {exc})") from None
    digest = hashlib.sha256(p.read_bytes()).hexdigest()
    return TemplateLibrary(structures, source=f"prototypes:{p.name}", digest=digest)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m ase_rm_pymatgen.csp.prototypes STRUCTURES OUT.json.gz``."""
    from ase_rm import read_structures

    parser = argparse.ArgumentParser(description="one structure per structure type, as a prototype library")
    parser.add_argument("structures", help="any file ase_rm.read_structures reads (e.g. the MP-20 train CSV)")
    parser.add_argument("out", help="output .json.gz")
    args = parser.parse_args(argv)
    source = Path(args.structures)
    structures = read_structures(source)
    keep = distinct_types(structures)
    digest = hashlib.sha256(source.read_bytes()).hexdigest() if source.is_file() else None
    write_prototypes(structures, keep, args.out, source.name, digest)
    print(f"{len(keep)} structure types of {len(structures)} structures written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
