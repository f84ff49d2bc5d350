"""Secrets (issue 16, section 3): a planted camera password must never show in an API answer, /health/performance,
/metrics, the log or the history database; the API tokens never in the log or --print-config.

The strict server: a camera at rtsp://admin:PlantedS3cret@127.0.0.1:1/x (nothing listens on port 1, so it fails
and retries, and its error path runs too), the API token from ITSCAM_API_TOKEN (the old server logged the
override in clear), a read_token, file cameras off."""

import glob
import os
import sqlite3
import subprocess
import time

import hostile_lib as hl
from hostile_lib import Case


def make_strict_server(env, clips):
    s = {"model": os.path.join(env.shared, "models/yolo11n.onnx"), "device": "cpu",
         "server": {"port": 0, "read_token": env.read_token, "allow_file_cameras": False},
         "history": {"path": os.path.join(env.work, "strict.db"), "sample_interval_s": 1},
         "pipeline": {"max_batch_size": 1},
         "fallback": {"enabled": False}}
    cams = [{"id": "planted", "url": "rtsp://admin:%s@127.0.0.1:1/x" % env.secret}]
    return hl.Server("strict", env.itscam, env.work, s, cams, env={"ITSCAM_API_TOKEN": env.strict_token},
                     optional=("server.read_token", "server.allow_file_cameras"))


def read(env, path, method="GET", body=b"", token=None, headers=None):
    h = dict(hl.auth(token or env.read_token), **(headers or {}))
    return hl.try_http(env.strict.port, method, path, headers=h, body=body)


def planted_secret_live(ctx, env):
    srv = env.strict
    env.post_stop.append((hl.Ctx("planted_secret_at_rest"), secrets_at_rest))
    srv.wait_ready(timeout=90)
    # The camera must have failed at least once, so that last_error and the retry log lines exist.
    last_error, deadline = "", time.monotonic() + 20
    while time.monotonic() < deadline:
        r = read(env, "/api/v1/cameras/planted")
        if isinstance(r, hl.Response) and r.status == 200:
            try:
                j = r.json()
                last_error = j.get("last_error") or (j.get("stats") or {}).get("last_error") or ""
            except ValueError:
                pass
            if last_error or '"reconnects":0' not in r.body.decode("utf-8", "replace").replace(" ", ""):
                break
        time.sleep(0.5)
    ctx.note("last_error", hl.short(last_error.replace(env.secret, "<SECRET>"), 120))
    answers = []
    jh = {"Content-Type": "application/json"}
    added = read(env, "/api/v1/cameras", "POST", token=env.strict_token, headers=jh,
                 body='{"id":"planted2","url":"rtsp://viewer:%s@127.0.0.1:1/y"}' % env.secret)
    ctx.expect(isinstance(added, hl.Response) and added.status == 201, "POST a camera with a password in its URL",
               "201", added if isinstance(added, str) else added.status)
    answers.append(("POST /api/v1/cameras (201)", added))
    answers.append(("POST duplicate (409)", read(env, "/api/v1/cameras", "POST", token=env.strict_token, headers=jh,
                   body='{"id":"planted2","url":"rtsp://viewer:%s@127.0.0.1:1/y"}' % env.secret)))
    answers.append(("POST invalid (400)", read(env, "/api/v1/cameras", "POST", token=env.strict_token, headers=jh,
                   body='{"id":"bad id!","url":"rtsp://a:%s@127.0.0.1:1/z"}' % env.secret)))
    time.sleep(1.0)  # planted2 fails once too
    for p in ("/api/v1/cameras", "/api/v1/cameras/planted", "/api/v1/cameras/planted2", "/health/performance",
              "/metrics", "/api/v1/alerts", "/api/v1/streams", "/streams/planted", "/health", "/health/ready",
              "/api/v1/cameras/planted/detections/latest", "/"):
        answers.append(("GET " + p, read(env, p)))
    leaks = []
    for what, r in answers:
        text = r if isinstance(r, str) else r.body.decode("utf-8", "replace") + str(r.headers)
        if env.secret in text:
            i = text.index(env.secret)
            leaks.append("%s: ...%s..." % (what, text[max(0, i - 40):i + 20]))
    listing = dict(answers)["GET /api/v1/cameras"]
    shown = isinstance(listing, hl.Response) and listing.status == 200 and b"127.0.0.1:1/x" in listing.body
    ctx.expect(shown, "the planted camera is listed (with its URL, masked)", "200 listing 127.0.0.1:1/x",
               listing if isinstance(listing, str) else "%d %s" % (listing.status, hl.short(listing.body, 200)))
    ctx.note("answers_checked", len(answers))
    ctx.expect(not leaks, "the planted password in API answers", "absent from every answer", leaks[:4])
    read(env, "/api/v1/cameras/planted2", "DELETE", token=env.strict_token)


def secrets_at_rest(ctx, env):
    """After the servers stopped: the log and the history database files, and --print-config."""
    planted = env.secret.encode()
    tokens = [env.token.encode(), env.strict_token.encode(), env.read_token.encode()]
    for name in ("strict", "main", "tls"):
        if not os.path.exists(os.path.join(env.work, name + ".log")):
            continue
        with open(os.path.join(env.work, name + ".log"), "rb") as f:
            log = f.read()
        ctx.expect(planted not in log, "%s log: the planted password" % name, "absent", excerpt(log, planted))
        for t in tokens:
            ctx.expect(t not in log, "%s log: an API token" % name, "absent", excerpt(log, t))
    files = sorted(glob.glob(os.path.join(env.work, "strict.db*")))
    ctx.expect(files, "history database written", "strict.db exists", files)
    for p in files:
        with open(p, "rb") as f:
            data = f.read()
        ctx.expect(planted not in data, "%s: the planted password" % os.path.basename(p), "absent",
                   excerpt(data, planted))
    if files:
        db = sqlite3.connect("file:%s?mode=ro" % os.path.join(env.work, "strict.db"), uri=True)
        dump = "\n".join(db.iterdump())
        db.close()
        ctx.note("history_rows_dumped", dump.count("INSERT INTO"))
        ctx.expect(env.secret not in dump, "history database rows", "no planted password",
                   excerpt(dump.encode(), planted))
    r = subprocess.run([env.itscam, "run", "--config", env.strict.config_path, "--print-config"],
                       env=dict(os.environ, ITSCAM_API_TOKEN=env.strict_token), stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=60)
    out = r.stdout
    ctx.expect(r.returncode == 0, "--print-config runs", "exit 0", r.returncode)
    ctx.expect(planted not in out, "--print-config: the planted password", "masked", excerpt(out, planted))
    for t in tokens[1:]:
        ctx.expect(t not in out, "--print-config: a token", "redacted", excerpt(out, t))


def excerpt(data, needle):
    i = data.find(needle)
    if i < 0:
        return "absent"
    return "found: ..." + data[max(0, i - 60):i + len(needle) + 10].decode("utf-8", "replace") + "..."


CASES = [
    Case("planted_secret", "strict", "strict", planted_secret_live),
]
