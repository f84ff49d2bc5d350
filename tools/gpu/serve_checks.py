#!/usr/bin/env python3
"""One summary line (or a few) per answer of `itscam run`'s HTTP API, for tools/gpu/full_product_session.sh serve.

  serve_checks.py performance FILE [DEVICE]   status, fps, latencies; gpu_utilization covers DEVICE's GPU (cuda:0)
  serve_checks.py cameras FILE                the camera ids and states
  serve_checks.py latest FILE                 the latest detection record: frame and classes
  serve_checks.py live FILE                   an fMP4 capture: size, ftyp/moov/moof boxes, H.264 sample entry
Exit status 1 when the answer lacks what the stage checks.
"""
import json
import sys


def performance(path, device="cuda:0"):
    p = json.load(open(path))
    devs = {d.get("name"): d for d in p.get("devices", [])}
    d = devs.get(device, {})
    print(f"performance: status {p.get('status')}, fps {p.get('fps') or 0:.1f}, frames {p.get('frames_processed')}, "
          f"dropped {p.get('frames_dropped')}, inference p99 {p.get('inference_latency_p99') or 0:.2f} ms, "
          f"e2e p99 {p.get('e2e_latency_p99') or 0:.2f} ms, reasons {p.get('reasons')}")
    gpus = p.get("gpu_utilization_gpus", [])
    print(f"gpu_utilization {p.get('gpu_utilization')} ({p.get('gpu_utilization_unit')}) over NVML GPUs {gpus}"
          f"{' note: ' + p['gpu_utilization_note'] if p.get('gpu_utilization_note') else ''}; "
          f"{device}: busy {d.get('busy')}, batches {d.get('batches')}, frames {d.get('frames')}, circuit {d.get('circuit')}")
    ordinal = int(device.split(":")[1]) if ":" in device else 0
    ok = isinstance(p.get("gpu_utilization"), (int, float)) and ordinal in gpus and bool(d)
    print(f"gpu_utilization for {device}: {'OK' if ok else 'MISSING'}")
    return ok


def cameras(path):
    j = json.load(open(path))
    cams = j.get("cameras", []) if isinstance(j, dict) else j
    print(f"cameras: {len(cams)}: " + ", ".join(f"{c.get('id')} ({c.get('state')})" for c in cams))
    return len(cams) > 0


def latest(path):
    j = json.load(open(path))
    dets = j.get("detections", [])
    names = sorted({str(x.get("class_name", x.get("name", x.get("class_id")))) for x in dets})
    frame = j.get("frame_id", j.get("frame", j.get("sequence")))
    print(f"latest of {j.get('camera_id', j.get('camera'))}: frame {frame}, {len(dets)} detections {names}")
    return "detections" in j


def live(path):
    try:
        b = open(path, "rb").read()
    except OSError:
        b = b""
    ok = b[4:8] == b"ftyp" and b.count(b"moof") > 0
    print(f"live.mp4: {len(b)} bytes, ftyp {'yes' if b[4:8] == b'ftyp' else 'NO'}, moov {b.count(b'moov')}, "
          f"moof fragments {b.count(b'moof')}, avc1 {'yes' if b'avc1' in b else 'no'}")
    return ok


if __name__ == "__main__":
    what, args = sys.argv[1], sys.argv[2:]
    try:
        ok = {"performance": performance, "cameras": cameras, "latest": latest, "live": live}[what](*args)
    except (OSError, ValueError, KeyError, AttributeError, TypeError) as e:
        print(f"{what}: unreadable answer: {e}")
        ok = False
    sys.exit(0 if ok else 1)
