"""Fine-tune one picked sub-network: a short distillation that recovers what weight sharing cost it.

The weights a sub-network shares with every other sub-network of the supernet are a compromise.
HAT (Wang et al., ACL 2020) and AutoTinyBERT (Yin et al., ACL 2021) therefore train the chosen
sub-network further on its own; whittle does not. Here the supernet is fine-tuned *as that one
sub-network*: every step runs the pick's config (its heads, neurons, bit widths with
quantization-aware straight-through steps, spans) and updates the weights it uses, with all its
exits trained (their weights as in supernet training, so the thresholds keep their meaning), on

    labels at every exit + temperature-scaled KL to the teacher at every exit

where the teacher is the largest sub-network of the *original* supernet (or a given fine-tuned
checkpoint). The result is a supernet checkpoint (the weights outside the pick untouched) with a
pick file next to it, so ``evosearch export --pick FOLDER/pick.yaml`` ships the fine-tuned
weights and its verification compares the export with the fine-tuned supernet's own estimate.

The run stops after ``steps`` optimizer steps or ``max_seconds``, whichever comes first; it
saves a resumable state every ``checkpoint_every`` steps (``resume=True`` continues it exactly).
"""

from __future__ import annotations

import json
import math
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import yaml
from tqdm.auto import tqdm

from ..errors import EvosearchError
from ..fileio import atomic_write
from ..specs import SubnetConfig
from .checkpoint import SupernetCheckpoint, load_checkpoint, save_checkpoint
from .losses import distillation_loss, supervised_loss

STATE_FILE = "finetune_state.pt"


@dataclass
class FinetuneConfig:
    steps: int = 300
    max_seconds: float | None = None
    batch_size: int = 32
    learning_rate: float = 2e-5
    warmup_ratio: float = 0.1
    weight_decay: float = 0.0  # no decay: weights the pick does not use stay exactly as in the supernet
    temperature: float = 2.0
    distill_weight: float = 1.0  # weight of the KL term against the label term
    checkpoint_every: int = 50
    seed: int = 0
    teacher: str | None = None  # a checkpoint folder; default: the original supernet's largest sub-network

    def check(self) -> None:
        for name in ("steps", "batch_size", "checkpoint_every"):
            if getattr(self, name) < 1:
                raise EvosearchError(f"finetune {name}={getattr(self, name)}: give at least 1")
        if self.learning_rate <= 0 or self.temperature <= 0 or self.distill_weight < 0:
            raise EvosearchError("finetune learning_rate and temperature must be > 0 and distill_weight >= 0")
        if self.max_seconds is not None and self.max_seconds <= 0:
            raise EvosearchError(f"finetune max_seconds={self.max_seconds}: give a positive number of seconds")


@dataclass
class FinetuneResult:
    folder: Path
    steps: int
    seconds: float
    before: dict  # split -> accuracy with early exit (the pick's thresholds)
    after: dict
    dev_loss_before: float
    dev_loss_after: float

    def to_dict(self) -> dict:
        data = asdict(self)
        data["folder"] = str(self.folder)
        return data


