"""Bodies and authentication (issue 16, section 2): authentication before any body is read, `max_body_bytes` on
the decoded body whatever the framing or encoding. The memory cases run first and alone ("rss"), so the server's
resident-memory growth they measure is theirs."""

import gzip
import select
import threading
import time

import hostile_lib as hl
from hostile_lib import Case

MIB = 1 << 20
RSS_LIMIT = 20 * MIB     # "little server RSS growth"
ABORT_GROWTH = 512 * MIB  # stop feeding a server that buffers everything: the finding is made by then
CHUNK = b"x" * MIB


def send_until_answer(port, src, head, total, chunked, cap_s, watch):
    """Sends a request header then `total` body bytes (chunked or raw) while another thread waits for the answer.
    Stops sending once answered, on a send error, after cap_s, or when the server has grown ABORT_GROWTH.
    Returns (response or error text, seconds to the answer, bytes sent before it)."""
    c = hl.Conn(port, src=src, timeout=cap_s)
    t0 = time.monotonic()
    box = {}

    def reader():
        try:
            box["r"] = c.read_response(cap_s, since=t0)
        except hl.Timeout:
            box["r"] = "no answer within %.0f s" % cap_s
        except (hl.Closed, OSError) as e:
            box["r"] = "closed without an answer (%s)" % e
        box["t"] = time.monotonic() - t0

    th = threading.Thread(target=reader, daemon=True)
    th.start()
    sent = 0
    try:
        c.send(head)
        while sent < total and "r" not in box and time.monotonic() - t0 < cap_s:
            if watch is not None and watch.growth > ABORT_GROWTH:
                box.setdefault("aborted", "stopped sending at +%d MiB server RSS" % (watch.growth // MIB))
                break
            n = min(len(CHUNK), total - sent)
            if not send_unless(c, (b"%x\r\n" % n + CHUNK[:n] + b"\r\n") if chunked else CHUNK[:n],
                               lambda: "r" in box or time.monotonic() - t0 >= cap_s):
                break
            sent += n
        if sent >= total and chunked and "r" not in box:
            c.send(b"0\r\n\r\n")
    except OSError:
        pass  # the server stopped reading or closed: the answer (if any) is what counts
    th.join(cap_s + 1)
    c.close()
    r = box.get("r", "no answer")
    if "aborted" in box and not isinstance(r, hl.Response):
        r = "%s; %s" % (box["aborted"], r)
    return r, box.get("t", time.monotonic() - t0), sent


def send_unless(c, data, stop):
    """Sends data, giving up as soon as stop() is true: a server that answered but stopped reading must not keep
    the sender blocked on a full socket buffer. False when it gave up."""
    view = memoryview(data)
    while view:
        if stop():
            return False
        _, w, _ = select.select([], [c.sock], [], 0.05)
        if w:
            view = view[c.sock.send(view):]
    return True


def post_head(path, headers, chunked, length=None):
    h = "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n" % path
    for k, v in headers.items():
        h += "%s: %s\r\n" % (k, v)
    h += "Transfer-Encoding: chunked\r\n" if chunked else "Content-Length: %d\r\n" % length
    return (h + "\r\n").encode()


def expect_answer(ctx, what, r, t, want, rss_growth=None):
    ok = isinstance(r, hl.Response) and r.status in want and t <= hl.PROMPT_S
    ctx.expect(ok, what, "%s within %.0f s" % ("/".join(map(str, want)), hl.PROMPT_S),
               ("%d after %.2f s" % (r.status, t)) if isinstance(r, hl.Response) else "%s (%.1f s)" % (r, t))
    if rss_growth is not None:
        ctx.expect(rss_growth < RSS_LIMIT, what + ": server RSS growth", "< %d MiB" % (RSS_LIMIT // MIB),
                   "+%.1f MiB" % (rss_growth / MIB))


def chunked_200mb_no_token(ctx, env):
    """A 200 MB chunked POST without a token: 401 before the body is read, and the server barely grows."""
    w = hl.RssWatch(env.main.pid)
    r, t, sent = send_until_answer(env.main.port, "127.0.7.1", post_head("/api/v1/cameras", {}, True),
                                   200 * MIB, True, 30.0, w)
    growth = w.stop()
    ctx.note("answer", r if isinstance(r, str) else "%d" % r.status)
    ctx.note("answer_s", round(t, 2))
    ctx.note("sent_mib", round(sent / MIB, 1))
    ctx.note("rss_growth_mib", round(growth / MIB, 1))
    expect_answer(ctx, "200 MB chunked POST without a token", r, t, (401,), growth)


def parallel_300mb(ctx, env):
    """Four 300 MB bodies at once: two chunked without a token (401), a chunked and a Content-Length one with the
    token (413: over max_body_bytes). Together they must not grow the server by more than 20 MiB."""
    w = hl.RssWatch(env.main.pid)
    tok = hl.auth(env.token)
    jobs = [("no token, chunked", {}, True, (401,)), ("no token, chunked", {}, True, (401,)),
            ("token, chunked", tok, True, (413,)), ("token, Content-Length", tok, False, (413,))]
    out = [None] * len(jobs)

    def one(i):
        what, h, chunked, _ = jobs[i]
        head = post_head("/api/v1/cameras", h, chunked, None if chunked else 300 * MIB)
        out[i] = send_until_answer(env.main.port, "127.0.7.%d" % (10 + i), head, 300 * MIB, chunked, 30.0, w)

    ths = [threading.Thread(target=one, args=(i,)) for i in range(len(jobs))]
    for th in ths:
        th.start()
    for th in ths:
        th.join()
    growth = w.stop()
    ctx.note("rss_growth_mib", round(growth / MIB, 1))
    ctx.note("answers", [(o[0] if isinstance(o[0], str) else o[0].status, round(o[1], 2)) for o in out])
    for (what, _, _, want), (r, t, _) in zip(jobs, out):
        expect_answer(ctx, "300 MB body, " + what, r, t, want)
    ctx.expect(growth < RSS_LIMIT, "server RSS growth with four 300 MB bodies", "< %d MiB" % (RSS_LIMIT // MIB),
               "+%.1f MiB" % (growth / MIB))


def gzip_body(ctx, env):
    """A 65 KB gzip body that inflates to 64 MiB (with the token): refused 415 without inflating it."""
    body = gzip.compress(b" " * (64 * MIB), 9)
    w = hl.RssWatch(env.main.pid)
    t = time.monotonic()
    r = hl.try_http(env.main.port, "POST", "/api/v1/cameras", src="127.0.7.20",
                    headers=dict(hl.auth(env.token), **{"Content-Type": "application/json", "Content-Encoding": "gzip"}),
                    body=body, timeout=30.0)
    t = time.monotonic() - t
    growth = w.stop()
    ctx.note("compressed_kib", len(body) // 1024)
    ctx.note("answer", r if isinstance(r, str) else r.status)
    ctx.note("answer_s", round(t, 2))
    ctx.note("rss_growth_mib", round(growth / MIB, 1))
    expect_answer(ctx, "gzip body inflating to 64 MiB", r, t, (415,), growth)


def oversize_decoded(ctx, env):
    """With the token, a body one byte over max_body_bytes: 413, by Content-Length and chunked alike."""
    tok = dict(hl.auth(env.token), **{"Content-Type": "application/json"})
    n = env.max_body + 1
    head, tail = b'{"id":"big","url":"rtsp://127.0.0.1:1/', b'"}'
    body = head + b"a" * (n - len(head) - len(tail)) + tail
    r = hl.try_http(env.main.port, "POST", "/api/v1/cameras", headers=tok, body=body)
    t = r.elapsed if isinstance(r, hl.Response) else hl.PROMPT_S
    expect_answer(ctx, "Content-Length body of max_body_bytes + 1", r, t, (413,))
    chunks = b"".join(b"%x\r\n" % len(body[i:i + 4096]) + body[i:i + 4096] + b"\r\n"
                      for i in range(0, len(body), 4096)) + b"0\r\n\r\n"
    r = hl.try_http(env.main.port, "POST", "/api/v1/cameras", body=chunks,
                    headers=dict(tok, **{"Transfer-Encoding": "chunked"}))
    t = r.elapsed if isinstance(r, hl.Response) else hl.PROMPT_S
    expect_answer(ctx, "chunked body of max_body_bytes + 1", r, t, (413,))
    cleanup(env, "big")


def no_body_no_length(ctx, env):
    """`curl -X POST -H 'Authorization: Bearer ...' .../api/v1/baseline`: no body and no Content-Length. A
    request without either has no body (RFC 9112 6.3); it must be answered at once, and succeed."""
    c = hl.Conn(env.main.port, src="127.0.7.30")
    c.send("POST /api/v1/baseline HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n"
           "Connection: close\r\n\r\n" % env.token)
    try:
        r = c.read_response(hl.PROMPT_S)
    except hl.Timeout:
        r = "no answer within %.0f s" % hl.PROMPT_S
    except hl.Closed as e:
        r = "closed without an answer (%s)" % e
    c.close()
    ctx.note("answer", repr(r))
    ok = isinstance(r, hl.Response) and 200 <= r.status < 300
    ctx.expect(ok, "POST /api/v1/baseline without body or Content-Length", "2xx within %.0f s" % hl.PROMPT_S, r)


def cleanup(env, cam_id):
    """Removes a camera a case's request added by mistake (an old server that accepted what it must refuse)."""
    hl.try_http(env.main.port, "DELETE", "/api/v1/cameras/" + cam_id, headers=hl.auth(env.token))


CASES = [
    Case("chunked_200mb_without_token", "rss", "main", chunked_200mb_no_token),
    Case("parallel_300mb_bodies", "rss", "main", parallel_300mb),
    Case("gzip_body", "rss", "main", gzip_body),
    Case("oversize_decoded_body", "proto", "main", oversize_decoded),
    Case("post_without_body_or_length", "proto", "main", no_body_no_length),
]
