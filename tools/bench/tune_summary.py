#!/usr/bin/env python3
"""Summarise the convolution autotune's log (ITSCAM_CUDA_TUNE_LOG=1 itscam optimize ... > optimize.log).

The autotune prints, for each convolution it times,
    tune NODE: fused cuDNN X ms, implicit GEMM NAME Y ms (error E)     one line per implicit-GEMM variant timed
    tune NODE: -> CHOICE                                               what the plan kept
and does so once per build: each batch size builds twice (with and without the latency kernels). A node that
comes back after its choice starts the next build. For each build this prints the number of convolutions, the
per-layer sums of cuDNN's fused time and of each variant's (cuDNN's time where a variant did not take the layer),
the sum of the best of each layer, and how many layers kept each choice.

usage: tune_summary.py LOG [LOG ...]
"""
import re
import sys

TIMED = re.compile(r"tune (\S+): fused cuDNN ([\d.]+) ms, implicit GEMM (.+?) ([\d.]+) ms")
CHOSEN = re.compile(r"tune (\S+): -> (.+)")


def builds_of(lines):
    builds = [{}]
    for line in lines:
        m, d = TIMED.match(line), CHOSEN.match(line)
        if not (m or d):
            continue
        node = (m or d).group(1)
        if node in builds[-1] and builds[-1][node]["kept"] is not None:
            builds.append({})
        e = builds[-1].setdefault(node, {"cudnn": None, "variants": {}, "kept": None})
        if m:
            e["cudnn"] = float(m.group(2))
            e["variants"][m.group(3)] = float(m.group(4))
        else:
            e["kept"] = d.group(2).strip()
    return [b for b in builds if b]


def summary(build):
    timed = [e for e in build.values() if e["cudnn"] is not None]
    names = sorted({n for e in timed for n in e["variants"]})
    parts = [f"{len(build)} convolutions, {len(timed)} timed", f"cuDNN {sum(e['cudnn'] for e in timed):.3f} ms"]
    for n in names:
        parts.append(f"{n} {sum(e['variants'].get(n, e['cudnn']) for e in timed):.3f} ms")
    parts.append(f"best of each {sum(min([e['cudnn'], *e['variants'].values()]) for e in timed):.3f} ms")
    kept = {}
    for e in build.values():
        kept[e["kept"] or "?"] = kept.get(e["kept"] or "?", 0) + 1
    parts.append("kept: " + ", ".join(f"{k} {v}" for k, v in sorted(kept.items(), key=lambda kv: -kv[1])))
    return "; ".join(parts)


def main(argv):
    if len(argv) < 2 or argv[1] in ("-h", "--help"):
        print(__doc__.strip())
        return 0 if len(argv) >= 2 else 2
    rc = 0
    for path in argv[1:]:
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                builds = builds_of(f)
        except OSError as e:
            print(f"tune_summary: {path}: {e.strerror}", file=sys.stderr)
            rc = 1
            continue
        if not builds:
            print(f"{path}: no tune lines (was ITSCAM_CUDA_TUNE_LOG=1 set?)")
            continue
        for i, b in enumerate(builds):
            print(f"{path} build {i + 1}: {summary(b)}")
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv))