def finetune(source: str | Path, config: SubnetConfig, thresholds, out: str | Path, settings: FinetuneConfig | None = None,
             *, resume: bool = False, progress: bool = True, task: str | None = None) -> FinetuneResult:
    """Fine-tune ``config`` of the supernet checkpoint ``source`` into ``out`` (see the module doc)."""
    from .. import data
    from ..supernet import collect_exit_logits, early_exit

    settings = settings or FinetuneConfig()
    settings.check()
    out = Path(out)
    ckpt = load_checkpoint(source)
    supernet = ckpt.supernet
    config.validate(supernet.arch)
    task_info = dict(ckpt.task or {})
    spec = task or task_info.get("spec")
    splits, info = data.load_task(spec, seed=int(task_info.get("seed", 0)))
    tokenized = data.tokenize_task(splits, info, ckpt.tokenizer, int(task_info.get("max_length", 128)))
    pad = ckpt.tokenizer.pad_token_id or 0
    evals = {split: data.make_eval_batches(tokenized[split], 64, pad) for split in ("validation", "test")
             if split in tokenized and len(tokenized[split])}
    teacher = load_checkpoint(settings.teacher).supernet if settings.teacher else load_checkpoint(source).supernet
    teacher.eval()
    teacher_config = SubnetConfig.largest(teacher.arch)

    def accuracy(model, split):
        logits, labels = collect_exit_logits(model, evals[split], config)
        preds, _ = early_exit(logits, list(thresholds))
        return float((preds == labels).float().mean())

    def dev_loss(model):
        model.eval()
        total, n = 0.0, 0
        with torch.inference_mode():
            weights = model.subnet_weights(config)
            for batch in evals["validation"]:
                logits = model(batch["input_ids"], batch["attention_mask"], batch["token_type_ids"], weights=weights)
                total += float(supervised_loss(logits, batch["labels"])) * len(batch["labels"])
                n += len(batch["labels"])
        return total / n

    torch.manual_seed(settings.seed)
    random.seed(settings.seed)
    before = {split: accuracy(supernet, split) for split in evals}
    loss_before = dev_loss(supernet)
    supernet.embeddings.word.weight.requires_grad_(False)  # as supernet training: the table stays frozen
    params = [p for p in supernet.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW([{"params": [p for p in params if p.dim() > 1], "weight_decay": settings.weight_decay},
                                   {"params": [p for p in params if p.dim() <= 1], "weight_decay": 0.0}],
                                  lr=settings.learning_rate)
    from transformers import get_linear_schedule_with_warmup

    scheduler = get_linear_schedule_with_warmup(optimizer, max(1, round(settings.warmup_ratio * settings.steps)),
                                                settings.steps)
    step, spent = 0, 0.0
    state_file = out / STATE_FILE
    if resume:
        if not state_file.is_file():
            raise EvosearchError(f"nothing to resume: {state_file} does not exist")
        state = torch.load(state_file, weights_only=True)
        budget_free = ("max_seconds", "checkpoint_every")  # how long to run may change; what is trained may not
        same = {k: v for k, v in asdict(settings).items() if k not in budget_free}
        if {k: v for k, v in state["settings"].items() if k not in budget_free} != same \
                or state["config"] != config.to_dict():
            raise EvosearchError(f"{state_file} belongs to another fine-tune (other settings or sub-network); resume "
                                 "with the same ones, or use another --out")
        supernet.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        step, spent = int(state["step"]), float(state["seconds"])
        torch.set_rng_state(state["torch_rng"])
        random.setstate(state["python_rng"])
    out.mkdir(parents=True, exist_ok=True)
    train_split = tokenized["train"]
    steps_per_epoch = math.ceil(len(train_split) / settings.batch_size)

    def batches_from(step):
        epoch, skip = divmod(step, steps_per_epoch)
        while True:
            loader = data.make_train_loader(train_split, settings.batch_size, pad, seed=settings.seed + epoch,
                                            group_by_length=True)
            for i, batch in enumerate(loader):
                if i >= skip:
                    yield batch
            epoch, skip = epoch + 1, 0

    def save_state():
        state = {"settings": asdict(settings), "config": config.to_dict(), "step": step, "seconds": spent,
                 "model": supernet.state_dict(), "optimizer": optimizer.state_dict(),
                 "scheduler": scheduler.state_dict(), "torch_rng": torch.get_rng_state(),
                 "python_rng": random.getstate()}
        atomic_write(state_file, lambda fh: torch.save(state, fh))

    bar = tqdm(total=settings.steps, initial=step, desc="fine-tuning the pick", unit="step", disable=not progress)
    started = time.perf_counter() - spent
    supernet.train()
    stream = batches_from(step)
    while step < settings.steps and (settings.max_seconds is None or spent < settings.max_seconds):
        batch = next(stream)
        with torch.no_grad():
            target = teacher(batch["input_ids"], batch["attention_mask"], batch["token_type_ids"],
                             config=teacher_config)[-1]
        optimizer.zero_grad(set_to_none=True)
        logits = supernet(batch["input_ids"], batch["attention_mask"], batch["token_type_ids"], config=config)
        loss = supervised_loss(logits, batch["labels"]) + settings.distill_weight * distillation_loss(
            logits, target, settings.temperature)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        scheduler.step()
        step += 1
        spent = time.perf_counter() - started
        bar.update(1)
        bar.set_postfix(loss=f"{loss.item():.3f}")
        if step % settings.checkpoint_every == 0:
            save_state()
    bar.close()
    save_state()
    supernet.eval()
    after = {split: accuracy(supernet, split) for split in evals}
    result = FinetuneResult(out, step, round(spent, 1), before, after, loss_before, dev_loss(supernet))
    meta = dict(ckpt.meta)
    meta["finetune"] = {"source": str(Path(source).resolve()), "config": config.to_dict(),
                        "thresholds": list(thresholds), "settings": asdict(settings), **result.to_dict()}
    save_checkpoint(out, SupernetCheckpoint(supernet, ckpt.tokenizer, ckpt.task, ckpt.bounds, meta))
    pick = {"kind": "evosearch-pick", "supernet": str(out.resolve()), "task": spec, "config": config.to_dict(),
            "thresholds": [float(t) for t in thresholds], "picked_by": "finetune",
            "explanation": f"fine-tuned for {step} steps from {source}",
            "metrics": {"accuracy": after.get("validation")}}
    atomic_write(out / "pick.yaml", yaml.safe_dump(pick, sort_keys=False))
    atomic_write(out / "finetune.json", json.dumps(result.to_dict(), indent=1))
    return result
