"""CSP with template starts whose volume comes from the template (measured on val, not adopted).

    python experiments/mp20/csp_template_volume.py MODEL TARGETS.csv TEMPLATES OUT [--n 30] [--volume template]

Like ``ase-rm csp MODEL --compositions TARGETS.csv --starts template --templates
TEMPLATES --no-ground-truth-check``, but the start's volume is
``TemplateStarts(volume=...)``: ``template`` scales the template's own volume by
the ratio of the fitted per-element volumes of the target's and the template's
elements, instead of using the fit alone (``fit``, the csp default).
Prints the csp summary line.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from ase_rm_pymatgen.campaign import ATTEMPT_STRIDE
from ase_rm_pymatgen.csp import run_csp
from ase_rm_pymatgen.templates import TEMPLATE_VOLUMES, TemplateLibrary, TemplateStarts


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model")
    ap.add_argument("targets")
    ap.add_argument("templates")
    ap.add_argument("out")
    ap.add_argument("--n", type=int, default=30)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--volume", choices=TEMPLATE_VOLUMES, default="template")
    ap.add_argument("--max-steps", type=int, help="cap every stage (quick checks only)")
    args = ap.parse_args(argv)
    starts = TemplateStarts(TemplateLibrary.from_file(args.templates), ATTEMPT_STRIDE, volume=args.volume)
    result = run_csp(args.model, args.targets, args.out, n=args.n, seed=args.seed, starts="template",
                     templates=starts, check_ground_truth=False, max_steps=args.max_steps)
    print(result.table())
    print(result.summary())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
