"""Slow and idle clients, connection caps, refused streaming viewers, abrupt viewer drops (issue 16, section 1).

Each case ends in a closed connection or a prompt 4xx/503 while the probe (hostile_lib.Probe) keeps checking
/health. The main server runs with a 2 s header deadline, so a slow client is cut within seconds."""

import os
import selectors
import socket
import threading
import time

import hostile_lib as hl
from hostile_lib import Case

HEADER_TIMEOUT_S = 2.0
MAX_CONNECTIONS = 2000
PER_CLIENT = 32
MAX_VIEWERS = 4
CUT_SLACK_S = 2.5  # the header deadline plus this: a slow client must be gone by then


def make_main_server(env, clips):
    """The attacked server: two looping file cameras (detections keep flowing), a token, short deadlines."""
    s = {"model": os.path.join(env.shared, "models/yolo11n.onnx"), "device": "cpu",
         "server": {"port": 0, "api_token": env.token, "max_body_bytes": env.max_body,
                    "header_timeout_s": HEADER_TIMEOUT_S, "max_connections": MAX_CONNECTIONS,
                    "max_connections_per_client": PER_CLIENT, "allow_file_cameras": True},
         "streaming": {"max_viewers": MAX_VIEWERS},
         "history": {"path": os.path.join(env.work, "main.db"), "sample_interval_s": 1},
         "pipeline": {"max_batch_size": 1},
         "fallback": {"enabled": False}}
    cams = [{"id": "cam%d" % (i + 1), "url": c, "loop": True, "max_fps": 4} for i, c in enumerate(clips)]
    return hl.Server("main", env.itscam, env.work, s, cams,
                     optional=("server.header_timeout_s", "server.max_connections",
                               "server.max_connections_per_client", "server.allow_file_cameras"))


def need(ctx, srv, key):
    """Records (as a failed check) that this build lacks a setting the case relies on."""
    if not srv.supports(key):
        ctx.expect(False, "setting %s" % key, "accepted by the config", "unknown setting in this build")


def open_many(port, srcs, per_src, timeout):
    """Non-blocking connects: per_src connections from each source address. (connected sockets, failures)."""
    sel = selectors.DefaultSelector()
    pending = []
    for src in srcs:
        for _ in range(per_src):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((src, 0))
            s.setblocking(False)
            s.connect_ex(("127.0.0.1", port))
            sel.register(s, selectors.EVENT_WRITE)
            pending.append(s)
    ok, failed = [], 0
    deadline = time.monotonic() + timeout
    left = len(pending)
    while left and time.monotonic() < deadline:
        for key, _ in sel.select(max(0.0, deadline - time.monotonic())):
            s = key.fileobj
            sel.unregister(s)
            left -= 1
            if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0:
                ok.append(s)
            else:
                failed += 1
                s.close()
    for key in list(sel.get_map().values()):
        key.fileobj.close()
        failed += 1
    sel.close()
    return ok, failed


def wait_all_closed(socks, timeout):
    """Watches sockets until the server closes them; {index: monotonic time it closed} (data read and dropped)."""
    sel = selectors.DefaultSelector()
    for i, s in enumerate(socks):
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ, i)
    t0 = time.monotonic()
    closed = {}
    while len(closed) < len(socks) and time.monotonic() - t0 < timeout:
        for key, _ in sel.select(0.05):
            try:
                d = key.fileobj.recv(65536)
            except BlockingIOError:
                continue
            except OSError:
                d = b""
            if not d:
                closed[key.data] = time.monotonic()
                sel.unregister(key.fileobj)
    sel.close()
    return closed


def health_series(port, n=10, gap=0.1):
    """n /health requests from 127.0.0.1, timed; latencies in ms and error texts (stops after 3 errors)."""
    ms, errors = [], []
    for _ in range(n):
        if len(errors) >= 3:
            break
        t = time.monotonic()
        r = hl.try_http(port, "GET", "/health")
        if isinstance(r, hl.Response) and r.status == 200:
            ms.append((time.monotonic() - t) * 1000)
        else:
            errors.append(r if isinstance(r, str) else repr(r))
        time.sleep(gap)
    return ms, errors


