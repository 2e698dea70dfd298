"""Resumable random structure search over many compositions into one extxyz file.

The CSP benchmark and the Li-S hull generate n attempts for each of many
compositions. One :func:`ase_rm.rss.search` call runs them all (the batched
engine pools attempts of every composition), appending each result to the
output file as it finishes; a killed or extended run makes only what is not
there yet.

Attempt k of composition F gets the attempt index ``key(F) * ATTEMPT_STRIDE + k``
with ``key(F)`` a CRC-32 of the formula as given (e.g. "Sr2O4"): the start and
kicks of an attempt depend only on (seed, F, k), so results do not depend on the
order or number of the other compositions, and raising n keeps the first
attempts. A small JSON manifest next to the output records what decides the
results (seed, protocol, the checkpoint's SHA-256); resuming with different
settings is an error.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import zlib
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from ase import Atoms

from ase_rm import RMCalculator, RMError
from ase_rm.checkpoint import resolve
from ase_rm.keys import RM_ATTEMPT, RM_FORMULA
from ase_rm.rss import Attempt, Protocol, format_formula, get_protocol, parse_formula, search

from ..convert import ModelLike, load_model
from .templates import TemplateLibrary, TemplateStarts

log = logging.getLogger(__name__)

ATTEMPT_STRIDE = 100_000
"""Attempt indices of one composition: key * ATTEMPT_STRIDE + k, k < ATTEMPT_STRIDE."""


def canonical_formula(formula: str) -> str:
    """The cell formula as ase_rm writes it (element order kept, counts of 1 dropped): "Li1S2" -> "LiS2"."""
    return format_formula(parse_formula(formula))


def composition_key(formula: str) -> int:
    """CRC-32 of the canonical formula: the composition part of its attempt indices."""
    return zlib.crc32(canonical_formula(formula).encode())


def resolve_protocol(protocol: str | Protocol, max_steps: int | None = None) -> Protocol:
    """A protocol by name or as given, with every stage capped at ``max_steps`` FIRE steps if set."""
    proto = get_protocol(protocol) if isinstance(protocol, str) else protocol
    if max_steps is None:
        return proto
    if max_steps < 0:
        raise RMError(f"max_steps must be >= 0, not {max_steps}")
    return replace(proto, stages=tuple(replace(s, max_steps=min(s.max_steps, max_steps)) for s in proto.stages))


def composition_attempts(compositions: Sequence[str], protocol: Protocol, n: int) -> list[Attempt]:
    """``n`` attempts per composition, indexed as the module doc says."""
    if not 1 <= n < ATTEMPT_STRIDE:
        raise RMError(f"n must be between 1 and {ATTEMPT_STRIDE - 1}, not {n}")
    formulas = [canonical_formula(f) for f in compositions]
    if len(set(formulas)) != len(formulas):
        raise RMError(f"a composition is listed twice: {formulas}")
    return [
        Attempt(composition_key(f) * ATTEMPT_STRIDE + k, parse_formula(f), protocol.start)
        for f in formulas for k in range(n)
    ]


def _manifest(model: ModelLike, protocol: Protocol, seed: int, starts: str = "random",
              templates: TemplateStarts | None = None) -> dict[str, Any]:
    """What decides the results: seed, protocol, starts (and their template file), and the
    checkpoint (name and SHA-256 of its file)."""
    name = digest = None
    if not isinstance(model, RMCalculator):
        path = resolve(model)
        name, digest = str(model), hashlib.sha256(path.read_bytes()).hexdigest()
    manifest = {"seed": seed, "protocol": protocol.to_dict(), "starts": starts, "model": name, "model_sha256": digest}
    if templates is not None:
        manifest["templates"] = templates.library.source
        manifest["templates_sha256"] = templates.library.digest
        if templates.volume != "fit":  # manifests written before the choice existed used the fit
            manifest["template_volume"] = templates.volume
    return json.loads(json.dumps(manifest))


def _normalised(protocol: Any) -> Any:
    """A manifest's protocol with today's defaults for fields it predates (as read if it does not parse)."""
    try:
        return json.loads(json.dumps(Protocol.from_dict(dict(protocol)).to_dict()))
    except (RMError, TypeError, ValueError):
        return protocol


def _check_manifest(path: Path, manifest: dict[str, Any]) -> None:
    """Write the manifest of a new output, or check an existing output's."""
    meta = path.with_suffix(".json")
    if meta.exists():
        old = json.loads(meta.read_text())
        old.setdefault("starts", "random")  # manifests written before starts were a choice
        old["protocol"] = _normalised(old.get("protocol"))  # written before a field (e.g. Stage.accept) existed
        changed = [k for k in ("seed", "protocol", "starts") if old.get(k) != manifest[k]]
        if old.get("templates_sha256") != manifest.get("templates_sha256"):
            changed.append("template file")
        if old.get("template_volume") != manifest.get("template_volume"):
            changed.append("template volume")
        if None not in (old.get("model_sha256"), manifest["model_sha256"]) and \
                old["model_sha256"] != manifest["model_sha256"]:
            changed.append("model")
        if changed:
            raise RMError(
                f"{path} was made with a different {', '.join(changed)} (see {meta}); "
                "use another output folder, or start over with --overwrite (ase-rm csp/lis) or by deleting it"
            )
        return
    if path.exists() and path.stat().st_size > 0:
        raise RMError(f"{path} exists but has no manifest {meta.name}; it was not made by this command")
    path.parent.mkdir(parents=True, exist_ok=True)
    meta.write_text(json.dumps(manifest, indent=1) + "\n")


