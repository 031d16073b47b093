"""Tiny random models, batches and tasks shared by the tests (not a test module)."""

import csv
import random
import torch
from transformers import AlbertConfig, AlbertModel, BertConfig, BertForSequenceClassification, BertModel

from evosearch.search import Evaluator, ObjectiveSet, SearchSpace
from evosearch.supernet import supernet_from_hf

TINY = dict(vocab_size=60, hidden_size=32, num_attention_heads=4, intermediate_size=48, max_position_embeddings=64)
HF_MODELS = {
    "albert-one-group-E!=H": lambda: AlbertModel(AlbertConfig(embedding_size=16, num_hidden_layers=4, **TINY)),
    "albert-two-groups-two-inner": lambda: AlbertModel(
        AlbertConfig(embedding_size=16, num_hidden_layers=4, num_hidden_groups=2, inner_group_num=2, **TINY)
    ),
    "bert": lambda: BertModel(BertConfig(num_hidden_layers=3, **TINY)),
}


def batch(seed=0, size=3, length=21):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(1, 60, (size, length), generator=g)
    mask = torch.ones_like(ids)
    if size > 1:
        mask[1, length // 2 :] = 0
    types = torch.zeros_like(ids)
    types[:, length // 3 :] = 1
    return ids, mask, types


def save_tiny(tmp_path, hf_model, name="model"):
    """A tiny checkpoint with a real (tiny) WordPiece tokenizer, saved like a user's folder."""
    from transformers import BertTokenizerFast

    folder = tmp_path / name
    folder.mkdir()
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + [f"w{i}" for i in range(55)]
    (folder / "vocab.txt").write_text("\n".join(vocab))
    BertTokenizerFast(vocab=str(folder / "vocab.txt")).save_pretrained(folder)
    hf_model.save_pretrained(folder)
    return folder



TINY_CLASSIFIER = dict(vocab_size=60, hidden_size=32, num_attention_heads=4, intermediate_size=48,
            max_position_embeddings=64, num_hidden_layers=3, num_labels=2)

SMALL = {
    "name": "t",
    "quant": "int",
    "genes": {
        "heads": {"fractions": [0.5, 1.0]},
        "ffn": {"fractions": [0.25, 0.5, 1.0]},
        "bits": {"choices": [8, 32], "tied": True},
        "exit_threshold": {"choices": [0.0, 0.3, 0.6], "tied": True},
        "embedding_bits": {"choices": [8, 32]},
    },
}


def tiny_supernet(seed=0):
    torch.manual_seed(seed)
    return supernet_from_hf(BertForSequenceClassification(BertConfig(**TINY_CLASSIFIER)).eval()).eval()


def tiny_batches(n_batches=2, size=12, seed=0):
    g = torch.Generator().manual_seed(seed)
    out = []
    for b in range(n_batches):
        length = 8 + 2 * b
        ids = torch.randint(1, 60, (size, length), generator=g)
        mask = torch.ones_like(ids)
        mask[0, length // 2:] = 0
        out.append({"input_ids": ids, "attention_mask": mask, "token_type_ids": torch.zeros_like(ids),
                    "labels": torch.randint(0, 2, (size,), generator=g), "index": torch.arange(size) + b * size})
    return out


def search_setup(space=SMALL, objectives=None, seed=0):
    supernet = tiny_supernet(seed)
    bound = SearchSpace.from_dict(space).bind(supernet.arch)
    obj = ObjectiveSet.from_dict(objectives or {"objectives": ["error", "params"]})
    return supernet, bound, obj, Evaluator(supernet, tiny_batches(), bound, obj)


def write_keyword_task(path, rows: int) -> str:
    """A learnable sentiment-like CSV task (label 1 iff the sentence contains ``w1``), seeded."""
    rng = random.Random(0)
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["text", "label"])
        for i in range(rows):
            words = [f"w{rng.randint(2, 50)}" for _ in range(rng.randint(3, 12))]
            if i % 2:
                words.insert(rng.randint(0, len(words)), "w1")
            writer.writerow([" ".join(words), i % 2])
    return str(path)
