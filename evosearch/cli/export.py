"""``evosearch export``: write a picked sub-network as a stand-alone model and verify it."""

from __future__ import annotations

import argparse

DESCRIPTION = """\
Export one sub-network of a search run as a stand-alone, smaller model in --out DIR:

  onnx/                the deployment: one ONNX graph per segment of layers ending at an exit
                       ramp (int8 weights where the layers are at <= 8 bits, float32 elsewhere)
                       and manifest.json with the exit thresholds; runs with onnxruntime and the
                       tokenizer alone (README: "Deploy the exported model")
  weights.safetensors  the sliced weights at their bit width (int: bit-packed codes + float32
                       per-row scales; AdaptivFloat: bit-packed codes + exponent bias), the rest
                       float32: the compact form, and what load_deployed(DIR).torch_model() reads
  model.json           architecture, sub-network config, exit thresholds, task, provenance, and the
                       list of files the export wrote (--overwrite removes exactly those)
  tokenizer/           the supernet's tokenizer
  hf/                  when the sub-network fits a plain BERT/ALBERT config (first-token pooling, all
                       heads kept, one FFN width, no spans, fixed or learned, ALBERT sharing
                       unchanged): a transformers model (final exit only) for
                       AutoModelForSequenceClassification
  verification.json    the ONNX deployment on dev and test, one sentence at a time with early exit:
                       accuracy against the supernet's estimate (must agree within 0.5 pt) and the
                       share of identical predictions; CPU latency measured against the latency
                       model's prediction (calibrated on first use); size on disk against the
                       search's estimate

The folder is written beside --out first and moved into place when complete: a failed export
leaves nothing behind. Load it with:
  import evosearch; m = evosearch.load_deployed(DIR); labels, exits = m.predict(texts)
"""

EPILOG = """\
examples:
  evosearch export results/edgebert-nsga2-s0 --pick c42 --out deploy/c42
  evosearch export results/edgebert-nsga2-s0 --pick results/edgebert-nsga2-s0/picks/c42.yaml --out deploy/c42
"""


def register(subparsers) -> None:
    p = subparsers.add_parser("export", help="export a picked sub-network as a stand-alone model (and verify it)",
                              description=DESCRIPTION, epilog=EPILOG,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run", metavar="RUN", help="search run folder (results/<run-name>)")
    p.add_argument("--pick", required=True, metavar="ID|YAML",
                   help="a candidate id (c12) or a pick file written by `evosearch pick`")
    p.add_argument("--out", required=True, metavar="DIR", help="folder to write (must be new or empty)")
    p.add_argument("--overwrite", action="store_true", help="replace an earlier export in DIR")
    p.add_argument("--no-verify", action="store_true", help="skip verification (accuracy, latency, size)")
    p.add_argument("--no-latency", action="store_true", help="verify accuracy and size but do not time the model")
    p.add_argument("--repeats", type=int, default=3,
                   help="timed runs of each dev sentence for the latency measurement; the fastest counts (default 3)")
    p.add_argument("--threads", type=int, default=1,
                   help="ONNX Runtime threads for running and timing the export (default 1, as the latency model)")
    p.add_argument("--extra-tasks", nargs="+", default=[], metavar="TASK",
                   help="other tasks to score the export on (held-out domains), next to the uncompressed model, "
                        "e.g. amazon-polarity tweet-polarity for a movie-polarity search")
    p.add_argument("--float", action="store_true",
                   help="keep every matrix float32 in onnx/, even at <= 8 bits (for comparison; default: int8 there)")
    p.set_defaults(func=run)


def run(args) -> int:
    from .. import api
    from ..deploy import format_verification
    from ..report import load_run

    load_run(args.run)  # clear errors for a bad run folder first
    result = api.export(args.run, args.pick, args.out, overwrite=args.overwrite, int8=not args.float,
                        verify=not args.no_verify, latency=not args.no_latency, repeats=args.repeats,
                        threads=args.threads, extra_tasks=args.extra_tasks)
    desc = result.description
    print(f"exported {desc['source']['candidate'] or args.pick} to {result.folder}")
    print(f"  onnx/: {desc['onnx']['segments']} segment graph(s), {desc['onnx']['int8_segments']} with int8 weights "
          "(run with onnxruntime and the tokenizer; README 'Deploy the exported model')")
    print("  hf/: " + ("written (load with AutoModelForSequenceClassification.from_pretrained)"
                       if desc["hf"]["exported"] else f"not written: {desc['hf']['reason']}"))
    for note in desc["storage_notes"]:
        print(f"  note: {note}")
    if result.verification is None:
        return 0
    print(format_verification(result.verification))
    print(f"  written to {result.folder / 'verification.json'}")
    return 0 if result.verification["accuracy_agrees"] else 1
