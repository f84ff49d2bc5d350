#!/usr/bin/env python3
"""The product's counter against the hand-made ground truth of the shared clips (tests/data/analytics/*.json).

For each clip: writes a config with the clip as a lossless file camera (every frame analysed) and the truth file's
`analytics` section, runs `itscam run` to the end of the clip, reads the line_crossing events from the JSON Lines
sink and compares them with the hand-recorded crossings:
  - per line and direction: |counted - true| / true <= MAX_COUNT_ERROR (5%);
  - AI City Challenge 2020 counting effectiveness: per movement (line, direction), wRMSE over k = 10 equal segments
    of the clip on cumulative counts with weights i / sum(1..k), nwRMSE = max(0, 1 - wRMSE / true total);
    count-weighted mean over movements >= MIN_EFFECTIVENESS (0.9);
  - speed (clips whose truth has "speeds"): every hand-timed vehicle is matched to the track nearest its position
    at the hand-timed frames; |speed error| <= MAX_SPEED_ERROR (10%).
Prints a table per clip; exit 1 on any miss. Usage: count_accuracy.py ITSCAM SHARED_DIR TRUTH_DIR WORK_DIR [clip..]
"""
import json
import math
import os
import subprocess
import sys

MAX_COUNT_ERROR = 0.05
MIN_EFFECTIVENESS = 0.9
MAX_SPEED_ERROR = 0.10
SEGMENTS = 10


def nwrmse(true_frames, got_frames, frames):
    """AI City 2020 Track 1 effectiveness of one movement (cumulative counts over SEGMENTS segments)."""
    total = len(true_frames)
    if total == 0:
        return 1.0 if not got_frames else 0.0
    bounds = [frames * (i + 1) / SEGMENTS for i in range(SEGMENTS)]
    cum_t = [sum(1 for f in true_frames if f < b) for b in bounds]
    cum_g = [sum(1 for f in got_frames if f < b) for b in bounds]
    wsum = SEGMENTS * (SEGMENTS + 1) / 2
    wrmse = math.sqrt(sum((i + 1) / wsum * (cum_g[i] - cum_t[i]) ** 2 for i in range(SEGMENTS)))
    return max(0.0, 1.0 - wrmse / total)


def run_clip(itscam, shared, truth, work, stem):
    clip = os.path.join(shared, "data", "videos", truth["clip"])
    out = os.path.join(work, stem + ".jsonl")
    if os.path.exists(out):
        os.remove(out)
    cfg = os.path.join(work, stem + ".yaml")
    model = os.path.join(shared, "models", "yolo11n.onnx")
    imgsz = int(os.environ.get("ITSCAM_ACCURACY_IMGSZ", "640"))
    with open(cfg, "w") as f:
        f.write(f"""device: cpu
model: {model}
imgsz: {imgsz}
plan_cache_dir: {os.path.join(work, 'plans')}
server: {{ enabled: false }}
history: {{ enabled: false }}
pipeline: {{ max_batch_size: 1 }}
sinks: [ {{ type: jsonl, path: {out} }} ]
cameras:
  - id: {stem}
    url: {clip}
    realtime: false
    lossless: true
    analytics: {json.dumps(truth["analytics"])}
""")
    r = subprocess.run([itscam, "run", "--config", cfg, "--status-interval", "0"], capture_output=True, text=True)
    if r.returncode != 0:
        print(r.stdout[-4000:], r.stderr[-4000:])
        raise SystemExit(f"FAIL: itscam run exited {r.returncode} on {stem}")
    records = []
    with open(out) as f:
        for line in f:
            records.append(json.loads(line))
    return records


def check_counts(truth, records, stem):
    ok = True
    frames = truth["frames"]
    events = [e for r in records for e in r.get("events", []) if e.get("type") == "line_crossing"]
    movements = {}
    for c in truth["crossings"]:
        movements.setdefault((c["line"], c["direction"]), [[], []])[0].append(c["frame"])
    for e in events:
        movements.setdefault((e["line"], e["direction"]), [[], []])[1].append(e["frame"])
    weighted = 0.0
    total_true = 0
    print(f"{stem}: {len(records)} frames analysed, {len(events)} crossings counted, "
          f"{len(truth['crossings'])} by hand")
    print(f"  {'line':<16} {'direction':<14} {'hand':>5} {'ours':>5} {'error':>7} {'nwRMSE':>7}")
    for (line, direction), (t, g) in sorted(movements.items()):
        err = (len(g) - len(t)) / len(t) if t else float("inf") if g else 0.0
        eff = nwrmse(t, g, frames)
        weighted += eff * len(t)
        total_true += len(t)
        flag = "" if abs(err) <= MAX_COUNT_ERROR else "  <-- over 5%"
        ok &= abs(err) <= MAX_COUNT_ERROR
        print(f"  {line:<16} {direction:<14} {len(t):>5} {len(g):>5} {100 * err:>6.1f}% {eff:>7.3f}{flag}")
    eff_all = weighted / total_true if total_true else 1.0
    print(f"  counting effectiveness (count-weighted nwRMSE): {eff_all:.3f}"
          + ("" if eff_all >= MIN_EFFECTIVENESS else "  <-- under 0.9"))
    return ok and eff_all >= MIN_EFFECTIVENESS


