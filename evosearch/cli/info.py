"""``evosearch info``: what this machine offers evosearch (versions, threads, devices, paths)."""

from __future__ import annotations


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "info",
        help="show versions, CPU threads, GPUs and where evosearch reads models and caches data",
        description="Print the library versions, torch threads and devices, the embedded default "
        "model's folder and the cache folder. Useful in bug reports.",
    )
    parser.set_defaults(func=run)


def run(args) -> int:
    import os

    import torch
    import transformers

    import evosearch
    from evosearch.data import cache_dir
    from evosearch.supernet import default_model_path

    rows = {
        "evosearch": evosearch.__version__,
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "torch threads": torch.get_num_threads(),
        "CPU cores": os.cpu_count(),
        "CUDA devices": torch.cuda.device_count() if torch.cuda.is_available() else 0,
        "default model": default_model_path(),
        "cache folder (EVOSEARCH_CACHE)": cache_dir(),
    }
    width = max(map(len, rows))
    for key, value in rows.items():
        print(f"{key:<{width}}  {value}")
    return 0