def generate_compositions(
    model: ModelLike,
    compositions: Sequence[str],
    out: str | os.PathLike[str],
    n: int,
    seed: int = 0,
    protocol: str | Protocol = "crystal",
    max_atoms_per_batch: int = 4096,
    device: str = "cpu",
    progress: bool = False,
    starts: str = "random",
    templates: str | os.PathLike[str] | TemplateLibrary | TemplateStarts | None = None,
) -> dict[str, list[Atoms]]:
    """``n`` relaxed random structures per composition, appended to ``out``, resuming what is there.

    Args:
        model: checkpoint path, shipped name or RMCalculator.
        compositions: cell formulas, e.g. ["Co2Sb2", "Sr2O4"] (generated as given, not reduced).
        out: extxyz file; ``out`` with suffix ``.json`` holds the manifest.
        n: attempts per composition.
        seed: seeds every start and kick.
        protocol: protocol name or :class:`ase_rm.rss.Protocol`.
        max_atoms_per_batch: memory bound of each relaxation pool.
        device: torch device.
        progress: a progress bar over attempts.
        starts: one of :data:`.symmetric.STARTS`: "random" (the protocol's
            start), "symmetric" (random space groups, drawn uniformly;
            :class:`.symmetric.SymmetricStarts`, needs PyXtal), "symmetric-mp20"
            (drawn as often as they occur in MP-20) or "mixed" (each attempt
            random or symmetric, with probability 1/2), or "template" (known
            structure types of ``templates`` with the target's elements;
            :class:`.templates.TemplateStarts`).
        templates: with ``starts="template"``: the known structures (a file
            :func:`ase_rm.read_structures` reads, e.g. the model's training set),
            a :class:`.templates.TemplateLibrary`, or a :class:`.templates.TemplateStarts`
            (its options, e.g. ``volume="template"``; its stride must be ``ATTEMPT_STRIDE``).

    Returns:
        ``{canonical formula: [Atoms of attempt 0..n-1]}`` with ``rm_energy`` (eV),
        ``rm_converged``, ``rm_steps``, ``rm_attempt`` and ``rm_formula`` in ``info``.

    Raises:
        RMError: the output was made with another seed, protocol or model.
    """
    proto = get_protocol(protocol) if isinstance(protocol, str) else protocol
    path = Path(out)
    attempts = composition_attempts(compositions, proto, n)
    from .symmetric import start_maker  # here: `python -m ase_rm_pymatgen.csp.symmetric` runs it as __main__

    template_starts = None
    if starts == "template":
        if templates is None:
            raise RMError("template starts need a template file (templates=, or ase-rm csp --templates FILE)")
        if isinstance(templates, TemplateStarts):
            if templates.stride != ATTEMPT_STRIDE:
                raise RMError(f"a TemplateStarts for this campaign needs stride ATTEMPT_STRIDE ({ATTEMPT_STRIDE})")
            maker: Any = templates
        else:
            maker = TemplateStarts(templates if isinstance(templates, TemplateLibrary)
                                   else TemplateLibrary.from_file(templates), ATTEMPT_STRIDE)
        template_starts = maker
    elif templates is not None:
        raise RMError(f"templates are only used with starts='template', not {starts!r}")
    else:
        maker = start_maker(starts)
    _check_manifest(path, _manifest(model, proto, seed, starts, template_starts))
    potential, meta = load_model(model, device=device)
    results = search(potential, attempts, proto, seed=seed, element_volumes=meta.get("volume_fit") or None,
                     out=path, resume=True, max_atoms_per_batch=max_atoms_per_batch, progress=progress,
                     start_maker=maker)
    grouped: dict[str, list[Atoms]] = {canonical_formula(f): [] for f in compositions}
    for attempt, atoms in zip(attempts, results, strict=True):
        formula = format_formula(attempt.composition)
        if atoms.info.get(RM_FORMULA) != formula or int(atoms.info[RM_ATTEMPT]) != attempt.index:
            raise RMError(f"{path}: frame of attempt {attempt.index} is {atoms.info.get(RM_FORMULA)}, not {formula}")
        grouped[formula].append(atoms)
    return grouped


def attempt_number(atoms: Atoms) -> int:
    """k of a frame made by :func:`generate_compositions` (its attempt within the composition)."""
    return int(atoms.info[RM_ATTEMPT]) % ATTEMPT_STRIDE
