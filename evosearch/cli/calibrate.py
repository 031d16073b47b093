"""``evosearch calibrate``: fit this machine's CPU latency predictor for a model, and validate it."""

from __future__ import annotations

import json


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "calibrate",
        help="fit the CPU latency predictor for a model on this machine (micro-benchmarks), optionally validate it",
        description="Time one transformer block on a grid of (heads, FFN neurons), float and int8 "
        "dynamic, plus the embeddings and an exit ramp; fit the table's correction on random whole "
        "sub-networks; save the predictor as JSON in the cache ($EVOSEARCH_CACHE/latency/) or --out. "
        "With --validate N, measure N held-out random sub-networks and print MAPE and Spearman "
        "correlation of predicted vs measured latency, and the measurement noise floor.",
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--model", metavar="PATH", help="ALBERT/BERT checkpoint folder (default: the embedded MiniLM)")
    source.add_argument("--supernet", metavar="CKPT", help="a supernet checkpoint folder written by `evosearch train`")
    parser.add_argument("--seq-len", type=int, default=32, help="sequence length of the timed inputs (default 32)")
    parser.add_argument("--batch-size", type=int, default=1, help="batch size of the timed inputs (default 1)")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's current setting)")
    parser.add_argument("--out", metavar="FILE", help="where to save the predictor (default: the per-machine cache file)")
    parser.add_argument("--validate", type=int, default=0, metavar="N", help="measure N held-out random sub-networks and report accuracy")
    parser.add_argument("--repeats", type=int, default=10, help="timed runs per measurement and pass (default 10)")
    parser.add_argument("--calibration-subnets", type=int, default=24, help="whole sub-networks measured to fit the correction (default 24)")
    parser.add_argument("--statistic", choices=("min", "median", "mean", "q1"), default="min",
                        help="statistic of the timed runs taken as the latency (default min: most repeatable on a shared machine)")
    parser.add_argument("--method", choices=("table", "regression"), default="table", help="default prediction method (default table)")
    parser.add_argument("--no-int8", action="store_true", help="do not time int8 dynamic quantization (all layers run float)")
    parser.add_argument("--seed", type=int, default=0, help="random seed of the calibration sub-networks")
    parser.set_defaults(func=run)


def run(args) -> int:
    from tqdm.auto import tqdm

    from evosearch.latency import LatencyError, calibrate, calibration_steps, default_predictor_path, validate

    supernet = _load(args)
    arch = supernet.arch
    if args.seq_len < 1 or args.batch_size < 1:
        raise LatencyError("--seq-len and --batch-size must be positive")
    if args.validate < 0 or 0 < args.validate < 3:
        raise LatencyError(f"--validate {args.validate}: give 0 (no validation) or at least 3 sub-networks")
    int8 = not args.no_int8
    bar = tqdm(total=calibration_steps(arch, int8=int8), desc="calibrating", unit="step")
    try:
        predictor = calibrate(
            supernet, batch_size=args.batch_size, seq_len=args.seq_len, threads=args.threads, int8=int8,
            repeats=args.repeats, calibration_subnets=args.calibration_subnets, statistic=args.statistic,
            method=args.method, seed=args.seed, progress=lambda name: bar.update(1),
        )
    finally:
        bar.close()
    out = args.out or default_predictor_path(arch, args.batch_size, args.seq_len, predictor.machine["threads"])
    path = predictor.save(out)
    fit = predictor.calibration["fit_mape_percent"]
    print(f"saved latency predictor: {path}")
    print(f"machine: {predictor.machine}")
    print(
        f"batch {predictor.batch_size}, seq len {predictor.seq_len}, statistic {predictor.statistic}; "
        f"calibration-set fit MAPE: table {fit['table']:.1f}%, regression {fit['regression']:.1f}%"
    )
    if args.validate:
        rounds = 4
        bar = tqdm(total=rounds, desc=f"validating on {args.validate} sub-networks", unit="pass")
        try:
            result = validate(
                predictor, supernet, args.validate, repeats=args.repeats, rounds=rounds, seed=args.seed + 12345,
                progress=lambda name: bar.update(1),
            )
        finally:
            bar.close()
        print(
            f"held-out validation ({args.validate} random sub-networks, method {predictor.method}): "
            f"MAPE {result.mape:.1f}%, Spearman {result.spearman:.3f}; "
            f"noise floor (measurement vs re-measurement): MAPE {result.noise_mape:.1f}%, "
            f"Spearman {result.noise_spearman:.3f}"
        )
        report = path.with_name(path.stem + ".validation.json")
        report.write_text(json.dumps(result.to_dict(), indent=1))
        print(f"validation details: {report}")
    return 0


def _load(args):
    if args.supernet:
        from evosearch.training import load_checkpoint

        return load_checkpoint(args.supernet).supernet
    from evosearch.supernet import load_pretrained

    return load_pretrained(args.model)[0]
