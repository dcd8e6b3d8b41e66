#!/usr/bin/python3
"""bf16 against f32 on the quality benchmark: the same `vtc eval` run twice,
`--precision f32` and `--precision bf16`, and per question and per method (and
budget) whether the answers agree.

    /usr/bin/python3 tools/quality_precision.py --vtc build/vtc --questions FILE.tsv
        [--min-same 99] [--max-delta 0.5] [--markdown] [-- EVAL ARGS ...]

EVAL ARGS go to both runs as they are (--model, --decoder, --tokenizer, --keep,
--frames, --pool, --decode-methods ...). Each run is `vtc eval --per-question
--json --no-time`. Prints one line per row (method, budget): accuracy in f32
and in bf16, the difference in points, and the share of questions whose
predicted token is the same; then each method over all its budgets (its
questions summed); then the share over every row and question. Exits 1 when
that share is under --min-same percent, or a method's accuracy over its budgets
moves by more than --max-delta points (docs/speed.md#bf16 states the criterion).
"""
import argparse
import json
import subprocess
import sys


def run(vtc, precision, questions, extra):
    cmd = [vtc, "eval", "--questions", questions, "--per-question", "--json", "--no-time",
           "--precision", precision] + extra
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def label(row):
    return f"{row['method']}{' (in decoder)' if row['in_decoder'] else ''} @ {row['budget']}"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--vtc", default="build/vtc")
    ap.add_argument("--questions", required=True)
    ap.add_argument("--min-same", type=float, default=99.0, help="percent of answers that must agree")
    ap.add_argument("--max-delta", type=float, default=0.5, help="accuracy points a row may move")
    ap.add_argument("--markdown", action="store_true", help="the table as Markdown")
    ap.add_argument("eval_args", nargs="*", help="after --: passed to vtc eval")
    a = ap.parse_args()

    f32 = run(a.vtc, "f32", a.questions, a.eval_args)
    bf16 = run(a.vtc, "bf16", a.questions, a.eval_args)
    if f32.get("precision") != "f32" or bf16.get("precision") != "bf16":
        sys.exit(f"quality_precision: the runs report {f32.get('precision')} and {bf16.get('precision')}")
    rows32 = {label(r): r for r in f32["rows"]}
    rows16 = {label(r): r for r in bf16["rows"]}
    if list(rows32) != list(rows16):
        sys.exit("quality_precision: the two runs have different rows")

    print(f"# {a.questions}: {f32['questions']} questions; bf16 engine: {bf16['engine']}")
    if a.markdown:
        print("| method @ budget | f32 accuracy | bf16 accuracy | change (points) | same answers |")
        print("|---|---:|---:|---:|---:|")
    else:
        print(f"{'method @ budget':34s} {'f32 %':>7s} {'bf16 %':>7s} {'change':>7s} {'same %':>7s}")
    same = total = 0
    worst = 0.0
    failed = []
    methods = {}  # method -> [f32 correct, bf16 correct, questions]
    for name, r32 in rows32.items():
        r16 = rows16[name]
        p32, p16 = r32["predictions"], r16["predictions"]
        pairs = [(x["token"], y["token"]) for x, y in zip(p32, p16) if x is not None and y is not None]
        if len(pairs) != sum(x is not None for x in p32) or not pairs:
            continue  # a row skipped on some media (its note says why) is compared where both ran
        s = sum(x == y for x, y in pairs)
        same += s
        total += len(pairs)
        acc32, acc16 = r32["accuracy"], r16["accuracy"]
        delta = acc16 - acc32
        m = methods.setdefault(name.split(" @ ")[0], [0, 0, 0])
        m[0] += r32["correct"]
        m[1] += r16["correct"]
        m[2] += r32["questions"]
        share = 100.0 * s / len(pairs)
        if a.markdown:
            print(f"| {name} | {acc32:.1f} | {acc16:.1f} | {delta:+.1f} | {share:.1f}% |")
        else:
            print(f"{name:34s} {acc32:7.2f} {acc16:7.2f} {delta:+7.2f} {share:7.2f}")
    for name, (c32, c16, n) in methods.items():
        acc32, acc16 = 100.0 * c32 / n, 100.0 * c16 / n
        delta = acc16 - acc32
        worst = max(worst, abs(delta))
        if abs(delta) > a.max_delta:
            failed.append(f"{name}: accuracy {acc32:.2f} -> {acc16:.2f}")
        if a.markdown:
            print(f"| **{name}, all budgets** | {acc32:.2f} | {acc16:.2f} | {delta:+.2f} | |")
        else:
            print(f"{name + ', all budgets':34s} {acc32:7.2f} {acc16:7.2f} {delta:+7.2f}")
    overall = 100.0 * same / total if total else 0.0
    print(f"same answers: {same} of {total} ({overall:.2f}%); largest change of a method's accuracy {worst:.2f} points")
    if overall < a.min_same:
        failed.append(f"same answers {overall:.2f}% < {a.min_same}%")
    if failed:
        print("quality_precision: FAILED: " + "; ".join(failed), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
