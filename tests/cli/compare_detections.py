#!/usr/bin/env python3
"""Compares two `itscam detect --json` results of one image (or a golden from ../shared/golden) as the goldens'
README says: the same detections, matched one to one by class with IoU >= --iou and |score delta| <= --score; a
detection within --score of the confidence threshold may be missing from the other side. Exit 0 when they match,
1 with the differences printed otherwise.
Usage: compare_detections.py A.json B.json [--iou 0.98] [--score 0.01]"""
import argparse
import json
import sys


def iou(a, b):
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def main():
    p = argparse.ArgumentParser()
    p.add_argument("a")
    p.add_argument("b")
    p.add_argument("--iou", type=float, default=0.98)
    p.add_argument("--score", type=float, default=0.01)
    args = p.parse_args()
    a, b = (json.load(open(f)) for f in (args.a, args.b))
    conf = a.get("conf", 0.25)
    da, db = a["detections"], b["detections"]
    used, problems, matched = set(), [], 0
    for x in da:
        best, best_iou = None, 0.0
        for j, y in enumerate(db):
            if j in used or y["class_id"] != x["class_id"]:
                continue
            v = iou(x["box"], y["box"])
            if v > best_iou:
                best, best_iou = j, v
        if best is None or best_iou < args.iou:
            if x["score"] > conf + args.score:
                problems.append(f"{x['name']} {x['score']:.3f} {x['box']}: no match in B (best IoU {best_iou:.3f})")
            continue
        used.add(best)
        matched += 1
        ds = abs(x["score"] - db[best]["score"])
        if ds > args.score:
            problems.append(f"{x['name']} {x['box']}: score {x['score']:.4f} vs {db[best]['score']:.4f}")
    for j, y in enumerate(db):
        if j not in used and y["score"] > conf + args.score:
            problems.append(f"{y['name']} {y['score']:.3f} {y['box']}: only in B")
    if problems:
        print(f"detections differ ({len(da)} vs {len(db)}, {matched} matched):")
        print("\n".join("  " + m for m in problems))
        return 1
    print(f"detections match: {matched} of {len(da)} vs {len(db)} (IoU >= {args.iou}, |score delta| <= {args.score})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
