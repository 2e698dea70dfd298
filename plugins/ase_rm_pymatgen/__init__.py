"""ase-rm plugin: pymatgen in and out of every entry point (uses only ase_rm's public API).

Public API::

    from ase_rm_pymatgen import generate_structures, relax_structures, noise_structures, predict
    from ase_rm_pymatgen import spacegroup, find_duplicates, deduplicate, pseudo_hull, write_cifs
    from ase_rm_pymatgen import to_pymatgen, to_atoms, analyse_structures, format_table
    from ase_rm_pymatgen import run_csp, evaluate_csp                  # CSP benchmark (``ase-rm csp``)
    from ase_rm_pymatgen import run_binary_hull, hull_rows             # Li-S pseudo hull (``ase-rm lis``)
    from ase_rm_pymatgen import embedding_pca, element_embeddings, pca  # element embeddings (``ase-rm embeddings``)

A pymatgen user writes ``generate_structures("mp20", "KZnF3", n=30)`` and gets
relaxed, de-duplicated ``Structure`` s ranked by E~ per atom, each with its
space group in ``structure.properties``.
"""

from __future__ import annotations

import sys

from .analysis import (
    RM_DUPLICATE_OF,
    RM_E_ABOVE_HULL,
    RM_ENERGY_PER_ATOM,
    RM_SPACEGROUP,
    RM_SPACEGROUP_NUMBER,
    SYMPREC,
    deduplicate,
    energy_of,
    find_duplicates,
    pseudo_hull,
    spacegroup,
    write_cifs,
)
from .api import RM_TIMES_FOUND, generate_structures, noise_structures, predict, relax_structures
from .binary_hull import (
    HullResult,
    KnownStructure,
    binary_compositions,
    hull_rows,
    physical_hull_rows,
    plot_hull,
    read_known_structures,
    relax_known,
    run_binary_hull,
)
from .convert import calculator_for, load_model, to_atoms, to_atoms_list, to_pymatgen
from .csp import (
    CSPResult,
    CSPTarget,
    campaign,
    evaluate_csp,
    generate_compositions,
    match_attempts,
    read_csp_targets,
    run_csp,
    symmetric,
    templates,
)
from .embeddings import (
    ElementEmbeddings,
    PCAResult,
    element_embeddings,
    embedding_pca,
    pca,
    periodic_group,
    plot_embeddings,
)
from .reference import MATCH_TOLERANCES, paper_matcher
from .summary import analyse_structures, format_table, write_csv

# Modules that moved into the csp subpackage keep their old import paths
# (``from ase_rm_pymatgen.templates import TemplateStarts``).
for _moved in (campaign, symmetric, templates):
    sys.modules.setdefault(f"{__name__}.{_moved.__name__.rsplit('.', 1)[1]}", _moved)

__all__ = [
    "CSPResult",
    "CSPTarget",
    "ElementEmbeddings",
    "HullResult",
    "KnownStructure",
    "MATCH_TOLERANCES",
    "PCAResult",
    "RM_DUPLICATE_OF",
    "RM_ENERGY_PER_ATOM",
    "RM_E_ABOVE_HULL",
    "RM_SPACEGROUP",
    "RM_SPACEGROUP_NUMBER",
    "RM_TIMES_FOUND",
    "SYMPREC",
    "analyse_structures",
    "binary_compositions",
    "calculator_for",
    "deduplicate",
    "element_embeddings",
    "embedding_pca",
    "energy_of",
    "evaluate_csp",
    "find_duplicates",
    "format_table",
    "generate_compositions",
    "generate_structures",
    "hull_rows",
    "load_model",
    "match_attempts",
    "noise_structures",
    "paper_matcher",
    "pca",
    "periodic_group",
    "physical_hull_rows",
    "plot_embeddings",
    "plot_hull",
    "predict",
    "pseudo_hull",
    "read_csp_targets",
    "read_known_structures",
    "relax_known",
    "relax_structures",
    "run_binary_hull",
    "run_csp",
    "spacegroup",
    "to_atoms",
    "to_atoms_list",
    "to_pymatgen",
    "write_cifs",
    "write_csv",
]
