"""How to order template starts: which rule puts a matching structure type first, before any relaxation.

    python experiments/mp20/template_rules.py TARGETS.csv TEMPLATES [--n 30] [--workers 2] [--seed 0]

TARGETS is an ``ase-rm csp --compositions`` file (composition, cif; e.g. drawn
from the val split by val_targets.py); TEMPLATES any structure file of known
crystals (the train file). For each target, every template with its anonymous
formula gets every stoichiometry-keeping assignment of the target's elements
(``TemplateLibrary.candidates``; templates of the target's own reduced formula
are left out, so a hit is prediction by analogy). The candidates are ordered by
each rule, made distinct by structure type, and the first n are built with the
target's elements (no relaxation: StructureMatcher scales volumes, so the volume
does not matter). Prints, as markdown, per target the position (0-based) of the
first start that matches the ground truth under the CSP matcher, and per rule
how many targets match in the first 1, 5 and n starts.

Rules (the one shipped is ``similarity``, i.e. ``TemplateLibrary.ranked``):

- ``random``: the distinct types in a seeded random order;
- ``frequency``: the types found most often in the library first (ties: the most
  alike chemistry), each with its most alike assignment;
- ``similarity``: the most alike chemistry first (mean Mendeleev-number difference);
- ``freqsim``: similarity score divided by log(1 + type count): frequent types move up.
"""

from __future__ import annotations

import argparse
import math
import warnings
from collections import defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from ase_rm_pymatgen import paper_matcher, read_csp_targets, to_pymatgen
from ase_rm_pymatgen.templates import Candidate, TemplateLibrary, most_alike_first
from pymatgen.core import Structure

from ase_rm.rss import composition_numbers

Rule = Callable[[list[Candidate], np.random.Generator], list[Candidate]]


def _groups(candidates: list[Candidate]) -> list[list[Candidate]]:
    """Candidates by structure type, each group sorted by score (stable), in first-seen order."""
    groups: dict[tuple[object, ...], list[Candidate]] = defaultdict(list)
    for c in candidates:
        groups[c.kind].append(c)
    return [sorted(g, key=lambda c: c.score) for g in groups.values()]


def by_random(candidates: list[Candidate], rng: np.random.Generator) -> list[Candidate]:
    groups = _groups(candidates)
    return [groups[int(k)][0] for k in rng.permutation(len(groups))]


def by_frequency(candidates: list[Candidate], rng: np.random.Generator) -> list[Candidate]:
    return [g[0] for g in sorted(_groups(candidates), key=lambda g: (-len(g), g[0].score))]


def by_similarity(candidates: list[Candidate], rng: np.random.Generator) -> list[Candidate]:
    return most_alike_first(candidates)  # the shipped order, TemplateLibrary.ranked


def by_freqsim(candidates: list[Candidate], rng: np.random.Generator) -> list[Candidate]:
    return [g[0] for g in sorted(_groups(candidates), key=lambda g: g[0].score / math.log1p(len(g)))]


RULES: dict[str, Rule] = {"random": by_random, "frequency": by_frequency, "similarity": by_similarity,
                          "freqsim": by_freqsim}

_LIBRARY: TemplateLibrary | None = None


def _init(library: TemplateLibrary) -> None:
    global _LIBRARY
    _LIBRARY = library


def first_matches(job: tuple[str, Structure, int, int]) -> tuple[str, int, dict[str, int | None]]:
    """(composition, number of distinct types, rule -> position of the first matching start or None)."""
    composition, truth, n, seed = job
    assert _LIBRARY is not None
    numbers = composition_numbers(composition)
    candidates = _LIBRARY.candidates(numbers, exclude_same_formula=True)
    matcher = paper_matcher()
    built: dict[Candidate, bool] = {}
    out: dict[str, int | None] = {}
    for name, rule in RULES.items():
        out[name] = None
        for k, c in enumerate(rule(candidates, np.random.default_rng(seed))[:n]):
            if c not in built:
                start = _LIBRARY.build(c, len(numbers), 10.0 * len(numbers))
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    built[c] = bool(matcher.fit(to_pymatgen(start), truth))
            if built[c]:
                out[name] = k
                break
    return composition, len({c.kind for c in candidates}), out


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("targets", type=Path)
    ap.add_argument("templates", type=Path)
    ap.add_argument("--n", type=int, default=30, help="starts per target (the attempts of a run)")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0, help="of the random rule")
    args = ap.parse_args(argv)
    targets = read_csp_targets(args.targets)
    library = TemplateLibrary.from_file(args.templates)
    jobs = [(t.composition, t.structure, args.n, args.seed) for t in targets]
    if args.workers > 1:
        with ProcessPoolExecutor(args.workers, initializer=_init, initargs=(library,)) as pool:
            rows = list(pool.map(first_matches, jobs, chunksize=1))
    else:
        _init(library)
        rows = [first_matches(job) for job in jobs]
    print("| composition | types | " + " | ".join(RULES) + " |")
    print("|---|---:|" + "---:|" * len(RULES))
    for composition, types, first in rows:
        cells = ["-" if first[r] is None else str(first[r]) for r in RULES]
        print(f"| {composition} | {types} | " + " | ".join(cells) + " |")
    print()
    print(f"| rule | first start | first 5 | first {args.n} |")
    print("|---|---:|---:|---:|")
    for r in RULES:
        hits = [first[r] for _, _, first in rows]
        counts = [sum(h is not None and h < k for h in hits) for k in (1, 5, args.n)]
        print(f"| {r} | " + " | ".join(f"{c}/{len(rows)}" for c in counts) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
