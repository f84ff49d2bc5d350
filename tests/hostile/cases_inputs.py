"""Inputs (issue 16, sections 2 and 4): camera URL schemes, NUL, "." and ".." ids, URL length, 1e999. Each
POST /api/v1/cameras carries the token and must be refused 400; a camera an old server accepted anyway is
deleted again so it cannot disturb the other cases."""

import json
import urllib.parse

import hostile_lib as hl
from hostile_lib import Case

JSON = {"Content-Type": "application/json"}


def post_camera(env, srv, token, body, src):
    if not isinstance(body, (bytes, str)):
        body = json.dumps(body)
    return hl.try_http(srv.port, "POST", "/api/v1/cameras", headers=dict(hl.auth(token), **JSON), body=body, src=src)


def refused(ctx, env, srv, token, what, cam_id, body, src):
    r = post_camera(env, srv, token, body, src)
    ctx.note(what, r if isinstance(r, str) else "%d %s" % (r.status, hl.short(r.body, 120)))
    ok = isinstance(r, hl.Response) and r.status == 400 and r.elapsed <= hl.PROMPT_S
    ctx.expect(ok, what, "400 within %.0f s" % hl.PROMPT_S, r)
    if isinstance(r, hl.Response) and 200 <= r.status < 300:
        hl.try_http(srv.port, "DELETE", "/api/v1/cameras/" + urllib.parse.quote(cam_id, safe=""),
                    headers=hl.auth(token))


def url_schemes(ctx, env):
    srv = env.main
    own = "http://127.0.0.1:%d/streams/cam1/live.mp4" % srv.port
    for i, (what, url) in enumerate((("gopher://", "gopher://127.0.0.1:70/1x"), ("ftp://", "ftp://127.0.0.1/x.mp4"),
                                     ("the service's own stream", own), ("concat:", "concat:/etc/passwd|/etc/hosts"),
                                     ("data:", "data:text/plain;base64,aGVsbG8="))):
        cid = "scheme%d" % i
        refused(ctx, env, srv, env.token, "url " + what, cid, {"id": cid, "url": url}, "127.0.9.%d" % (1 + i))


def control_valid_camera(ctx, env):
    """The same request with an allowed URL is accepted (201) and deletable (204): the 400s above are about the
    input, not the token or the content type."""
    srv = env.main
    r = post_camera(env, srv, env.token, {"id": "control", "url": "rtsp://127.0.0.1:1/control"}, "127.0.9.20")
    ctx.expect(isinstance(r, hl.Response) and r.status == 201, "POST an rtsp:// camera", "201", r)
    d = hl.try_http(srv.port, "DELETE", "/api/v1/cameras/control", headers=hl.auth(env.token))
    ctx.expect(isinstance(d, hl.Response) and d.status == 204, "DELETE it", "204", d)


def file_url_when_off(ctx, env):
    """On the strict server (server.allow_file_cameras off) a file URL and a plain path are refused."""
    srv = env.strict
    if not srv.supports("server.allow_file_cameras"):
        ctx.expect(False, "setting server.allow_file_cameras", "accepted by the config", "unknown in this build")
    refused(ctx, env, srv, env.strict_token, "file:///etc/passwd", "passwd",
            {"id": "passwd", "url": "file:///etc/passwd"}, "127.0.9.30")
    refused(ctx, env, srv, env.strict_token, "a plain path", "plainpath",
            {"id": "plainpath", "url": "/etc/passwd"}, "127.0.9.31")


def nul_and_dots(ctx, env):
    srv = env.main
    items = [("NUL in url", "nulurl", {"id": "nulurl", "url": "rtsp://127.0.0.1:1/a\u0000b"}),
             ("NUL in id", "nul\u0000id", {"id": "nul\u0000id", "url": "rtsp://127.0.0.1:1/x"}),
             ("id '.'", ".", {"id": ".", "url": "rtsp://127.0.0.1:1/x"}),
             ("id '..'", "..", {"id": "..", "url": "rtsp://127.0.0.1:1/x"})]
    for i, (what, cid, body) in enumerate(items):
        refused(ctx, env, srv, env.token, what, cid, body, "127.0.9.%d" % (40 + i))


def long_url(ctx, env):
    url = "rtsp://127.0.0.1:1/" + "a" * 5000
    refused(ctx, env, env.main, env.token, "url of 5 KB", "longurl", {"id": "longurl", "url": url}, "127.0.9.50")
    refused(ctx, env, env.main, env.token, "id of 1 KB", "i" * 1000, {"id": "i" * 1000, "url": "rtsp://h/x"},
            "127.0.9.51")


def confidence_1e999(ctx, env):
    body = '{"id":"huge","url":"rtsp://127.0.0.1:1/x","confidence":1e999}'
    refused(ctx, env, env.main, env.token, '"confidence": 1e999', "huge", body, "127.0.9.60")
    body = '{"id":"nan","url":"rtsp://127.0.0.1:1/x","max_fps":-1e999}'
    refused(ctx, env, env.main, env.token, '"max_fps": -1e999', "nan", body, "127.0.9.61")


CASES = [
    Case("url_schemes", "proto", "main", url_schemes),
    Case("control_valid_camera", "proto", "main", control_valid_camera),
    Case("file_url_when_files_off", "strict", "strict", file_url_when_off),
    Case("nul_and_dot_ids", "proto", "main", nul_and_dots),
    Case("long_url_and_id", "proto", "main", long_url),
    Case("confidence_1e999", "proto", "main", confidence_1e999),
]
