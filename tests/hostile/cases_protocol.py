"""Protocol correctness (issue 16, section 4 and "Done when"): request smuggling framings, unknown methods,
pipelining, malformed request lines, huge headers, deep JSON. Each request on its own connection, from its own
loopback address; each must end in a prompt, clear 4xx (or, for garbage, a closed connection)."""

import time

import hostile_lib as hl
from hostile_lib import Case


def raw(env, data, src, timeout=hl.PROMPT_S):
    """Sends raw bytes on a fresh connection; the Response, or a text for a close/timeout, and the seconds."""
    t = time.monotonic()
    c = hl.Conn(env.main.port, src=src)
    try:
        try:
            c.send(data)
        except OSError:
            pass  # the server may answer and close before reading all of it
        return c.read_response(timeout, since=t)
    except hl.Timeout:
        return "no answer within %.0f s" % timeout
    except (hl.Closed, OSError) as e:
        return "closed (%s) after %.2f s" % (e, time.monotonic() - t)
    finally:
        c.close()


def expect_status(ctx, what, r, want, closed_ok=False):
    """want: the accepted statuses. closed_ok: a connection closed without an answer also passes."""
    if isinstance(r, hl.Response):
        ok = r.status in want and r.elapsed <= hl.PROMPT_S
    else:
        ok = closed_ok and r.startswith("closed")
    exp = "/".join(map(str, want)) + (" or a closed connection" if closed_ok else "") + " within %.0f s" % hl.PROMPT_S
    return ctx.expect(ok, what, exp, r)


