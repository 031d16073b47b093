"""Fine-tune a checkpoint on a task as a weight-sharing supernetwork.

Steps: load task and model; train the largest network for ``importance_warmup`` steps (so the new
classifier head means something), rank heads and neurons by gradient importance and permute them
(:mod:`.importance`), then train with the chosen strategy (:mod:`.strategies`). A resumable
training state is written every ``checkpoint_every`` steps; losses go to ``train_log.csv``; the
final supernet checkpoint (:mod:`.checkpoint`) carries dev accuracies of reference sub-networks.
"""

from __future__ import annotations

import csv
import math
import random
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import torch
from tqdm.auto import tqdm

from .. import data
from ..errors import EvosearchError
from ..fileio import atomic_write
from ..supernet import SubnetConfig, Supernet, collect_exit_logits, exit_accuracies, load_pretrained
from ..specs import PRUNING_CRITERIA
from ..specs.spans import reference_length
from .checkpoint import SupernetCheckpoint, save_checkpoint
from .importance import gradient_importance, reorder_by_importance
from .losses import supervised_loss
from .space import SubnetSampler, TrainingSpace, cubic_sparsity_factor
from .strategies import make_strategy

STATE_FILE = "training_state.pt"
SPAN_MODES = ("sampled", "learned")
DEFAULT_SPARSITY_WARMUP = 2 / 3  # TrainConfig.sparsity_warmup when sparsity is trained (its docstring says why)
LOG_FILE = "train_log.csv"


class ResumeError(EvosearchError):
    """A resume from a training state that belongs to another model, task or setup."""


