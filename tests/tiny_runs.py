"""Shared setup for the report/export tests: a tiny supernet checkpoint, a local task, a real search run.

The tiny BERT is random; to give the search a real accuracy trade-off, the task's labels are the
full model's own predictions (so the largest sub-network is 100% accurate and smaller ones lose
accuracy), and the exit classifiers are scaled up so exit entropies vary.
"""

from __future__ import annotations

import random
from pathlib import Path

import pandas as pd
import torch
from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast

from evosearch.supernet import supernet_from_hf
from evosearch.training import SupernetCheckpoint, save_checkpoint

TINY = dict(vocab_size=60, hidden_size=32, num_attention_heads=4, intermediate_size=48,
            max_position_embeddings=64, num_hidden_layers=3, num_labels=2)
# distinct short learned spans per head and per block (tokens): with make_checkpoint's ramp of 2 tokens
# each head sees 1-6 tokens either side, in sentences of 5-11 tokens
LEARNED_SPANS = [[1.0, 2.5, 4.0, 0.5], [3.0, 0.0, 1.5, 2.0], [0.5, 5.0, 2.0, 1.0]]
WORDS = ["good", "bad", "great", "awful", "fine", "film", "plot", "actor", "boring", "fun", "the", "a", "is", "was"]


def make_checkpoint(tmp: Path, *, model_type: str = "bert", seed: int = 0, sizes=(20, 60, 40),
                    pooling: str = "cls", learned_spans=None) -> Path:
    """A tiny checkpoint folder plus its task (``tmp/task/{train,validation,test}.csv``).

    ``pooling="mean"`` makes the early exits decisive (the first token of a tiny random model
    says little about the sentence), as the embedded MiniLM's are. ``learned_spans`` (one list of
    per-head spans in tokens per weight block) makes it a supernet trained with learned spans
    (adaptive attention span, Sukhbaatar et al., ACL 2019) whose heads learned these spans, with a
    span ramp of 2 tokens so that short spans cut into the 5-11 token sentences, and value and attention
    output weights ten times the random ones so that attention moves the hidden states (at the random init's
    scale it barely does, and a mask left out would hardly show); its bounds are
    what `evosearch train --span-mode learned` records (no span sampled) and the labels are its
    own predictions with those spans."""
    tmp = Path(tmp)
    tmp.mkdir(parents=True, exist_ok=True)
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + WORDS
    (tmp / "vocab.txt").write_text("\n".join(vocab) + "\n")
    tokenizer = BertTokenizerFast(vocab=str(tmp / "vocab.txt"))
    torch.manual_seed(seed)
    if model_type.startswith("albert"):
        from transformers import AlbertConfig, AlbertForSequenceClassification

        layout = dict(num_hidden_layers=4, num_hidden_groups=2, inner_group_num=2) if model_type == "albert-groups" \
            else dict(num_hidden_layers=3)  # "albert-groups": 4 layers of 2 groups x 2 inner blocks = 8 virtual layers
        cfg = AlbertConfig(vocab_size=60, embedding_size=16, hidden_size=32, num_attention_heads=4,
                           intermediate_size=48, max_position_embeddings=64, num_labels=2, pad_token_id=0, **layout)
        hf = AlbertForSequenceClassification(cfg).eval()
    else:
        hf = BertForSequenceClassification(BertConfig(**TINY)).eval()
    learned = {} if learned_spans is None else {"span_ramp": 2, "learned_span_max": 16}
    supernet = supernet_from_hf(hf, pooling=pooling, **learned).eval()
    with torch.no_grad():
        for ramp in supernet.ramps:
            ramp.classifier.weight.mul_(40.0)
        for block, values in zip(supernet.blocks, learned_spans or ()):
            block.spans.copy_(torch.tensor(values, dtype=block.spans.dtype))
            block.value.weight.mul_(10.0)  # attention, and so its span masks, weighs in the hidden states
            block.attention_out.weight.mul_(10.0)
    rng = random.Random(seed)
    data = tmp / "task"
    data.mkdir(exist_ok=True)
    texts = {split: [" ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 9))) for _ in range(n)]
             for split, n in zip(["train", "validation", "test"], sizes)}
    every = [t for split in texts.values() for t in split]
    enc = tokenizer(every, padding=True, return_tensors="pt")
    with torch.no_grad():  # centre every exit so both classes occur
        logits = supernet(enc["input_ids"], enc["attention_mask"], enc["token_type_ids"])
        for ramp, exit_logits in zip(supernet.ramps, logits):
            ramp.classifier.bias[1] -= (exit_logits[:, 1] - exit_logits[:, 0]).median()
    for split, split_texts in texts.items():
        enc = tokenizer(split_texts, padding=True, return_tensors="pt")
        with torch.no_grad():
            labels = supernet(enc["input_ids"], enc["attention_mask"], enc["token_type_ids"])[-1].argmax(-1)
        pd.DataFrame({"text": split_texts, "label": labels.tolist()}).to_csv(data / f"{split}.csv", index=False)
    bounds = {"bits": [4, 8]} if learned_spans is None else {"bits": [4, 8, 16], "spans": [None]}
    ckpt = SupernetCheckpoint(supernet, tokenizer, task={"spec": str(data), "num_labels": 2, "max_length": 16,
                                                         "seed": 0}, bounds=bounds)
    return save_checkpoint(tmp / "ckpt", ckpt)


def make_run(tmp: Path, checkpoint: Path, *, space="small", objectives="default", generations=3, population=10,
             name="run", seed=0, dev_subset=0, local_search=False, extra=()) -> Path:
    """Run a tiny search through the CLI (so config.yaml is exactly what users get); the local-search
    stage only when asked (tests of plot, pick and export do not need it)."""
    from evosearch.cli import main

    torch.set_num_threads(1)
    argv = ["search", "--supernet", str(checkpoint), "--space", str(space), "--objectives", str(objectives),
            "--generations", str(generations), "--population", str(population), "--dev-subset", str(dev_subset),
            "--batch-size", "16", "--run-name", name, "--results", str(Path(tmp) / "results"), "--no-progress",
            "--seed", str(seed), "--local-search" if local_search else "--no-local-search", *extra]
    assert main(argv) == 0
    return Path(tmp) / "results" / name
