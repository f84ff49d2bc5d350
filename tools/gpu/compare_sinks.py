#!/usr/bin/env python3
"""Compares two JSON Lines detection sinks of the same clip (e.g. decode: nvdec against decode: cpu, or batch 2
against batch 1), frame by frame as the goldens' README says: detections matched one to one by class with
IoU >= --iou and |score delta| <= --score; a detection within --score of the confidence threshold may be missing
from the other side. Prints the totals; exit 0 when at least --min-match of the reference's detections match and
every frame of the reference is present in the other sink, else 1.
With --by-frame, REF holds one camera and every camera of OTHER (the same clip several times) is compared with it.
Usage: compare_sinks.py REF.jsonl OTHER.jsonl [--iou 0.95] [--score 0.02] [--conf 0.25] [--min-match 0.99]
                        [--by-frame]"""
import argparse
import json
import sys


def iou(a, b):
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def load(path, by_frame=False, camera=None):
    frames = {}
    with open(path) as f:
        for line in f:
            r = json.loads(line)
            if camera is not None and r["camera"] != camera:
                continue
            frames[("", r["frame"]) if by_frame else (r["camera"], r["frame"])] = r["detections"]
    return frames


def cameras(path):
    with open(path) as f:
        return sorted({json.loads(line)["camera"] for line in f})


def main():
    p = argparse.ArgumentParser()
    p.add_argument("ref")
    p.add_argument("other")
    p.add_argument("--iou", type=float, default=0.95)
    p.add_argument("--score", type=float, default=0.02)
    p.add_argument("--conf", type=float, default=0.25)
    p.add_argument("--min-match", type=float, default=0.99)
    p.add_argument("--by-frame", action="store_true")
    a = p.parse_args()
    if a.by_frame:
        return max(compare(a, load(a.ref, True), load(a.other, True, cam), f"{a.other}[{cam}]")
                   for cam in cameras(a.other))
    return compare(a, load(a.ref), load(a.other), a.other)


def compare(a, ref, other, name):
    missing_frames = [k for k in ref if k not in other]
    total = matched = near_threshold = extra = 0
    worst_iou, worst_score = 1.0, 0.0
    for key, dr in ref.items():
        do = other.get(key, [])
        used = set()
        for d in dr:
            total += 1
            best, best_j = 0.0, -1
            for j, e in enumerate(do):
                if j in used or e["class_id"] != d["class_id"]:
                    continue
                v = iou(d["box"], e["box"])
                if v > best:
                    best, best_j = v, j
            if best_j >= 0 and best >= a.iou and abs(do[best_j]["score"] - d["score"]) <= a.score:
                used.add(best_j)
                matched += 1
                worst_iou = min(worst_iou, best)
                worst_score = max(worst_score, abs(do[best_j]["score"] - d["score"]))
            elif d["score"] < a.conf + a.score:
                near_threshold += 1
        extra += sum(1 for j, e in enumerate(do) if j not in used and e["score"] >= a.conf + a.score)
    share = (matched + near_threshold) / total if total else 1.0
    print(f"{name} vs {a.ref}: {len(ref)} frames ({len(missing_frames)} missing), {total} reference detections, "
          f"{matched} matched (worst IoU {worst_iou:.4f}, worst |dscore| {worst_score:.4f}), {near_threshold} "
          f"unmatched near the threshold, {total - matched - near_threshold} unmatched, {extra} extra; "
          f"{100 * share:.2f}% matched")
    return 0 if share >= a.min_match and not missing_frames and total > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
