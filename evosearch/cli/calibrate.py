"""``evosearch calibrate``: fit this machine's CPU latency model for a model, and validate it."""

from __future__ import annotations

import json

DESCRIPTION = """\
Fit the CPU latency model behind the cpu_latency_ms objective and the export's verification: it
predicts the per-sentence latency of the ONNX Runtime deployment `evosearch export` writes (int8
for layers at <= 8 bits, early exit between segments) on this machine at --threads threads.

Calibration exports random sub-networks of the model as ONNX deployments, times sentences of
several lengths that leave at random exits (in interleaved rounds, as a deployment runs them), and
fits per-segment costs and per-layer costs of work and of reading weights (non-negative least
squares on relative errors) until --budget seconds are spent. The model is cached per machine,
model shape and thread count ($EVOSEARCH_CACHE/latency/), where searches and verifications find
it. A search or quickstart that needs one and finds none calibrates on its own (about 90 s); run
this command for a longer calibration or to check the model: --validate N times N held-out
sub-networks end to end (each twice, for the noise floor) and prints MAPE and Spearman
correlation of predicted against measured.
"""


#: A reference-time spread above this (percent) during calibration is worth telling the user about.
BUSY_SPREAD_PERCENT = 20.0


def register(subparsers) -> None:
    from argparse import RawDescriptionHelpFormatter

    parser = subparsers.add_parser(
        "calibrate", help="fit the CPU latency model of the ONNX deployment on this machine, optionally validate it",
        description=DESCRIPTION, formatter_class=RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--model", metavar="PATH", help="ALBERT/BERT checkpoint folder (default: the embedded MiniLM)")
    source.add_argument("--supernet", metavar="CKPT", help="a supernet checkpoint folder written by `evosearch train`")
    parser.add_argument("--threads", type=int, default=1,
                        help="ONNX Runtime threads of the deployment to predict (default 1, as the search assumes)")
    parser.add_argument("--budget", type=float, default=180.0, metavar="SECONDS",
                        help="time to spend timing sub-networks (default 180)")
    parser.add_argument("--out", metavar="FILE", help="where to save the model (default: the per-machine cache file)")
    parser.add_argument("--validate", type=int, default=0, metavar="N",
                        help="time N held-out random sub-networks and report the prediction error")
    parser.add_argument("--seed", type=int, default=0, help="random seed of the calibration sub-networks")
    parser.set_defaults(func=run)


def run(args) -> int:
    from tqdm.auto import tqdm

    from evosearch.latency import LatencyError, calibrate, predictor_path, validate

    if args.threads < 1:
        raise LatencyError(f"--threads {args.threads}: give a positive number of threads")
    if args.budget <= 0:
        raise LatencyError(f"--budget {args.budget}: give a positive number of seconds")
    if args.validate < 0 or 0 < args.validate < 3:
        raise LatencyError(f"--validate {args.validate}: give 0 (no validation) or at least 3 sub-networks")
    supernet = _load(args)
    bar = tqdm(desc="calibrating", unit="sub-network")
    try:
        model = calibrate(supernet, threads=args.threads, budget_s=args.budget, seed=args.seed,
                          progress=lambda name: bar.update(1))
    finally:
        bar.close()
    path = model.save(args.out or predictor_path(supernet.arch, args.threads))
    cal = model.calibration
    print(f"saved latency model: {path}")
    print(f"machine: {model.machine}")
    print(f"{cal['subnets']} sub-networks, {cal['sentences_timed']} timed sentences in {cal['seconds']} s; "
          f"fit MAPE {cal['fit_mape_percent']:.1f}%; the machine's speed varied by {cal['reference_spread_percent']:.1f}% "
          "(10th to 90th percentile of a reference deployment's time)")
    if cal["reference_spread_percent"] > BUSY_SPREAD_PERCENT:
        print("note: the machine's speed varied a lot while calibrating (other work running?); the model is "
              "fitted at its median speed; calibrate again on a quieter machine for steadier predictions")
    if args.validate:
        bar = tqdm(total=args.validate, desc="validating", unit="sub-network")
        try:
            result = validate(model, supernet, args.validate, seed=args.seed + 12345, progress=lambda name: bar.update(1))
        finally:
            bar.close()
        print(f"held-out validation ({args.validate} random sub-networks, random sentences with early exit): "
              f"MAPE {result.mape:.1f}%, Spearman {result.spearman:.3f}; noise floor (measured twice): MAPE "
              f"{result.noise_mape:.1f}%")
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