def slow_headers(ctx, env):
    """20 clients (more than the old server's 16 threads) each send one header line every 2 s, never ending their
    headers: each must be cut at the header deadline, and /health must keep answering meanwhile."""
    srv = env.main
    need(ctx, srv, "server.header_timeout_s")
    n, cap_s = 20, 9.0
    conns = [hl.Conn(srv.port, src="127.0.2.1") for _ in range(n)]
    t0 = time.monotonic()
    for c in conns:
        c.send("GET /health HTTP/1.1\r\n")
    socks = [c.sock for c in conns]
    sel = selectors.DefaultSelector()
    for i, s in enumerate(socks):
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ, i)
    closed, answers, next_line, k = {}, {}, t0 + 2.0, 0
    while len(closed) < n and time.monotonic() - t0 < cap_s:
        for key, _ in sel.select(0.05):
            try:
                d = key.fileobj.recv(65536)
            except BlockingIOError:
                continue
            except OSError:
                d = b""
            if d:
                answers.setdefault(key.data, d[:40])
            else:
                closed[key.data] = time.monotonic() - t0
                sel.unregister(key.fileobj)
        if time.monotonic() >= next_line:
            k += 1
            next_line += 2.0
            for i, s in enumerate(socks):
                if i not in closed:
                    try:
                        s.send(("X-Slow-%d: %d\r\n" % (k, k)).encode())
                    except OSError:
                        closed[i] = time.monotonic() - t0
                        sel.unregister(s)
    sel.close()
    for c in conns:
        c.close()
    ctx.note("closed", "%d/%d" % (len(closed), n))
    ctx.note("cut_after_s", round(max(closed.values()), 2) if closed else None)
    ctx.note("health", env.probe.window(t0, time.monotonic()))
    limit = HEADER_TIMEOUT_S + CUT_SLACK_S
    ctx.expect(len(closed) == n, "every slow-header connection closed by the server",
               "%d closed within %.0f s" % (n, cap_s), "%d closed; still open after %.0f s: %d" % (
                   len(closed), cap_s, n - len(closed)))
    late = sorted(t for t in closed.values() if t > limit)
    ctx.expect(not late, "cut at the header deadline", "closed <= %.1f s after connecting" % limit,
               "%d closed later: %s" % (len(late), [round(t, 1) for t in late[:5]]))
    bad = {i: a for i, a in answers.items() if not (a.startswith(b"HTTP/1.1 408") or a.startswith(b"HTTP/1.1 4"))}
    ctx.expect(not bad, "no success answer to an unfinished request", "nothing, or a 4xx (408)",
               list(bad.values())[:3])


def idle_1000(ctx, env):
    """1,000 idle or slow connections (from 40 loopback addresses, under the per-client cap) are held while
    /health answers within 100 ms; the server then cuts them at the header deadline."""
    srv = env.main
    need(ctx, srv, "server.max_connections")
    need(ctx, srv, "server.header_timeout_s")
    srcs = ["127.0.1.%d" % i for i in range(1, 41)]
    t0 = time.monotonic()
    socks, failed = open_many(srv.port, srcs, 25, timeout=3.0)
    for i, s in enumerate(socks):
        if i % 2:  # half of them slow: a request line and a partial header, then nothing
            try:
                s.send(b"GET /health HTTP/1.1\r\nHost: 127")
            except OSError:
                pass
    t_open = time.monotonic() - t0
    ms, errors = health_series(srv.port, n=10, gap=0.05)
    closed = wait_all_closed(socks, t0 + t_open + HEADER_TIMEOUT_S + CUT_SLACK_S + 0.5 - time.monotonic())
    for s in socks:
        s.close()
    summary = hl.latency_summary(ms)
    ctx.note("opened", len(socks))
    ctx.note("open_s", round(t_open, 2))
    ctx.note("health_while_held", summary)
    ctx.note("cut", "%d/%d" % (len(closed), len(socks)))  # all, by the end of the watch
    ctx.expect(len(socks) == 1000, "1,000 connections open", "1000 connected within 3 s",
               "%d connected, %d failed or pending" % (len(socks), failed))
    ctx.expect(not errors and ms and summary["p90_ms"] < 100 and summary["max_ms"] < 500,
               "/health while 1,000 connections are held", "10/10 answered, p90 < 100 ms, max < 500 ms",
               "%s; errors: %s" % (summary, errors[:2]))
    # The slow half (a partial header) must be cut at the header deadline; the issue asks nothing of when a
    # connection that never sent a byte goes (an idle timeout may be longer), so that half is only counted.
    # Opening 1,000 takes up to 3 s on a loaded machine: the deadline counts from the last one opened.
    limit = t0 + t_open + HEADER_TIMEOUT_S + CUT_SLACK_S
    slow = [i for i in range(len(socks)) if i % 2]
    late = len([i for i in slow if closed.get(i, float("inf")) > limit])
    ctx.note("idle_cut_by_then", len([i for i in range(0, len(socks), 2) if closed.get(i, float("inf")) <= limit]))
    ctx.expect(late == 0, "slow (partial-header) connections cut at the header deadline",
               "all %d closed by the server <= %.1f s after opening" % (len(slow), HEADER_TIMEOUT_S + CUT_SLACK_S),
               "%d of %d still open" % (late, len(slow)))


