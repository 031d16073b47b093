"""EdgeBERT's headline comparison on our hardware model: energy per sentence without early exit, with
latency-unbounded early exit (nominal voltage/frequency), and with latency-aware per-sentence DVFS.

Usage: python scripts/bench_edgebert_dvfs.py [--target edgebert-12nm] [--threshold 0.23]
Writes results/bench/edgebert_dvfs.json (``--out``).

EdgeBERT (Tambe et al., MICRO 2021) reports up to 7x lower energy than no early exit and 2.5x lower
than latency-unbounded early exit. Setting, as EdgeBERT's SST-2 recipe: ALBERT-base (one shared
block, 12 virtual layers), 128 tokens per sentence, 8-bit weights and embeddings, an exit ramp after
every layer. The DVFS policy is :func:`evosearch.hardware.dvfs_workload` (oracle exit prediction).

Exit distribution: from harvard-acc/EdgeBERT ``sw/Entropy_LUT/dataset_sst2_eval.txt``, the off-ramp
entropies of layers 1-11 for the 872 SST-2 dev sentences of their ALBERT; a sentence leaves at the
first layer whose entropy is below the threshold (their recipe uses 0.23, 0.28 and 0.46), else at
layer 12. The counts below were computed from that file (not shipped here).

Latency target: the worst case of the early-exit deployment at the nominal point (all 12 layers and
the 11 intermediate exit ramps), so DVFS never makes a sentence later than the slowest sentence
already is without it; ``--targets`` adds other deadlines, as multiples of that latency.

The sensitivity rows re-run the comparison on variants of the target to show which assumption the
ratios rest on: the previous linear 250 MHz-1 GHz clocks with leakage ~ V, no leakage at all, and
every SRAM bank on (no power gating of the banks that hold no data).
scripts/bench_edgebert_ratios.py sets these figures next to EdgeBERT's, for our default model too.
"""

from __future__ import annotations

import argparse
import copy
import json
from pathlib import Path

import yaml

from evosearch.hardware import SHIPPED_TARGETS_DIR, dvfs_workload, estimate, load_target, target_from_dict
from evosearch.specs import SubnetConfig
from evosearch.workload import Workload
from evosearch.specs.shapes import ALBERT_BASE

SEQ_LEN = 128
# sentences leaving after layer 1..12 (0-based exit 0..11), EdgeBERT's SST-2 dev entropies (see above)
EXIT_COUNTS = {
    0.23: (115, 175, 116, 144, 116, 70, 33, 15, 13, 3, 4, 68),
    0.28: (153, 177, 128, 136, 105, 58, 31, 18, 5, 3, 3, 55),
    0.46: (323, 205, 104, 100, 70, 30, 14, 6, 1, 1, 3, 15),
}


def compare(target, counts, deadline_scale: float = 1.0) -> dict:
    cfg = SubnetConfig.uniform(ALBERT_BASE, 1.0, bits=8, embedding_bits=8)
    every_exit = list(range(ALBERT_BASE.num_layers - 1))
    no_exit = estimate(ALBERT_BASE, cfg, target, seq_len=SEQ_LEN)
    early = estimate(ALBERT_BASE, cfg, target, seq_len=SEQ_LEN, exit_distribution=list(counts), exits=every_exit)
    exits = tuple(k for k, n in enumerate(counts) for _ in range(n))
    workload = Workload((SEQ_LEN,) * len(exits), ALBERT_BASE.num_layers, exits)
    worst = estimate(ALBERT_BASE, cfg, target, seq_len=SEQ_LEN, exit_distribution={11: 1.0}, exits=every_exit)
    deadline = deadline_scale * worst.latency_ms
    dvfs = dvfs_workload(ALBERT_BASE, cfg, target, workload, deadline, exits=every_exit)
    points = target.dvfs_points
    volts = sum(s * p.voltage for s, p in zip(dvfs.point_shares, points))
    return {"no_exit": no_exit, "early": early, "dvfs": dvfs, "deadline": deadline, "mean_voltage": volts}


def variant(name: str, change) -> object:
    data = yaml.safe_load((SHIPPED_TARGETS_DIR / f"{name}.yaml").read_text())
    data = copy.deepcopy(data)
    change(data)
    return target_from_dict(data)


def linear_clocks(data: dict) -> None:
    """The points this target had before: 0.5-0.8 V with a linear 250 MHz-1 GHz clock, leakage ~ V."""
    data["dvfs"]["points"] = [{"voltage": v, "frequency_mhz": f} for v, f in ((0.5, 250), (0.6, 500), (0.7, 750),
                                                                              (0.8, 1000))]
    data["dvfs"]["nominal"] = 3
    data["dvfs"]["leakage_voltage_exponent"] = 1.0