def content_length_variants(ctx, env):
    """Framings a proxy and the server could read differently (request smuggling): all 400. POST /api/v1/baseline
    with the token ignores its body, so a server that misreads the framing answers 200 here."""
    head = "POST /api/v1/baseline HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n" % env.token
    variants = [
        ("negative Content-Length", "Content-Length: -1\r\n\r\n"),
        ("Content-Length 1e3", "Content-Length: 1e3\r\n\r\n" + "x" * 1000),
        ("Content-Length abc", "Content-Length: abc\r\n\r\n"),
        ("two different Content-Length", "Content-Length: 0\r\nContent-Length: 5\r\n\r\nhello"),
        ("Content-Length list", "Content-Length: 5, 0\r\n\r\nhello"),
        ("Content-Length and Transfer-Encoding", "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
        ("unknown Transfer-Encoding", "Transfer-Encoding: gzip, chunked2\r\n\r\n"),
    ]
    for i, (what, rest) in enumerate(variants):
        r = raw(env, (head + rest).encode(), "127.0.8.%d" % (1 + i))
        ctx.note(what, r if isinstance(r, str) else "%d in %.2f s" % (r.status, r.elapsed))
        expect_status(ctx, what, r, (400,))


def unknown_methods(ctx, env):
    for i, m in enumerate(("BREW", "TRACE", "CONNECT")):
        r = raw(env, ("%s /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" % m).encode(), "127.0.8.%d" % (20 + i))
        ctx.note(m, r if isinstance(r, str) else r.status)
        expect_status(ctx, m + " /health", r, (405,))


def pipelined(ctx, env):
    """Five requests in one write on one keep-alive connection: five answers, at once."""
    t = time.monotonic()
    c = hl.Conn(env.main.port, src="127.0.8.30")
    c.send(b"".join(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-N: %d\r\n\r\n" % i for i in range(5)))
    got = []
    try:
        for _ in range(5):
            got.append(c.read_response(hl.PROMPT_S, since=t).status)
        seen = "%s in %.2f s" % (got, time.monotonic() - t)
    except hl.Timeout:
        seen = "%d answer(s) %s, then nothing for %.0f s" % (len(got), got, hl.PROMPT_S)
    except hl.Closed as e:
        seen = "%d answer(s) %s, then closed (%s)" % (len(got), got, e)
    c.close()
    ctx.note("answers", seen)
    ctx.expect(got == [200] * 5 and time.monotonic() - t <= hl.PROMPT_S + 0.5, "5 pipelined GET /health",
               "five 200s within %.0f s" % hl.PROMPT_S, seen)


def malformed_request_lines(ctx, env):
    lines = [
        ("garbage", b"GARBAGE\r\n\r\n", (400,)),
        ("method only", b"GET\r\n\r\n", (400,)),
        ("no version", b"GET /health\r\n\r\n", (400,)),
        ("extra field", b"GET /health HTTP/1.1 extra\r\nHost: x\r\n\r\n", (400,)),
        ("HTTP/9.9", b"GET /health HTTP/9.9\r\nHost: x\r\n\r\n", (400, 505)),
        ("relative target", b"GET health HTTP/1.1\r\nHost: x\r\n\r\n", (400, 404)),
        ("NUL in target", b"GET /hea\x00lth HTTP/1.1\r\nHost: x\r\n\r\n", (400,)),
        ("binary method", b"G\xffT /health HTTP/1.1\r\nHost: x\r\n\r\n", (400,)),
        ("TLS hello on plain HTTP", b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + bytes(range(32)) + b"\r\n\r\n",
         (400,)),
        ("header without colon", b"GET /health HTTP/1.1\r\nHost: x\r\nNoColonHere\r\n\r\n", (400,)),
        ("space before colon", b"GET /health HTTP/1.1\r\nHost : x\r\n\r\n", (400,)),
        ("bare LF line ends", b"GET /health HTTP/1.1\nHost: x\n\n", (200, 400)),
    ]
    for i, (what, data, want) in enumerate(lines):
        r = raw(env, data, "127.0.8.%d" % (40 + i))
        ctx.note(what, r if isinstance(r, str) else r.status)
        expect_status(ctx, "request line: " + what, r, want, closed_ok=(400 in want))


def huge_headers(ctx, env):
    cases = [
        ("one 100 KB header", b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 100000 + b"\r\n\r\n",
         (400, 431)),
        ("2,000 headers", b"GET /health HTTP/1.1\r\nHost: x\r\n" +
         b"".join(b"X-H%d: %s\r\n" % (i, b"v" * 40) for i in range(2000)) + b"\r\n", (400, 431)),
        ("100 KB request target", b"GET /health?" + b"q" * 100000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", (400, 414, 431)),
    ]
    for i, (what, data, want) in enumerate(cases):
        r = raw(env, data, "127.0.8.%d" % (60 + i))
        ctx.note(what, r if isinstance(r, str) else "%d in %.2f s" % (r.status, r.elapsed))
        expect_status(ctx, what, r, want)


def deep_json(ctx, env):
    """100,000 nested arrays (200 KB, under max_body_bytes): 400, and the server lives on (a recursive parser or
    destructor overflows its stack here)."""
    depth = 100000
    body = b"[" * depth + b"]" * depth
    r = hl.try_http(env.main.port, "POST", "/api/v1/cameras", src="127.0.8.70", body=body,
                    headers=dict(hl.auth(env.token), **{"Content-Type": "application/json"}))
    ctx.note("answer", r if isinstance(r, str) else r.status)
    expect_status(ctx, "POST of 100k nested arrays", r, (400,))
    objs = b'{"a":' * depth + b"1" + b"}" * depth
    r = hl.try_http(env.main.port, "POST", "/api/v1/cameras", src="127.0.8.71", body=objs,
                    headers=dict(hl.auth(env.token), **{"Content-Type": "application/json"}))
    expect_status(ctx, "POST of 100k nested objects", r, (400, 413))
    h = hl.try_http(env.main.port, "GET", "/health")
    ctx.expect(env.main.alive() and isinstance(h, hl.Response) and h.status == 200, "server alive after deep JSON",
               "/health 200", h)


CASES = [
    Case("content_length_smuggling", "proto", "main", content_length_variants),
    Case("unknown_methods", "proto", "main", unknown_methods),
    Case("pipelined_requests", "proto", "main", pipelined),
    Case("malformed_request_lines", "proto", "main", malformed_request_lines),
    Case("huge_headers", "proto", "main", huge_headers),
    Case("deep_json", "proto", "main", deep_json),
]