def per_client_cap(ctx, env):
    """One address opens as many connections as it may; the next one is refused at once (closed, or 429/503 then
    closed), while another address is still served."""
    srv = env.main
    need(ctx, srv, "server.max_connections_per_client")
    socks, failed = open_many(srv.port, ["127.0.4.1"], PER_CLIENT, timeout=3.0)
    time.sleep(0.3)  # let the server accept them all
    t = time.monotonic()
    seen = "nothing"
    refused = False
    try:
        c = hl.Conn(srv.port, src="127.0.4.1")
        c.send(hl.request_bytes("GET", "/health"))
        try:
            r = c.read_response(hl.PROMPT_S, since=t)
            seen = repr(r)
            gone = c.wait_closed(1.0)
            refused = r.status in (429, 503) and gone is not None
            if r.status in (429, 503) and gone is None:
                seen += ", connection left open"
        except hl.Closed as e:
            seen, refused = "closed without an answer after %.2f s (%s)" % (time.monotonic() - t, e), True
        except hl.Timeout:
            seen = "no answer and no close within %.1f s" % hl.PROMPT_S
        c.close()
    except OSError as e:
        seen, refused = "connect refused: %s" % e, True
    other = hl.try_http(srv.port, "GET", "/health", src="127.0.4.2")
    for s in socks:
        s.close()
    ctx.note("extra_connection", seen)
    ctx.expect(len(socks) == PER_CLIENT, "the allowed connections open", "%d" % PER_CLIENT,
               "%d (%d failed)" % (len(socks), failed))
    ctx.expect(refused, "connection %d from one address refused at once" % (PER_CLIENT + 1),
               "closed, or 429/503 and closed, within %.0f s" % hl.PROMPT_S, seen)
    ctx.expect(isinstance(other, hl.Response) and other.status == 200, "another address is still served",
               "200 promptly", other)


def sse_over_max_viewers(ctx, env):
    """50 event-stream viewers against streaming.max_viewers = 4: the refused get 503 at once and their
    connection is closed at once (the old server kept each alive 5 s)."""
    srv = env.main
    n = 50
    out = [None] * n
    conns = [None] * n

    def one(i):
        t = time.monotonic()
        try:
            c = hl.Conn(srv.port, src="127.0.5.%d" % (1 + i % 5))
            conns[i] = c
            c.send(hl.request_bytes("GET", "/streams/cam1/detections", close=False))
            r = c.read_response(3.0, headers_only=True, since=t)
            if r.status != 200:
                r = _finish_body(c, r, t)
                gone = c.wait_closed(1.0)
                out[i] = (r.status, r.elapsed, gone)
            else:
                out[i] = (200, r.elapsed, None)
        except hl.Timeout:
            out[i] = ("timeout", time.monotonic() - t, None)
        except (hl.Closed, OSError) as e:
            out[i] = ("closed: %s" % e, time.monotonic() - t, 0.0)

    t0 = time.monotonic()
    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    for c in conns:
        if c:
            c.close()
    ok = [o for o in out if o[0] == 200]
    refused = [o for o in out if o[0] == 503]
    other = [o for o in out if o[0] not in (200, 503)]
    slow = [round(o[1], 2) for o in refused if o[1] > hl.PROMPT_S]
    kept = [o for o in refused if o[2] is None]
    ctx.note("streaming", len(ok))
    ctx.note("refused_503", len(refused))
    ctx.note("503_answer_max_s", round(max([o[1] for o in refused] or [0]), 2))
    ctx.note("health", env.probe.window(t0, time.monotonic()))
    ctx.expect(1 <= len(ok) <= MAX_VIEWERS, "viewers admitted", "1..%d" % MAX_VIEWERS, len(ok))
    ctx.expect(len(refused) == n - len(ok) and not other, "the rest refused with 503", "%d x 503" % (n - len(ok)),
               "%d x 503, others: %s" % (len(refused), [o[0] for o in other][:5]))
    ctx.expect(not slow, "503 answered promptly", "<= %.0f s" % hl.PROMPT_S, "%d later: %s" % (len(slow), slow[:5]))
    ctx.expect(not kept, "refused connections closed at once", "closed <= 1 s after the 503",
               "%d of %d still open 1 s after their 503" % (len(kept), len(refused)))


