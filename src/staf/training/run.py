"""A training run: one folder, the stages of the model's recipe in order (``staf train``).

:class:`TrainingRun` holds the policy around the :class:`~staf.training.trainer.Trainer`:

- the preset with its overrides, relative db paths resolved under ``data_root``;
- which stages run (``"all"``/``"both"``, or one 1-based stage of the recipe, however many
  stages it has);
- the run folder's rules: a folder that holds checkpoints is refused unless ``resume`` (with the
  same settings) or ``force``; ``resume`` with nothing to resume is refused;
- what each stage starts from (:func:`stage_init`): stage 1 from ``init`` (a trained model to
  fine-tune, or nothing), a later stage from this run's previous stage when that trains too, else
  from ``init`` or ``OUT/stage{N-1}/best.pt``.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from staf.config import load_yaml
from staf.errors import StafError
from staf.io import atomic_write_text, check_output_folder

ALL_STAGES = ("all", "both")


def stage_init(stage: int, stages: tuple[int, ...], init: str | Path | None, out: Path) -> str | Path | None:
    """What ``stage`` starts from (see the module docstring)."""
    if stage == 1:
        return init
    previous = out / f"stage{stage - 1}" / "best.pt"
    return previous if stage - 1 in stages or not init else init


def changed_keys(before, after, prefix: str = "") -> list[str]:
    """Dotted keys whose values differ between two nested dicts."""
    if isinstance(before, dict) and isinstance(after, dict):
        keys = set(before) | set(after)
        return [key for name in keys for key in changed_keys(before.get(name), after.get(name), f"{prefix}{name}.")]
    return [] if before == after else [prefix.rstrip(".")]


@dataclasses.dataclass
class TrainingRun:
    """A run folder and what to train in it.

    Attributes:
        config: the :class:`~staf.training.config.TrainConfig` (db paths already resolved).
        out: the run folder (``config.yaml``, ``stageN/``).
        stages: the 1-based stages of the model's recipe this call trains, in order.
        init: ``--init`` (see :func:`stage_init`).
        resume, force: the run folder's rules (module docstring).
        device: where to train.
    """

    config: object
    out: Path
    stages: tuple[int, ...]
    init: str | Path | None = None
    resume: bool = False
    force: bool = False
    device: str = "cpu"

    @staticmethod
    def prepare(preset: str, out: str | Path, stage: str = "all", overrides: dict | None = None,
                data_root: str | Path = "data", init: str | Path | None = None, resume: bool = False,
                force: bool = False, device: str = "cpu") -> "TrainingRun":
        """Load the preset, resolve its data, choose the stages and check everything before any
        work (missing db files, a missing ``init``, the run folder's rules)."""
        from staf.config import load_config
        from staf.devices import check_device
        from staf.models.registry import model_class
        from staf.training import TrainConfig

        check_device(device)
        config = load_config(TrainConfig, preset, overrides or {})
        root = Path(data_root)
        resolve = lambda source: dataclasses.replace(  # noqa: E731
            source, db=str(source.db if Path(source.db).is_absolute() else root / source.db))
        config = dataclasses.replace(config, train=tuple(resolve(s) for s in config.train),
                                     val=resolve(config.val) if config.val else None)
        out = check_output_folder(out, "--out")
        count = len(model_class(config.model_name).training_stages(config.model))
        run = TrainingRun(config, out, _chosen_stages(stage, count), init, resume, force, device)
        run.check(data_root)
        return run

    def check(self, data_root: str | Path) -> None:
        """Refuse missing data, a missing ``init`` and a run folder that may not be used."""
        for source in (*self.config.train, *([self.config.val] if self.config.val else [])):
            if not Path(source.db).is_file():
                raise StafError(f"dataset file {source.db} does not exist; make it with 'staf synth' or pass --data-root "
                                "DIR, the folder the preset's db paths are relative to")
        if self.init and not Path(self.init).is_file():
            raise StafError(f"--init {self.init} does not exist")
        self._check_folder()

    def _check_folder(self) -> None:
        held = [self.out / f"stage{stage}" / name for stage in self.stages for name in ("last.pt", "best.pt")
                if (self.out / f"stage{stage}" / name).is_file()]
        if self.resume:
            if not any((self.out / f"stage{stage}" / "last.pt").is_file() for stage in self.stages):
                raise StafError(f"--resume: {self.out} holds no stage{'/'.join(map(str, self.stages))}/last.pt to resume "
                                "from; drop --resume to start a new run")
            saved = self.out / "config.yaml"
            if saved.is_file():
                try:
                    before = load_yaml(saved.read_text(), str(saved))
                except (StafError, OSError, UnicodeDecodeError):
                    before = None
                changed = (sorted(changed_keys(before, self.config.to_dict())) if isinstance(before, dict)
                           else ["(unreadable config.yaml)"])
                if changed:
                    raise StafError(f"--resume with other settings than the run was started with "
                                    f"({', '.join(changed[:6])}); resume with the same preset and --set values, or "
                                    "start a new run in another folder")
        elif held and not self.force:
            raise StafError(f"--out {self.out} already holds a run "
                            f"({', '.join(str(p.relative_to(self.out)) for p in held[:3])}); pass --resume to continue "
                            "it, --force to start over there, or choose another folder")

    def run(self, report=print) -> list[dict]:
        """Write ``config.yaml`` and train each stage in turn; ``report`` gets one line per
        finished stage (on rank 0). Returns the stages' summaries."""
        import yaml

        from staf.training import Trainer

        atomic_write_text(self.out / "config.yaml", yaml.safe_dump(self.config.to_dict(), sort_keys=False))
        summaries = []
        for stage in self.stages:
            folder = self.out / f"stage{stage}"
            trainer = Trainer(self.config, folder, stage, self.device, stage_init(stage, self.stages, self.init, self.out))
            summary = trainer.run(resume=self.resume and (folder / "last.pt").is_file())
            summaries.append(summary)
            if trainer.rank == 0:
                best = (f"best validation MPJPE {summary['best_val_mpjpe']:.1f} mm" if summary["best_val_mpjpe"] is not None
                        else f"no validation data, best epoch training loss {summary['best_train_loss']:.4f}")
                report(f"stage {stage}: {summary['epochs']} epochs, {best}; checkpoints in {folder}")
        return summaries


def _chosen_stages(stage: str, count: int) -> tuple[int, ...]:
    """``"all"``/``"both"`` → every stage of a recipe of ``count``; ``"N"`` → (N,) when it exists."""
    if str(stage) in ALL_STAGES:
        return tuple(range(1, count + 1))
    try:
        number = int(stage)
    except ValueError:
        raise StafError(f"--stage {stage}: give a stage number (1 … {count}) or 'all'") from None
    if not 1 <= number <= count:
        raise StafError(f"--stage {stage}: this model trains in {count} stage(s) (1 … {count})")
    return (number,)
