"""Read protection and TLS (issue 16, section 5): server.read_token on the strict server; server.tls_cert /
server.tls_key on a third server with a self-signed certificate made by `openssl req` at test time."""

import os
import shutil
import ssl
import subprocess

import hostile_lib as hl
from hostile_lib import Case


def make_tls_server(env, clips):
    if not shutil.which("openssl"):
        raise RuntimeError("openssl is not installed (scripts/install-deps.sh installs it)")
    cert, key = os.path.join(env.work, "cert.pem"), os.path.join(env.work, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
    ctx = ssl.create_default_context(cafile=cert)  # verifies the chain and the IP in subjectAltName
    env.tls_ctx = ctx
    s = {"model": os.path.join(env.shared, "models/yolo11n.onnx"), "device": "cpu",
         "server": {"port": 0, "api_token": env.token, "tls_cert": cert, "tls_key": key},
         "history": {"enabled": False},
         "fallback": {"enabled": False}}
    return hl.Server("tls", env.itscam, env.work, s, [], optional=("server.tls_cert", "server.tls_key"))


def tls(ctx, env):
    srv = env.tls
    for k in ("server.tls_cert", "server.tls_key"):
        if not srv.supports(k):
            ctx.expect(False, "setting " + k, "accepted by the config", "unknown in this build")
    for p in ("/health", "/api/v1/cameras"):
        try:
            r = hl.http(srv.port, "GET", p, tls=env.tls_ctx, src="127.0.10.1")
        except (hl.Timeout, hl.Closed, OSError) as e:  # ssl.SSLError is an OSError
            r = "%s: %s" % (type(e).__name__, e)
        ctx.note("https " + p, r if isinstance(r, str) else r.status)
        ctx.expect(isinstance(r, hl.Response) and r.status == 200, "HTTPS GET " + p + " (certificate verified)",
                   "200 within %.0f s" % hl.PROMPT_S, r)
    r = hl.try_http(srv.port, "GET", "/health", src="127.0.10.2")
    ctx.note("plain http", r if isinstance(r, str) else r.status)
    ok = isinstance(r, str) and r.startswith("connection closed") or isinstance(r, hl.Response) and 400 <= r.status < 500
    ctx.expect(ok, "plain HTTP on the TLS port", "refused: closed, or a 4xx, within %.0f s" % hl.PROMPT_S, r)


def read_token(ctx, env):
    srv = env.strict
    if not srv.supports("server.read_token"):
        ctx.expect(False, "setting server.read_token", "accepted by the config", "unknown in this build")
    for p in ("/api/v1/cameras", "/api/v1/cameras/planted", "/api/v1/cameras/planted/detections/latest",
              "/api/v1/alerts", "/api/v1/streams", "/streams/planted", "/streams/planted/live.mp4",
              "/streams/planted/detections"):
        for what, h in (("without a token", {}), ("with a wrong token", hl.auth("wrong-" + env.read_token))):
            r = hl.try_http(srv.port, "GET", p, headers=h, src="127.0.10.3")
            ctx.expect(isinstance(r, hl.Response) and r.status == 401, "GET %s %s" % (p, what),
                       "401 within %.0f s" % hl.PROMPT_S, r)
    r = hl.try_http(srv.port, "GET", "/api/v1/cameras", headers=hl.auth(env.read_token), src="127.0.10.4")
    ctx.expect(isinstance(r, hl.Response) and r.status == 200, "GET /api/v1/cameras with the read token", "200", r)
    r = hl.try_http(srv.port, "POST", "/api/v1/cameras", src="127.0.10.4", body='{"id":"w","url":"rtsp://h/x"}',
                    headers=dict(hl.auth(env.read_token), **{"Content-Type": "application/json"}))
    ctx.expect(isinstance(r, hl.Response) and r.status in (401, 403), "POST with the read token (reads only)",
               "401/403", r)
    for p, want in (("/health", (200,)), ("/health/ready", (200, 503))):
        r = hl.try_http(srv.port, "GET", p, src="127.0.10.5")
        ctx.expect(isinstance(r, hl.Response) and r.status in want, "GET %s without a token stays open" % p,
                   "/".join(map(str, want)), r)


CASES = [
    Case("read_token", "strict", "strict", read_token),
    Case("tls", "tls", "tls", tls),
]