def _finish_body(c, r, t):
    """Reads the body of a response whose headers read_response(headers_only=True) returned."""
    n = int(r.header("Content-Length") or 0)
    if n:
        r.body = c._exactly(n, time.monotonic() + hl.PROMPT_S)
    r.elapsed = time.monotonic() - t
    return r


def viewer_drops(ctx, env):
    """Viewers of /streams/{id}/live.mp4 that connect, read a bit and reset (RST) in three rounds: the server goes
    on, the slots come back and a new viewer still gets video."""
    srv = env.main
    got, errors = [], []

    def drop(i, nbytes):
        try:
            # A slot may still be held by a viewer that left a moment ago (the server notices at its next write).
            deadline = time.monotonic() + 8.0
            while True:
                c = hl.Conn(srv.port, src="127.0.6.%d" % (1 + i), timeout=8.0)
                c.send(hl.request_bytes("GET", "/streams/cam1/live.mp4", close=False))
                r = c.read_response(8.0, headers_only=True)
                if r.status != 503 or time.monotonic() > deadline:
                    break
                c.close()
                time.sleep(0.5)
            n = len(c.buf)
            deadline = time.monotonic() + 8.0
            while n < nbytes and time.monotonic() < deadline and c._fill(deadline):
                n = len(c.buf)
            got.append((r.status, n))
            c.reset()
        except (hl.Timeout, hl.Closed, OSError) as e:
            errors.append(str(e) or type(e).__name__)

    t0 = time.monotonic()
    for rnd, nbytes in enumerate((1, 4096, 200000)):
        ths = [threading.Thread(target=drop, args=(rnd * 3 + i, nbytes)) for i in range(3)]
        for th in ths:
            th.start()
        for th in ths:
            th.join()
    # The slots return once the server notices the resets (at its next write): retry for a few seconds.
    final, deadline = None, time.monotonic() + 8.0
    while time.monotonic() < deadline:
        try:
            c = hl.Conn(srv.port, src="127.0.6.20", timeout=8.0)
            c.send(hl.request_bytes("GET", "/streams/cam1/live.mp4", close=False))
            r = c.read_response(8.0, headers_only=True)
            if r.status == 200:
                while len(c.buf) < 1000 and c._fill(time.monotonic() + 8.0):
                    pass
                final = "200 with %d bytes" % len(c.buf)
                c.close()
                break
            final = repr(r)
            c.close()
        except (hl.Timeout, hl.Closed, OSError) as e:
            final = "error: %s" % e
        time.sleep(0.5)
    health = hl.try_http(srv.port, "GET", "/health")
    ctx.note("viewers", got)
    ctx.note("health", env.probe.window(t0, time.monotonic()))
    ctx.expect(not errors and all(s == 200 for s, _ in got), "each dropped viewer was served first",
               "200 and video bytes", "%s; errors: %s" % (got, errors[:3]))
    ctx.expect(final and final.startswith("200 with") and int(final.split()[2]) >= 1000,
               "a new viewer after the drops", "200 and video", final)
    ctx.expect(srv.alive() and isinstance(health, hl.Response) and health.status == 200, "server alive",
               "/health 200", health)


CASES = [
    Case("slow_headers", "conn", "main", slow_headers),
    Case("idle_1000_connections", "conn", "main", idle_1000),
    Case("per_client_cap", "conn", "main", per_client_cap),
    Case("sse_over_max_viewers", "conn", "main", sse_over_max_viewers),
    Case("viewer_drops", "conn", "main", viewer_drops),
]