def line_y(p, q, x):
    """y of the infinite image line through p and q at x."""
    (x1, y1), (x2, y2) = p, q
    return y1 + (y2 - y1) * (x - x1) / (x2 - x1) if x2 != x1 else (y1 + y2) / 2


def check_speeds(truth, records, stem):
    """Each hand-timed vehicle passed the far marking (through calibration points 2-3) at first_frame and the near
    one (points 0-1) at second_frame: the track whose foot point is on those lines at those frames is that vehicle;
    its mean reported speed over the interval is compared with the hand-timed one."""
    speeds = truth.get("speeds", [])
    if not speeds:
        return True
    pts = truth["analytics"]["speed"]["points"]
    near, far = (pts[0], pts[1]), (pts[2], pts[3])
    by_frame = {r["frame"]: r for r in records}
    ok = True
    errors = []
    print(f"  {'vehicle':<34} {'hand km/h':>9} {'ours':>6} {'error':>7}")
    for s in speeds:
        f1, f2 = s["first_frame"], s["second_frame"]

        def at_line(frames, line):
            """track id -> smallest distance of its foot point to the marking line over those frames"""
            near_ids = {}
            for f in frames:
                for d in by_frame.get(f, {}).get("detections", []):
                    if "track_id" not in d:
                        continue
                    x1, y1, x2, y2 = d["box"]
                    dy = abs(y2 - line_y(*line, (x1 + x2) / 2))
                    if dy < 20:
                        near_ids[d["track_id"]] = min(dy, near_ids.get(d["track_id"], 1e9))
            return near_ids

        at_far = at_line(range(f1 - 2, f1 + 3), far)
        at_near = at_line(range(f2 - 1, f2 + 2), near)
        both = [(at_far[t] + at_near[t], t) for t in at_far if t in at_near]
        if not both:
            print(f"  {s['where'][:34]:<34} {s['speed_kmh']:>9.1f}   (no track at both markings at those frames)")
            ok = False
            continue
        tid = min(both)[1]
        got = [d["speed_kmh"] for f in range(f1, f2 + 1) for d in by_frame.get(f, {}).get("detections", [])
               if d.get("track_id") == tid and "speed_kmh" in d]
        if not got:
            print(f"  {s['where'][:34]:<34} {s['speed_kmh']:>9.1f}   (track {tid}: no speed)")
            ok = False
            continue
        ours = sum(got) / len(got)
        err = (ours - s["speed_kmh"]) / s["speed_kmh"]
        errors.append(abs(err))
        flag = "" if abs(err) <= MAX_SPEED_ERROR else "  <-- over 10%"
        ok &= abs(err) <= MAX_SPEED_ERROR
        print(f"  {s['where'][:34]:<34} {s['speed_kmh']:>9.1f} {ours:>6.1f} {100 * err:>6.1f}%{flag}")
    if errors:
        print(f"  speed: {len(errors)} of {len(speeds)} vehicles matched, mean |error| "
              f"{100 * sum(errors) / len(errors):.1f}%, max {100 * max(errors):.1f}%")
    return ok


def main():
    if len(sys.argv) < 5:
        raise SystemExit(__doc__)
    itscam, shared, truth_dir, work = sys.argv[1:5]
    only = set(sys.argv[5:])
    os.makedirs(work, exist_ok=True)
    ok = True
    for name in sorted(os.listdir(truth_dir)):
        if not name.endswith(".json"):
            continue
        stem = name[:-5]
        if only and stem not in only:
            continue
        with open(os.path.join(truth_dir, name)) as f:
            truth = json.load(f)
        records = run_clip(itscam, shared, truth, work, stem)
        ok &= check_counts(truth, records, stem)
        ok &= check_speeds(truth, records, stem)
    print("ok" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