@dataclass
class TrainConfig:
    """Everything a training run depends on (saved with the checkpoint).

    Defaults fit the embedded default (MiniLM, ``movie-polarity``) in well under 25 minutes on
    two CPU cores (12 minutes measured): dynamic padding at ``max_length`` 64 (p95 of the task is
    46 tokens) with batches grouped by length, three epochs of the training split, sandwich rule
    with one random sub-network whose loss weighs half the largest's, frozen word embeddings.

    ``pruning`` is how the sparsities of ``space.sparsity`` choose the weights they zero:
    ``magnitude`` (smallest ``|W|``) or ``movement`` (learned scores trained with the weights,
    Sanh et al., NeurIPS 2020; :mod:`evosearch.supernet.pruning`). The checkpoint's architecture
    records it, so search, extraction and export use the same masks.

    ``span_mode`` is where attention spans come from: ``sampled`` (each sampled sub-network draws
    its spans from ``space.spans``) or ``learned`` (adaptive attention span, Sukhbaatar et al.,
    ACL 2019): every head of every block learns a span ``z`` in tokens, kept within [0,
    ``max_length``] and starting at ``max_length`` (:class:`~evosearch.supernet.modules.EncoderBlock`),
    the soft mask uses it, and the loss adds ``span_penalty * mean(z) / max_length``, the L1
    penalty on spans. Learned spans replace the span gene in training: every sub-network runs
    the learned spans of the heads it keeps (the space's spans become ``[None]``). Adam moves
    the spans by about ``span_learning_rate`` tokens per step (the weights' rate would move them
    a thousandth of a token). With ``span_penalty`` 0 nothing pulls the spans in from
    ``max_length``, where the mask covers every sentence and passes them no gradient.

    ``sparsity_warmup`` is the sparsity warm-up (gradual pruning, Zhu & Gupta, "To prune, or not
    to prune", 2017; Sanh et al. use it for movement pruning and for their magnitude baseline,
    and so do we for both criteria): over the first ``sparsity_warmup`` fraction of the steps
    after the importance warm-up (those that sample sub-networks), every sampled sub-network
    (random, uniform and the sandwich's smallest) prunes its layers at its drawn sparsities times
    ``1 - (1 - p)^3``, ``p`` the fraction of the ramp done: 0 at the ramp's first step, the drawn
    values from its end on (:func:`~evosearch.training.space.cubic_sparsity_factor`,
    :meth:`Trainer.sparsity_factor`). A fraction of the sampled steps rather than of all, so that any value up
    to 1 ends the ramp by the end of the run; 0 turns it off (the sampled sparsities bite from
    the first sampled step). Why: movement scores start at zero, and the top-k of nearly equal
    scores is close to an arbitrary mask, which the weights then learn to live with (without the
    ramp, movement pruning scored 76-77 % from sparsity 0.2 to 0.9 on the default task,
    docs/benchmarks.md); with it, the scores gather movement while the masks cut few weights.
    Embedding sparsities (magnitude pruning of the tables, frozen by default) are not ramped.

    Default (None): 2/3 when the space trains a sparsity above 0, else 0, so dense training never
    computes the schedule and trains exactly as before it existed; the saved training config
    records the resolved value. 2/3 holds the targets for the last third of the sampled steps
    (252 of the default 795), where the linearly decaying learning rate is still up to a third of
    its peak, for the weights to adapt to the final masks. Sanh et al.'s released recipe holds
    them for its last 10,800 of about 55,000 steps (ten SQuAD epochs: a fifth); a fifth here
    would be 151 steps at a learning rate of at most a fifth of its peak. A value above 0 with a
    space that trains no sparsity above 0 is an error.
    """

    model: str | None = None  # folder or hub name; None = the embedded MiniLM
    task: str = data.DEFAULT_TASK
    regression: bool | None = None  # a local file's labels are real numbers (built-in and hub tasks know their kind)
    output: str = "results/supernet"
    max_length: int = 64
    train_subset: int | None = None  # use only the first N training examples (after shuffling)
    epochs: float = 3.0
    batch_size: int = 32
    learning_rate: float = 1e-4
    warmup_ratio: float = 0.06
    weight_decay: float = 0.01
    strategy: str = "sandwich"
    num_random: int = 1
    num_uniform: int = 0  # uniform-width sub-networks per sandwich step (DynaBERT-style); 1 did worse on the default
    temperature: float = 2.0
    regularize_largest_only: bool = False  # BigNAS: dropout for the largest network only
    sampled_weight: float = 0.5  # weight of each sampled sub-network's loss (the largest weighs 1)
    teacher: str | None = None  # optional fine-tuned checkpoint whose logits sub-networks distill from
    freeze_word_embeddings: bool = True
    group_by_length: bool = True  # batch sentences of similar length together (less padding)
    importance_warmup: int = 40  # largest-only steps before importance ordering
    importance_batches: int = 16
    checkpoint_every: int = 50
    eval_batch_size: int = 128
    seed: int = 0  # training randomness: initialisation of new heads, batch order, sampled sub-networks
    split_seed: int = 0  # which train/dev/test split of a task that ships without one (kept fixed across seeds)
    device: str = "cpu"
    threads: int | None = None  # torch CPU threads (None = torch's default, one per core)
    pruning: str = "magnitude"
    span_mode: str = "sampled"
    span_penalty: float = 0.0  # lambda of the L1 span penalty (span_mode learned)
    span_learning_rate: float = 0.1  # tokens per step, about (span_mode learned)
    sparsity_warmup: float | None = None  # fraction of the sampled steps ramping sparsities up (None: 2/3 if sparse, else 0)
    space: TrainingSpace = field(default_factory=TrainingSpace)

    def __post_init__(self) -> None:
        self._check_spans()
        if self.pruning not in PRUNING_CRITERIA:
            raise EvosearchError(f"pruning={self.pruning!r}; allowed: {', '.join(PRUNING_CRITERIA)}")
        if self.pruning == "movement" and not any(s > 0 for s in self.space.sparsity):
            raise EvosearchError(f"pruning='movement' needs a sparsity above 0 in the training space (sparsity="
                                 f"{list(self.space.sparsity)}); give some, e.g. --sparsity 0 0.5 0.8")
        self._check_sparsity_warmup()

    def _check_spans(self) -> None:
        if self.span_mode not in SPAN_MODES:
            raise EvosearchError(f"span_mode={self.span_mode!r}; allowed: {', '.join(SPAN_MODES)}")
        for name, allowed, ok in (("span_penalty", ">= 0", lambda v: v >= 0), ("span_learning_rate", "> 0", lambda v: v > 0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or not ok(value):
                raise EvosearchError(f"{name}={value!r}; allowed: a number {allowed}")
        if self.span_mode == "sampled":
            if self.span_penalty:
                raise EvosearchError(f"span_penalty={self.span_penalty} needs span_mode='learned' (span_mode="
                                     f"{self.span_mode!r}); add --span-mode learned")
            return
        space = self.space
        if space.spans is not None or space.span_fractions not in (TrainingSpace().span_fractions, (None,)):
            given = f"spans={list(space.spans)}" if space.spans is not None else f"span_fractions={list(space.span_fractions)}"
            raise EvosearchError(f"span_mode='learned' learns the spans instead of sampling them: give no spans or "
                                 f"span_fractions ({given})")
        self.space = replace(space, span_fractions=(None,))

    def _check_sparsity_warmup(self) -> None:
        sparse = any(s > 0 for s in self.space.sparsity)
        value = self.sparsity_warmup
        if value is None:
            self.sparsity_warmup = DEFAULT_SPARSITY_WARMUP if sparse else 0.0
            return
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
            raise EvosearchError(f"sparsity_warmup={value!r}; allowed: a fraction in [0, 1] of the steps after the "
                                 "importance warm-up (0 = off), or null for the default (2/3 when a sparsity above 0 "
                                 "is trained)")
        if value > 0 and not sparse:
            raise EvosearchError(f"sparsity_warmup={value} ramps up sampled sparsities, but the training space has none "
                                 f"above 0 (sparsity={list(self.space.sparsity)}); give some, e.g. --sparsity 0 0.5 "
                                 "0.8, or leave sparsity_warmup out")
        self.sparsity_warmup = float(value)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["space"] = self.space.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        d = dict(d)
        d["space"] = TrainingSpace.from_dict(d.get("space", {}))
        return cls(**d)


# Everything else must match for --resume (space, teacher, learning rate...): it changes what is trained.
RESUME_IGNORED = ("output", "device", "threads", "checkpoint_every", "eval_batch_size")


class Trainer:
    def __init__(self, config: TrainConfig):
        self.config = config
        self.output = Path(config.output)
        if config.threads:
            torch.set_num_threads(config.threads)
        torch.manual_seed(config.seed)
        random.seed(config.seed)
        self.splits, self.task = data.load_task(config.task, seed=config.split_seed, regression=config.regression)
        self.learned_spans = config.span_mode == "learned"
        self.supernet, self.tokenizer = load_pretrained(
            config.model, num_labels=self.task.num_labels, pruning=config.pruning,
            learned_span_max=config.max_length if self.learned_spans else None,
        )
        self.supernet.to(config.device)
        self.supernet.embeddings.word.weight.requires_grad_(not config.freeze_word_embeddings)
        tokenized = data.tokenize_task(self.splits, self.task, self.tokenizer, config.max_length)
        train_split = tokenized["train"].shuffle(seed=config.seed)
        if config.train_subset:
            train_split = train_split.select(range(min(config.train_subset, len(train_split))))
        self.train_split = train_split
        self.eval_batches = {
            split: data.make_eval_batches(tokenized[split], config.eval_batch_size, self.pad_id)
            for split in ("validation", "test") if split in tokenized and len(tokenized[split])
        }
        self.steps_per_epoch = math.ceil(len(train_split) / config.batch_size)
        self.total_steps = max(1, round(config.epochs * self.steps_per_epoch))
        sampled_steps = max(0, self.total_steps - config.importance_warmup)
        self.sparsity_warmup_steps = max(1, round(config.sparsity_warmup * sampled_steps)) if config.sparsity_warmup else 0
        # Spans and the span ramp are relative to the task's lengths (evosearch.supernet.span).
        self.space = config.space.resolve(reference_length(tokenized["train"]["length"]))
        self.supernet.span_ramp = self.space.span_ramp
        self.sampler = SubnetSampler(self.supernet.arch, self.space, seed=config.seed)
        self.strategy = make_strategy(
            config.strategy, config.num_random, config.temperature, config.num_uniform,
            config.regularize_largest_only, config.sampled_weight,
        )
        self.warmup_strategy = make_strategy("standard", temperature=config.temperature)  # before importance ordering
        self.teacher = self._load_teacher()
        self.step = 0
        self._new_optimizer()

    @property
    def pad_id(self) -> int:
        return self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0

    def _load_teacher(self) -> Supernet | None:
        if not self.config.teacher:
            return None
        teacher, _ = load_pretrained(self.config.teacher, num_labels=self.task.num_labels)
        return teacher.to(self.config.device).eval()

    def _new_optimizer(self) -> None:
        """AdamW; no decay on biases, norms, movement scores and learned spans. Movement scores
        start at zero and only their order within a row matters (the top-k mask), so their learning
        rate is irrelevant: Adam moves them in proportion to it, and scaling it would scale every
        score from the first step on and change no mask. They share the weights' rate and schedule
        (Sanh et al. give scores their own). They learn from the first step, in the importance
        warm-up too (sparsity 0 keeps every weight, and the straight-through gradient still reaches
        the scores); when their masks start to cut is the sparsity warm-up's matter
        (``TrainConfig.sparsity_warmup``), not their rate's. Learned spans, in tokens, have their
        own rate (``span_learning_rate``). Called again after the importance ordering (the old
        moments belong to the old order) and before a resumed state loads its own."""
        scores = {id(p) for p in self.supernet.movement_scores()}
        spans = self.supernet.span_parameters()
        params = [p for p in self.supernet.parameters() if p.requires_grad and all(p is not s for s in spans)]
        decay = [p for p in params if p.dim() > 1 and id(p) not in scores]
        no_decay = [p for p in params if p.dim() <= 1 or id(p) in scores]
        lr = self.config.learning_rate
        groups = [
            {"params": decay, "weight_decay": self.config.weight_decay, "initial_lr": lr},
            {"params": no_decay, "weight_decay": 0.0, "initial_lr": lr},
        ]
        if spans:
            span_lr = self.config.span_learning_rate
            groups.append({"params": spans, "weight_decay": 0.0, "lr": span_lr, "initial_lr": span_lr})
        self.optimizer = torch.optim.AdamW(groups, lr=lr)
        from transformers import get_linear_schedule_with_warmup  # linear warm-up, then linear decay to 0

        warmup = max(1, round(self.config.warmup_ratio * self.total_steps))
        self.scheduler = get_linear_schedule_with_warmup(self.optimizer, warmup, self.total_steps,
                                                         last_epoch=self.step - 1)

    # ------------------------------------------------------------------ batches
    def _batches_from(self, step: int):
        """Training batches from global step ``step`` on; each epoch reshuffled by seed + epoch."""
        epoch, skip = divmod(step, self.steps_per_epoch)
        while True:
            loader = data.make_train_loader(
                self.train_split, self.config.batch_size, self.pad_id, seed=self.config.seed + epoch,
                group_by_length=self.config.group_by_length,
            )
            for i, batch in enumerate(loader):
                if i >= skip:
                    yield {k: v.to(self.config.device) for k, v in batch.items()}
            epoch, skip = epoch + 1, 0

    # ------------------------------------------------------------------ importance
    def order_by_importance(self) -> None:
        loader = data.make_train_loader(self.train_split, self.config.batch_size, self.pad_id, seed=self.config.seed + 10_000)
        batches = [b for _, b in zip(range(self.config.importance_batches), loader)]
        heads, neurons = gradient_importance(self.supernet, batches, supervised_loss)
        reorder_by_importance(self.supernet, heads, neurons)
        self._new_optimizer()  # moments of the old order no longer match the permuted weights

    # ------------------------------------------------------------------ state
    def save_state(self) -> None:
        self.output.mkdir(parents=True, exist_ok=True)
        state = {
            "config": self.config.to_dict(),
            "step": self.step,
            "model": self.supernet.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "sampler": self.sampler.state(),
            "torch_rng": torch.get_rng_state(),
            "python_rng": random.getstate(),
        }
        atomic_write(self.output / STATE_FILE, lambda fh: torch.save(state, fh))

    def load_state(self) -> None:
        path = self.output / STATE_FILE
        if not path.is_file():
            raise ResumeError(f"nothing to resume: {path} does not exist (train without --resume first)")
        try:
            state = torch.load(path, map_location=self.config.device, weights_only=True)
            saved = state["config"]
        except Exception as err:  # noqa: BLE001 - torch raises many kinds for a damaged file
            raise ResumeError(f"cannot read the training state {path} ({type(err).__name__}): the file is damaged; "
                              "train again with --overwrite") from None
        mine = self.config.to_dict()
        if isinstance(saved.get("space"), dict) and "embedding_sparsity" not in saved["space"]:
            # a state from before embedding pruning trained dense embeddings only
            saved = {**saved, "space": {**saved["space"], "embedding_sparsity": [0.0]}}
        if "sparsity_warmup" not in saved:  # a state from before the sparsity warm-up pruned at full sparsity throughout
            saved = {**saved, "sparsity_warmup": 0.0}
        saved = {**TrainConfig().to_dict(), **saved}  # an option added since the state was saved has its default
        mismatched = [k for k in mine if k not in RESUME_IGNORED and saved.get(k) != mine[k]]
        if mismatched:
            details = ", ".join(f"{k}: saved {saved.get(k)!r}, now {mine[k]!r}" for k in mismatched)
            raise ResumeError(f"{path} belongs to another run ({details}); resume with the same settings, or use "
                              "another --output")
        self.step = state["step"]
        self.supernet.load_state_dict(state["model"])
        self._new_optimizer()
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.sampler.set_state(state["sampler"])
        torch.set_rng_state(state["torch_rng"])
        random.setstate(state["python_rng"])

    # ------------------------------------------------------------------ loop
    def train(self, until_step: int | None = None, progress: bool = True) -> None:
        """Train from the current step to the end (or to ``until_step``), checkpointing as it goes."""
        end = min(self.total_steps, until_step or self.total_steps)
        self.output.mkdir(parents=True, exist_ok=True)
        log_path = self.output / LOG_FILE
        new_log = not log_path.exists() or self.step == 0
        bar = tqdm(total=end, initial=self.step, desc="training supernet", unit="step", disable=not progress)
        started, seen = time.perf_counter(), 0
        with open(log_path, "w" if new_log else "a", newline="") as log_file:
            log = None
            batches = self._batches_from(self.step)
            self.supernet.train()
            while self.step < end:
                if self.step == self.config.importance_warmup:
                    self.order_by_importance()
                batch = next(batches)
                strategy = self.strategy if self.step >= self.config.importance_warmup else self.warmup_strategy
                teacher = self._teacher_logits(batch)
                self.optimizer.zero_grad(set_to_none=True)
                factor = self.sparsity_factor()
                with self.sampler.sparsities_scaled(factor):
                    losses = strategy(self.supernet, batch, self.sampler, teacher)
                if self.learned_spans:
                    losses["span"] = self._span_penalty_step()
                torch.nn.utils.clip_grad_norm_(self.supernet.parameters(), 1.0)
                self.optimizer.step()
                if self.learned_spans:
                    self.supernet.clamp_learned_spans()
                self.scheduler.step()
                self.step += 1
                seen += batch["input_ids"].shape[0]
                rate = seen / (time.perf_counter() - started)
                row = {"step": self.step, "epoch": round(self.step / self.steps_per_epoch, 4), "lr": self.scheduler.get_last_lr()[0], "examples_per_s": round(rate, 2), **{f"loss_{k}": round(v, 5) for k, v in losses.items()}}
                if self.learned_spans:  # the mean learned span in tokens
                    row["mean_span"] = round(self.supernet.span_penalty().item() * self.config.max_length, 3)
                if self.sparsity_warmup_steps:  # what the step's sampled sparsities were multiplied by
                    row["sparsity_factor"] = round(factor, 5)
                if log is None:
                    fields = ["step", "epoch", "lr", "examples_per_s", "loss_largest", "loss_smallest", "loss_random"]
                    fields += [f"loss_random{i}" for i in range(self.config.num_random)] + [f"loss_uniform{i}" for i in range(self.config.num_uniform)]
                    fields += ["loss_span", "mean_span"] if self.learned_spans else []
                    fields += ["sparsity_factor"] if self.sparsity_warmup_steps else []
                    log = csv.DictWriter(log_file, fieldnames=fields, extrasaction="ignore")
                    if new_log:
                        log.writeheader()
                log.writerow(row)
                log_file.flush()
                bar.update(1)
                bar.set_postfix(loss=f"{losses.get('largest', next(iter(losses.values()))):.3f}", ex_per_s=f"{rate:.1f}")
                if self.step % self.config.checkpoint_every == 0 or self.step == end:
                    self.save_state()
        bar.close()

    def sparsity_factor(self, step: int | None = None) -> float:
        """What the sampled layer sparsities of ``step`` (default: the current step) are multiplied
        by: the sparsity warm-up's cubic factor, 1 when it is off or over (TrainConfig's docstring)."""
        if not self.sparsity_warmup_steps:
            return 1.0
        return cubic_sparsity_factor(self.step if step is None else step, self.config.importance_warmup,
                                     self.sparsity_warmup_steps)

    def _span_penalty_step(self) -> float:
        """Back-propagate the L1 span penalty (Sukhbaatar et al., ACL 2019), once per step."""
        penalty = self.config.span_penalty * self.supernet.span_penalty()
        penalty.backward()
        return penalty.item()

    @torch.no_grad()
    def _teacher_logits(self, batch: dict) -> torch.Tensor | None:
        if self.teacher is None:
            return None
        return self.teacher(batch["input_ids"], batch["attention_mask"], batch["token_type_ids"])[-1]

    @property
    def finished(self) -> bool:
        return self.step >= self.total_steps

    # ------------------------------------------------------------------ results
    def reference_configs(self) -> dict[str, SubnetConfig]:
        """The sub-networks whose dev accuracy every run reports."""
        arch = self.supernet.arch
        return {
            "largest": SubnetConfig.largest(arch),
            "half": SubnetConfig.uniform(arch, 0.5),
            "smallest": self.sampler.smallest(),
            "largest_4bit": SubnetConfig.largest(arch).with_layers(bits=4),
        }

    def evaluate(self, split: str = "validation") -> dict:
        """Accuracy of the reference sub-networks (final exit) on ``split``, and of each exit of the largest."""
        results = {}
        for name, config in self.reference_configs().items():
            logits, labels = collect_exit_logits(self.supernet, self.eval_batches[split], config)
            accuracies = exit_accuracies(logits, labels)
            results[name] = round(accuracies[-1], 4)
            if name == "largest":
                results["largest_per_exit"] = [round(a, 4) for a in accuracies]
        return results

    def save_supernet(self, metrics: dict, seconds: float, test_metrics: dict | None = None) -> Path:
        checkpoint = SupernetCheckpoint(
            supernet=self.supernet,
            tokenizer=self.tokenizer,
            task={
                "spec": self.config.task,
                "seed": self.config.split_seed,
                "max_length": self.config.max_length,
                "num_labels": self.task.num_labels,
                "is_regression": self.task.is_regression,
                "label_names": list(self.task.label_names) if self.task.label_names else None,
            },
            bounds=self.space.to_dict(),
            meta={
                "train_config": self.config.to_dict(), "steps": self.step, "train_seconds": round(seconds, 1),
                "dev": metrics, "test": test_metrics or {},
            },
        )
        return save_checkpoint(self.output, checkpoint)


def train_supernet(config: TrainConfig, resume: bool = False, progress: bool = True) -> tuple[Path, dict]:
    """Train (or resume) and save the supernet checkpoint; returns its folder and dev metrics.

    The checkpoint's ``meta`` also holds the same metrics on the test split (when the task has
    one), which no training or search decision looks at.
    """
    trainer = Trainer(config)
    if resume:
        trainer.load_state()
        if trainer.finished and (trainer.output / "supernet.json").is_file():
            from .checkpoint import read_description

            return trainer.output, read_description(trainer.output).get("meta", {}).get("dev", {})
    started = time.perf_counter()
    trainer.train(progress=progress)
    seconds = time.perf_counter() - started
    classify = not trainer.task.is_regression
    metrics = trainer.evaluate() if classify else {}
    test_metrics = trainer.evaluate("test") if classify and "test" in trainer.eval_batches else {}
    return trainer.save_supernet(metrics, seconds, test_metrics), metrics
