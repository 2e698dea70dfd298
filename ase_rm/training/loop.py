"""The RM training loop: Adam, warm-up, ReduceLROnPlateau, EMA, clipping,
per-epoch validation metrics, best-EMA checkpoint and exact resume.

Run directory layout::

    config.json     the resolved model/noise/train configs
    metrics.jsonl   one line of validation metrics per epoch
    state.pt        resumable state (weights, EMA, optimiser, position in epoch)
    best.pt         checkpoint of the best EMA model (the product): by the
                    generation signal when the run has one, else by loss
    best_loss.pt    with a generation signal: the lowest-validation-loss model
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import torch
from ase import Atoms

from ..checkpoint import (
    NATIVE_ARCHITECTURE,
    architecture_of,
    atomic_save,
    build_model,
    load_initial_weights,
    make_checkpoint,
)
from ..config import ModelConfig, NoiseConfig, TrainConfig
from ..data import NoisyDataset, fit_volumes, n_batches
from ..errors import ConfigError
from ..model import Denoiser
from ..potential import Potential
from .distributed import Dist
from .ema import EMA
from .loss import accumulate, batch_loss, summarise
from .signal import GenerationSignal, SignalSpec

log = logging.getLogger(__name__)

VALID_SEED_OFFSET = 1_000_003
"""Validation noise uses seed + this, drawn once, so epochs are comparable."""


@dataclass
class TrainResult:
    """What a finished (or resumed and finished) run produced."""

    run_dir: Path
    best_checkpoint: Path
    history: list[dict[str, Any]] = field(default_factory=list)


def _dtype(name: str) -> torch.dtype:
    return {"float32": torch.float32, "float64": torch.float64}[name]


class Trainer:
    """Trains a denoiser on noisy frames of equilibrium structures.

    Args:
        run_dir: where config, metrics, state and checkpoints go.
        train_structures: equilibrium structures to train on.
        valid_structures: held-out structures; if empty, fresh noise of the
            training structures (with another seed) is used for validation.
        model, noise, train: the configs (``model`` may be a plugin's model
            config, e.g. ``ase_rm_matgl.MatglConfig``: see
            :func:`ase_rm.checkpoint.build_model`).
        device: torch device.
        name: stored in the checkpoint's training summary.
        progress: show a progress bar (None: only on a terminal).
        extra_summary: more fields for the training summary (e.g. the command).
        init: checkpoint (path or shipped name) whose weights a new run starts
            from instead of fresh ones (see :func:`ase_rm.checkpoint.load_initial_weights`);
            a resumed run loads its own state and does not read it.
    """

    def __init__(
        self,
        run_dir: str | os.PathLike[str],
        train_structures: Sequence[Atoms],
        valid_structures: Sequence[Atoms],
        model: ModelConfig,
        noise: NoiseConfig,
        train: TrainConfig,
        device: str | torch.device = "cpu",
        name: str = "rm",
        progress: bool | None = None,
        extra_summary: dict[str, Any] | None = None,
        init: str | os.PathLike[str] | None = None,
    ) -> None:
        self.run_dir = Path(run_dir)
        self.cfg, self.noise_cfg, self.model_cfg = train, noise, model
        self.device, self.dtype = torch.device(device), _dtype(train.dtype)
        self.dist = Dist.from_env()
        self.name, self.progress = name, progress
        self.extra_summary = dict(extra_summary or {})
        refs = train.energy_weight > 0
        self.data = NoisyDataset(train_structures, noise, train.seed, static=train.static_noise, references=refs)
        valid = valid_structures or train_structures
        self.valid = NoisyDataset(valid, noise, train.seed + VALID_SEED_OFFSET, references=refs)
        self.valid_is_train = not valid_structures
        self.n_train, self.n_valid = len(train_structures), len(valid_structures)
        self.volume_fit = fit_volumes(train_structures)
        self.signal = None
        if train.signal and self.dist.is_main:
            spec = SignalSpec(train.signal, train.signal_compositions, train.signal_attempts, train.signal_exclude)
            self.signal = GenerationSignal(spec, valid, self.volume_fit)
        self.best_score, self.best_score_epoch = float("-inf"), -1
        gen = torch.Generator().manual_seed(train.seed)
        # a plugin network is typed as the Denoiser whose calling convention it shares
        self.model = cast(Denoiser, build_model(model, gen)).to(self.device, self.dtype)
        self.init = None if init is None else str(init)
        if self.init is not None:
            self.extra_summary.setdefault("init", self.init)
        self.potential = Potential(self.model, compiled=train.compile)
        self.trained = self.dist.wrap(self.potential)
        self.ema = EMA(self.model, train.ema_decay)
        self.history: list[dict[str, Any]] = []
        self.epoch, self.step, self.best_val, self.best_epoch = 0, 0, float("inf"), -1
        self.totals: dict[str, float] = {}
        self.epoch_wall = 0.0  # seconds of the current epoch spent before a resume
        self._epoch_start = time.perf_counter()
        self.elapsed = 0.0
        self._new_optimiser()
        self._valid_batches: list[Any] | None = None

    # --- optimiser ---------------------------------------------------------
    def _new_optimiser(self) -> None:
        self.optimizer = torch.optim.Adam(
            self.model.parameters(), lr=self.cfg.lr, amsgrad=self.cfg.amsgrad
        )
        self.scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
            self.optimizer, mode="min", factor=self.cfg.plateau_factor,
            patience=self.cfg.plateau_patience,
        )

    @property
    def steps_per_epoch(self) -> int:
        return n_batches(self.data.epoch_size(self.cfg.epoch_fraction), self.cfg.batch_size)

    @property
    def total_epochs(self) -> int:
        return self.cfg.epochs * self.cfg.restarts

    def _set_lr(self, epoch_in_restart: int, step: int) -> None:
        """Linear warm-up, then (``schedule = "cosine"``) half a cosine down to ``lr * lr_final``;
        a function of the step alone, so a resumed run continues the same curve."""
        cfg = self.cfg
        warm = cfg.warmup_epochs * self.steps_per_epoch
        done = epoch_in_restart * self.steps_per_epoch + step + 1
        if warm and done <= warm:
            lr = cfg.lr * done / warm
        elif cfg.schedule == "cosine":
            span = max(cfg.epochs * self.steps_per_epoch - warm, 1)
            t = min((done - warm) / span, 1.0)
            lr = cfg.lr * (cfg.lr_final + (1.0 - cfg.lr_final) * 0.5 * (1.0 + math.cos(math.pi * t)))
        else:
            return
        for group in self.optimizer.param_groups:
            group["lr"] = lr

    # --- one epoch ---------------------------------------------------------
    def _train_epoch(self, bar: Any) -> None:
        cfg = self.cfg
        epoch_in_restart = self.epoch % cfg.epochs
        batches = self.data.batches(
            self.epoch, cfg.batch_size, self.model.cutoff, self.dtype, self.device,
            start=self.step, shard=(self.dist.rank, self.dist.world), fraction=cfg.epoch_fraction,
        )
        for batch in batches:
            self._set_lr(epoch_in_restart, self.step)
            self.optimizer.zero_grad(set_to_none=True)
            counts = self.dist.global_counts(batch) if self.dist.world > 1 else None
            loss, sums = batch_loss(self.trained, batch, cfg.force_weight, cfg.stress_weight, True, counts,
                                    cfg.energy_weight)
            if not torch.isfinite(loss):
                raise FloatingPointError(f"non-finite training loss at epoch {self.epoch}, step {self.step}")
            loss.backward()
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip)
            self.optimizer.step()
            self.ema.update(self.model)
            if not batch.placeholder:  # its loss was weighted 0: no frame of its own
                sums["frames"] = batch.n_frames
                sums["atoms"] = int(batch.graph.n_atoms[: batch.n_frames].sum())
                accumulate(self.totals, sums)
            self.step += 1
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{float(loss.detach()):.4g}", refresh=False)
            if cfg.checkpoint_every and self.step % cfg.checkpoint_every == 0:
                self._save_state()

    def _validate(self) -> dict[str, float]:
        if self._valid_batches is None:
            self._valid_batches = list(
                self.valid.batches(0, max(self.cfg.batch_size, 20), self.model.cutoff,
                                   self.dtype, self.device, shuffle=False)
            )
        potential = Potential(self.ema.model)
        totals: dict[str, float] = {}
        for batch in self._valid_batches:
            _, sums = batch_loss(potential, batch, self.cfg.force_weight, self.cfg.stress_weight, False,
                                 energy_weight=self.cfg.energy_weight)
            accumulate(totals, sums)
        summary = summarise(totals, self.cfg.force_weight, self.cfg.stress_weight, self.cfg.energy_weight)
        return {f"val_{k}": v for k, v in summary.items()}

    def _end_epoch(self, wall: float) -> dict[str, Any]:
        totals = self.dist.all_reduce(self.totals)
        val = self._validate()
        row: dict[str, Any] = {
            "epoch": self.epoch,
            "restart": self.epoch // self.cfg.epochs,
            "lr": self.optimizer.param_groups[0]["lr"],
            **{f"train_{k}": v for k, v in summarise(totals, self.cfg.force_weight, self.cfg.stress_weight,
                                                     self.cfg.energy_weight).items()},
            **val,
            "frames_per_s": totals.get("frames", 0) / max(wall, 1e-9),
            "atoms_per_s": totals.get("atoms", 0) / max(wall, 1e-9),
            "epoch_seconds": wall,
        }
        if self.cfg.schedule == "plateau" and self.epoch % self.cfg.epochs >= self.cfg.warmup_epochs:
            self.scheduler.step(val["val_loss"])
        if self.signal is not None and (self.epoch + 1) % self.cfg.signal_every == 0:
            row.update(self.signal(self.ema.model))
        self.history.append(row)
        loss_best = "best_loss.pt" if self.signal is not None else "best.pt"
        if val["val_loss"] < self.best_val:
            self.best_val, self.best_epoch = val["val_loss"], self.epoch
            if self.dist.is_main:
                atomic_save(self._export(), self.run_dir / loss_best)
        if "gen_score" in row and row["gen_score"] > self.best_score:
            self.best_score, self.best_score_epoch = float(row["gen_score"]), self.epoch
            atomic_save(self._export({"selected_by": "generation signal", "gen_score": row["gen_score"]}),
                        self.run_dir / "best.pt")
        every = self.cfg.snapshot_every
        if every and (self.epoch + 1) % every == 0 and self.dist.is_main:
            atomic_save(self._export({"snapshot_epoch": self.epoch, **val}), self.snapshot_path(self.epoch))
        if self.dist.is_main:
            with open(self.run_dir / "metrics.jsonl", "a") as fh:
                fh.write(json.dumps(row) + "\n")
        return row

    # --- the run -----------------------------------------------------------
    def run(self, resume: bool = False, time_limit: float | None = None) -> TrainResult:
        """Train to the configured number of epochs; ``resume`` continues a run.

        ``time_limit`` (seconds): stop after the epoch during which it passes,
        with the state saved (``resume`` continues from there).
        """
        began = time.perf_counter()
        self.run_dir.mkdir(parents=True, exist_ok=True)
        state_path = self.run_dir / "state.pt"
        if resume and state_path.exists():
            self._load_state(state_path)
            log.info("resumed at epoch %d, step %d", self.epoch, self.step)
        else:
            if self.init is not None:  # every rank: the same weights, EMA included
                load_initial_weights(self.model, self.model_cfg, self.init)
                self.ema.model.load_state_dict(self.model.state_dict())
            if self.dist.is_main:
                (self.run_dir / "metrics.jsonl").unlink(missing_ok=True)
                (self.run_dir / "config.json").write_text(json.dumps(self._configs(), indent=2))
        bar = self._bar()
        while self.epoch < self.total_epochs:
            if self.epoch % self.cfg.epochs == 0 and self.step == 0 and self.epoch > 0:
                self._new_optimiser()  # warm restart: weights and EMA are kept
            self._epoch_start = time.perf_counter()
            if bar is not None:
                bar.reset(total=self.steps_per_epoch)
                bar.update(self.step)
                bar.set_description(f"epoch {self.epoch + 1}/{self.total_epochs}")
            self._train_epoch(bar)
            wall = self._epoch_seconds()
            self.elapsed += wall
            row = self._end_epoch(wall)
            log.info("epoch %d: %s", self.epoch, {k: round(v, 6) for k, v in row.items() if isinstance(v, float)})
            self.epoch, self.step, self.totals, self.epoch_wall = self.epoch + 1, 0, {}, 0.0
            self._save_state()
            if time_limit is not None and time.perf_counter() - began >= time_limit:
                log.info("time limit of %.0f s reached after epoch %d", time_limit, self.epoch)
                break
        if bar is not None:
            bar.close()
        if self.best_epoch < 0:  # nothing validated (zero epochs left): export now
            atomic_save(self._export(), self.run_dir / "best.pt")
        elif self.signal is not None and self.best_score_epoch < 0 and self.dist.is_main:
            shutil.copyfile(self.run_dir / "best_loss.pt", self.run_dir / "best.pt")  # no signal epoch yet
        return TrainResult(self.run_dir, self.run_dir / "best.pt", list(self.history))

    def _bar(self) -> Any:
        if not self.dist.is_main or self.progress is False:
            return None
        from tqdm.auto import tqdm

        return tqdm(total=self.steps_per_epoch, unit="batch", disable=None if self.progress is None else False,
                    leave=False)

    # --- state -------------------------------------------------------------
    def _configs(self) -> dict[str, Any]:
        out: dict[str, Any] = {"model": self.model_cfg.to_dict(), "noise": self.noise_cfg.to_dict(),
                               "train": self.cfg.to_dict()}
        if architecture_of(self.model_cfg) != NATIVE_ARCHITECTURE:  # native runs keep their old layout
            out["architecture"] = architecture_of(self.model_cfg)
        return out

    def _summary(self) -> dict[str, Any]:
        best = next((r for r in self.history if r["epoch"] == self.best_epoch), {})
        return {
            "name": self.name,
            "epochs_done": len(self.history),
            "epochs_planned": self.total_epochs,
            "best_epoch": self.best_epoch,
            **{k: v for k, v in best.items() if k.startswith("val_")},
            "n_train_structures": self.n_train,
            "n_valid_structures": self.n_valid,
            "validation": "fresh noise of the training structures" if self.valid_is_train else "held-out structures",
            "train_seconds": round(self.elapsed, 1),
            **({"signal": self.cfg.signal, "best_signal_epoch": self.best_score_epoch,
                "best_gen_score": self.best_score} if self.cfg.signal else {}),
            **self.extra_summary,
        }

    def _export(self, extra: dict[str, Any] | None = None) -> dict[str, Any]:
        model = cast(Denoiser, self.ema.model)
        summary = {**self._summary(), **(extra or {})}
        return make_checkpoint(model, self.noise_cfg.to_dict(), self.cfg.to_dict(), summary, self.volume_fit)

    def snapshot_path(self, epoch: int) -> Path:
        """Where ``snapshot_every`` keeps the EMA model of ``epoch`` (0-based)."""
        return self.run_dir / "snapshots" / f"epoch_{epoch:04d}.pt"

    def _epoch_seconds(self) -> float:
        return self.epoch_wall + time.perf_counter() - self._epoch_start

    def _save_state(self) -> None:
        # Every rank calls this at the same step: the epoch's partial sums are
        # saved over all ranks, and rank 0 alone takes them back on resume.
        totals = self.dist.all_reduce(self.totals)  # a copy for one process
        if not self.dist.is_main:
            return
        state = {
            "model": self.model.state_dict(), "ema": self.ema.state_dict(),
            "optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict(),
            "epoch": self.epoch, "step": self.step, "totals": totals,
            "epoch_wall": self._epoch_seconds() if self.step else 0.0,
            "best_val": self.best_val, "best_epoch": self.best_epoch, "history": self.history,
            "best_score": self.best_score, "best_score_epoch": self.best_score_epoch,
            "elapsed": self.elapsed, "configs": self._configs(),
            "n_structures": [self.n_train, self.n_valid],
        }
        atomic_save(state, self.run_dir / "state.pt")

    def _load_state(self, path: Path) -> None:
        state = torch.load(path, map_location=self.device, weights_only=True)
        if _comparable(state["configs"]) != _comparable(self._configs()):
            raise ConfigError(f"{path} was written by a run with other configs; refusing to resume it")
        counts = state.get("n_structures")  # absent in older states
        if counts is not None and list(counts) != [self.n_train, self.n_valid]:
            raise ConfigError(
                f"{path} was written by a run on {counts[0]} training and {counts[1]} validation structures, "
                f"not {self.n_train} and {self.n_valid}; refusing to resume it on other data")
        self.epoch, self.step = int(state["epoch"]), int(state["step"])
        if self.epoch % self.cfg.epochs == 0 and self.step == 0 and self.epoch > 0:
            self._new_optimiser()
        self.model.load_state_dict(state["model"])
        self.ema.load_state_dict(state["ema"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.totals = dict(state["totals"]) if self.dist.is_main else {}
        self.epoch_wall = float(state.get("epoch_wall", 0.0))  # absent in older states
        self.best_val, self.best_epoch = float(state["best_val"]), int(state["best_epoch"])
        self.best_score = float(state.get("best_score", float("-inf")))  # absent in older states
        self.best_score_epoch = int(state.get("best_score_epoch", -1))
        self.history, self.elapsed = list(state["history"]), float(state["elapsed"])
        if self.dist.is_main:  # the state is the truth: drop metrics of epochs it does not hold
            lines = "".join(json.dumps(row) + "\n" for row in self.history)
            tmp = self.run_dir / "metrics.jsonl.tmp"
            tmp.write_text(lines)
            os.replace(tmp, self.run_dir / "metrics.jsonl")


NEUTRAL_KEYS = ("compile", "checkpoint_every", "snapshot_every", "signal", "signal_every",
                "signal_compositions", "signal_attempts", "signal_exclude")
"""TrainConfig fields that change how fast a step runs or what files a run
writes, not what it computes: a run may resume with them changed (and from
states written before they existed)."""


def _comparable(configs: dict[str, Any]) -> dict[str, Any]:
    # a field missing from a state predates it: its default is what that run did
    stored = {**TrainConfig().to_dict(), **configs.get("train", {})}
    train = {k: v for k, v in stored.items() if k not in NEUTRAL_KEYS}
    return {**configs, "train": train}