def no_leakage(data: dict) -> None:
    data["compute"]["leakage_mw"] = 0.0
    for level in data["memory"].values():
        level["leakage_mw"] = 0.0


def all_banks_on(data: dict) -> None:
    """No power gating: every bank of every memory level leaks while a sentence runs."""
    for level in data["memory"].values():
        level.pop("power_gating", None)
        level.pop("bank_kb", None)


def row(label: str, r: dict, rows: list) -> str:
    e0, e1, e2 = r["no_exit"].energy_uj, r["early"].energy_uj, r["dvfs"].energy_uj
    rows.append({"case": label, "energy_uj": {"no_exit": e0, "early_exit": e1, "dvfs": e2},
                 "ratio": {"no_exit/early_exit": e0 / e1, "no_exit/dvfs": e0 / e2, "early_exit/dvfs": e1 / e2},
                 "deadline_ms": r["deadline"], "dvfs_latency_ms": r["dvfs"].latency_ms,
                 "mean_voltage": r["mean_voltage"], "miss_rate": r["dvfs"].miss_rate})
    return (f"{label:<34} {e0:9.1f} {e1:9.1f} {e2:9.1f}   {e0 / e1:5.2f}x {e0 / e2:5.2f}x {e1 / e2:5.2f}x"
            f"   {r['deadline']:6.1f} {r['dvfs'].latency_ms:6.1f} {r['mean_voltage']:5.2f} {r['dvfs'].miss_rate:5.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--target", default="edgebert-12nm")
    ap.add_argument("--threshold", type=float, default=0.23, choices=sorted(EXIT_COUNTS))
    ap.add_argument("--targets", type=float, nargs="*", default=[0.5, 2.0],
                    help="further deadlines, as multiples of the worst-case early-exit latency")
    ap.add_argument("--out", default="results/bench/edgebert_dvfs.json")
    args = ap.parse_args()
    rows: list = []
    target = load_target(args.target)
    counts = EXIT_COUNTS[args.threshold]
    mean_layers = sum((k + 1) * n for k, n in enumerate(counts)) / sum(counts)
    print(f"ALBERT-base, {SEQ_LEN} tokens, 8-bit; target {target.name} ({len(target.dvfs_points)} DVFS points, "
          f"nominal {target.nominal_point.voltage} V / {target.nominal_point.frequency_mhz:g} MHz)")
    print(f"exit distribution: EdgeBERT SST-2 dev entropies at threshold {args.threshold}: {list(counts)} "
          f"(mean {mean_layers:.2f} of 12 layers)")
    print(f"{'energy per sentence (uJ)':<34} {'no exit':>9} {'early':>9} {'DVFS':>9}   "
          f"{'no/EE':>6} {'no/DVFS':>7} {'EE/DVFS':>7}   {'target':>6} {'lat':>6} {'meanV':>5} {'miss':>5}")
    r = compare(target, counts)
    print(row("deadline = worst case at nominal", r, rows))
    for scale in args.targets:
        print(row(f"deadline = {scale:g} x worst case", compare(target, counts, scale), rows))
    for threshold, other in EXIT_COUNTS.items():
        if threshold != args.threshold:
            print(row(f"threshold {threshold}", compare(target, other), rows))
    if args.target == "edgebert-12nm":
        print("sensitivity (deadline = worst case at nominal):")
        print(row("linear 250-1000 MHz, leakage ~ V", compare(variant(args.target, linear_clocks), counts), rows))
        print(row("no leakage", compare(variant(args.target, no_leakage), counts), rows))
        print(row("all SRAM banks on (no gating)", compare(variant(args.target, all_banks_on), counts), rows))
    parts = r["no_exit"].energy_breakdown_uj
    total = sum(parts.values())
    print("no-exit energy split: " + ", ".join(f"{k} {100 * v / total:.0f}%" for k, v in parts.items())
          + f" (net of {r['no_exit'].gated_leakage_uj:.0f} uJ leakage of power-gated banks)")
    print("EdgeBERT (MICRO 2021): up to 7x (no/DVFS) and 2.5x (EE/DVFS)")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"target": target.name, "threshold": args.threshold, "exit_counts": list(counts),
                               "seq_len": SEQ_LEN, "energy_split_no_exit": parts, "rows": rows}, indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
