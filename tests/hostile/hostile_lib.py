"""Shared pieces of the hostile-client suite: raw HTTP over sockets, a live `itscam run` server, server RSS, and
the background probe. Python 3 standard library only.

Everything here talks HTTP/1.1 by hand over sockets on purpose: the suite sends what a well-behaved client library
refuses to send (bad framing, slow headers, resets), and times every answer itself."""

import json
import os
import re
import signal
import socket
import ssl
import subprocess
import threading
import time

# A "prompt" answer: generous for a loaded 2-core machine, still far below the 5 s the old server took.
PROMPT_S = 2.0


class Closed(Exception):
    """The server closed (or reset) the connection before a whole response arrived."""


class Timeout(Exception):
    """No whole response within the deadline."""


class Response:
    def __init__(self, status, reason, headers, body, elapsed):
        self.status, self.reason, self.headers, self.body, self.elapsed = status, reason, headers, body, elapsed

    def header(self, name):
        name = name.lower()
        for k, v in self.headers:
            if k.lower() == name:
                return v
        return None

    def json(self):
        return json.loads(self.body.decode("utf-8", "replace"))

    def __repr__(self):
        return "%d %s after %.2f s (%s)" % (self.status, self.reason, self.elapsed, short(self.body, 160))


def short(data, n=200):
    """A printable, bounded excerpt of bytes or text for failure messages."""
    if isinstance(data, bytes):
        data = data.decode("utf-8", "replace")
    data = data.replace("\r", "\\r").replace("\n", "\\n")
    return data if len(data) <= n else data[:n] + "...(%d chars)" % len(data)


class Conn:
    """One client connection from an optional loopback source address (127.0.0.x spreads load over several
    "clients" for the per-client connection cap)."""

    def __init__(self, port, src=None, tls=None, timeout=PROMPT_S, host="127.0.0.1"):
        self.t0 = time.monotonic()
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if src:
            s.bind((src, 0))
        s.settimeout(timeout)
        s.connect((host, port))
        if tls is not None:
            s = tls.wrap_socket(s, server_hostname=host)
        self.sock, self.buf, self.eof = s, b"", False

    def send(self, data):
        if isinstance(data, str):
            data = data.encode("latin-1")
        self.sock.sendall(data)

    def _fill(self, deadline):
        """Reads more into self.buf; False on EOF or reset. Raises Timeout at the deadline."""
        left = deadline - time.monotonic()
        if left <= 0:
            raise Timeout()
        self.sock.settimeout(left)
        try:
            d = self.sock.recv(65536)
        except socket.timeout:
            raise Timeout()
        except (ConnectionResetError, BrokenPipeError, ssl.SSLError, OSError):
            self.eof = True
            return False
        if not d:
            self.eof = True
            return False
        self.buf += d
        return True

    def _until(self, marker, deadline, limit=1 << 20):
        while marker not in self.buf:
            if len(self.buf) > limit:
                raise Closed("no %r within %d bytes" % (marker, limit))
            if not self._fill(deadline):
                raise Closed("closed after %d bytes: %s" % (len(self.buf), short(self.buf, 80)))
        i = self.buf.index(marker) + len(marker)
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def _exactly(self, n, deadline):
        while len(self.buf) < n:
            if not self._fill(deadline):
                raise Closed("closed %d bytes into a %d-byte body" % (len(self.buf), n))
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_response(self, timeout=PROMPT_S, headers_only=False, head=False, since=None):
        """One response. headers_only: return after the header block (streaming answers). `elapsed` counts from
        `since` (default: when this connection was opened)."""
        deadline = time.monotonic() + timeout
        head_block = self._until(b"\r\n\r\n", deadline).decode("latin-1")
        lines = head_block.split("\r\n")
        m = re.match(r"HTTP/\d\.\d (\d{3}) ?(.*)", lines[0])
        if not m:
            raise Closed("not an HTTP response: %s" % short(lines[0]))
        status, reason = int(m.group(1)), m.group(2)
        hdrs = []
        for ln in lines[1:]:
            if ":" in ln:
                k, v = ln.split(":", 1)
                hdrs.append((k.strip(), v.strip()))
        resp = Response(status, reason, hdrs, b"", 0.0)
        if not (headers_only or head or status in (204, 304) or 100 <= status < 200):
            te = (resp.header("Transfer-Encoding") or "").lower()
            cl = resp.header("Content-Length")
            if "chunked" in te:
                body = b""
                while True:
                    size = int(self._until(b"\r\n", deadline).split(b";")[0].strip(), 16)
                    if size == 0:
                        self._until(b"\r\n", deadline)
                        break
                    body += self._exactly(size + 2, deadline)[:-2]
                resp.body = body
            elif cl is not None:
                resp.body = self._exactly(int(cl), deadline)
            else:
                while self._fill(deadline):
                    pass
                resp.body, self.buf = self.buf, b""
        resp.elapsed = time.monotonic() - (since if since is not None else self.t0)
        return resp

    def wait_closed(self, timeout):
        """Seconds until the server closed the connection (reading and dropping data), or None if still open."""
        t = time.monotonic()
        deadline = t + timeout
        try:
            while self._fill(deadline):
                self.buf = b""
        except Timeout:
            return None
        return time.monotonic() - t

    def reset(self):
        """An abrupt drop: RST instead of FIN (SO_LINGER 0)."""
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        except OSError:
            pass
        self.close()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def request_bytes(method, path, headers=None, body=b"", close=True):
    h = "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n" % (method, path)
    for k, v in (headers or {}).items():
        h += "%s: %s\r\n" % (k, v)
    if body or method in ("POST", "PUT"):
        if not any(k.lower() in ("content-length", "transfer-encoding") for k in (headers or {})):
            h += "Content-Length: %d\r\n" % len(body)
    if close:
        h += "Connection: close\r\n"
    if isinstance(body, str):
        body = body.encode()
    return h.encode("latin-1") + b"\r\n" + body


def http(port, method, path, headers=None, body=b"", timeout=PROMPT_S, src=None, tls=None):
    """One request on a fresh connection; the Response (raises Timeout/Closed)."""
    c = Conn(port, src=src, tls=tls, timeout=timeout)
    try:
        c.send(request_bytes(method, path, headers, body))
        return c.read_response(timeout, head=(method == "HEAD"))
    finally:
        c.close()


def try_http(port, method, path, **kw):
    """Like http(), but a Timeout/Closed/OSError comes back as a string instead of an exception."""
    try:
        return http(port, method, path, **kw)
    except Timeout:
        return "no answer within %.1f s" % kw.get("timeout", PROMPT_S)
    except (Closed, OSError) as e:
        return "connection closed without an answer (%s)" % e


def rss_bytes(pid):
    """Resident set size of a process from /proc (0 when it is gone)."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for ln in f:
                if ln.startswith("VmRSS:"):
                    return int(ln.split()[1]) * 1024
    except OSError:
        pass
    return 0


class RssWatch:
    """Samples a process's RSS every 10 ms while active; `growth` is the peak above the first sample."""

    def __init__(self, pid):
        self.pid, self.base, self.peak, self._stop = pid, rss_bytes(pid), 0, threading.Event()
        self.peak = self.base
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_bytes(self.pid))
            time.sleep(0.01)

    def stop(self):
        self._stop.set()
        self._t.join()
        self.peak = max(self.peak, rss_bytes(self.pid))
        return self.growth

    @property
    def growth(self):
        return max(0, self.peak - self.base)


def pct(values, p):
    if not values:
        return float("nan")
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))]


def latency_summary(ms):
    return {"n": len(ms), "p50_ms": round(pct(ms, 50), 1), "p90_ms": round(pct(ms, 90), 1),
            "max_ms": round(max(ms), 1) if ms else float("nan")}


class Server:
    """A live `itscam run` with a temp config. `settings` maps section -> dict of keys (YAML written as JSON flow
    mappings, which YAML reads as they are). Keys this build does not know yet are dropped before start and
    listed in `unsupported`, so the cases that need them fail with that reason instead of the server not
    starting at all (the base commit predates most of the hardening settings)."""

    def __init__(self, name, itscam, work, settings, cameras, env=None, optional=()):
        self.name, self.itscam, self.work = name, itscam, work
        self.settings, self.cameras = settings, cameras
        self.env = dict(os.environ, **(env or {}))
        self.optional = set(optional)  # "section.key" that may be dropped when unknown
        self.unsupported, self.proc, self.port, self.scheme = [], None, None, "http"
        self.config_path = os.path.join(work, name + ".yaml")
        self.log_path = os.path.join(work, name + ".log")

    def _write(self):
        lines = []
        for sec, val in self.settings.items():
            lines.append("%s: %s" % (sec, json.dumps(val)))
        lines.append("cameras:")
        if not self.cameras:
            lines[-1] += " []"
        for c in self.cameras:
            lines.append("  - %s" % json.dumps(c))
        with open(self.config_path, "w") as f:
            f.write("\n".join(lines) + "\n")

    def _drop_unknown(self):
        """Runs --print-config until the build accepts the config, dropping unknown optional settings."""
        for _ in range(32):
            self._write()
            r = subprocess.run([self.itscam, "run", "--config", self.config_path, "--print-config"], env=self.env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=60)
            if r.returncode == 0:
                return
            err = r.stderr.decode("utf-8", "replace")
            m = re.search(r"unknown setting '([^']+)'", err)
            dropped = False
            if m:
                for sec, val in self.settings.items():
                    if isinstance(val, dict) and m.group(1) in val and "%s.%s" % (sec, m.group(1)) in self.optional:
                        del val[m.group(1)]
                        self.unsupported.append("%s.%s" % (sec, m.group(1)))
                        dropped = True
                        break
            if not dropped:
                raise RuntimeError("%s: itscam rejects the config: %s" % (self.name, err.strip()))
        raise RuntimeError("%s: too many unknown settings" % self.name)

    def supports(self, key):
        return key not in self.unsupported

    def start(self):
        self._drop_unknown()
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([self.itscam, "run", "--config", self.config_path, "--status-interval", "0"],
                                     stdout=self.log, stderr=subprocess.STDOUT, env=self.env, cwd=self.work)
        self.pid = self.proc.pid

    def wait_port(self, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = re.search(r"API on (https?)://[^:\s]+:(\d+)", self.read_log())
            if m:
                self.scheme, self.port = m.group(1), int(m.group(2))
                return self.port
            if self.proc.poll() is not None:
                raise RuntimeError("%s exited %s before serving:\n%s" % (self.name, self.proc.returncode,
                                                                         self.read_log()[-3000:]))
            time.sleep(0.05)
        raise RuntimeError("%s: no 'HTTP API on' line within %d s:\n%s" % (self.name, timeout, self.read_log()[-2000:]))

    def wait_ready(self, timeout=120, tls=None, headers=None):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            r = try_http(self.port, "GET", "/health/ready", tls=tls, headers=headers)
            if isinstance(r, Response) and r.status == 200:
                return
            if self.proc.poll() is not None:
                raise RuntimeError("%s exited %s while starting" % (self.name, self.proc.returncode))
            time.sleep(0.2)
        raise RuntimeError("%s not ready within %d s" % (self.name, timeout))

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def read_log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def stop(self, timeout=15):
        """SIGINT and wait (the clean drain); the exit status, or None when it had to be killed."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                self.log.close()
                return None
        self.log.close()
        return self.proc.returncode


class Probe:
    """The background health check: every 100 ms /health, /health/ready and /metrics on fresh connections from
    127.0.0.1 (hostile cases use other loopback addresses, so a per-client cap never hits the probe), each timed
    to its whole answer; every second the cameras' processed-frame total from /health/performance."""

    PATHS = ("/health", "/health/ready", "/metrics")

    def __init__(self, port, period=0.1, timeout=PROMPT_S):
        self.port, self.period, self.timeout = port, period, timeout
        self.samples = []  # (t, path, ms or None, status or error text)
        self.frames = []   # (t, frames_processed total)
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self._t.start()

    def _one(self, path):
        t = time.monotonic()
        r = try_http(self.port, "GET", path, timeout=self.timeout)
        ms = (time.monotonic() - t) * 1000.0
        if isinstance(r, Response):
            self.samples.append((t, path, ms, r.status))
            return r
        self.samples.append((t, path, None, r))
        return None

    def _run(self):
        next_frames = 0.0
        while not self._stop.is_set():
            t = time.monotonic()
            for p in self.PATHS:
                self._one(p)
            if t >= next_frames:
                next_frames = t + 1.0
                r = try_http(self.port, "GET", "/health/performance", timeout=self.timeout)
                if isinstance(r, Response) and r.status == 200:
                    try:
                        self.frames.append((t, sum(c.get("frames_processed", 0) for c in r.json()["cameras"])))
                    except (ValueError, KeyError, TypeError):
                        pass
            self._stop.wait(max(0.0, self.period - (time.monotonic() - t)))

    def stop(self):
        self._stop.set()
        self._t.join()

    def window(self, t0, t1):
        """Latency summary (answered requests) and failures within [t0, t1]."""
        s = [x for x in self.samples if t0 <= x[0] <= t1]
        ms = [x[2] for x in s if x[2] is not None]
        out = latency_summary(ms)
        out["failed"] = len(s) - len(ms)
        return out

    def longest_stall(self):
        """The longest time in seconds between two observed rises of the frame total."""
        rises, last = [], None
        for t, n in self.frames:
            if last is None or n > last:
                rises.append(t)
            last = n if last is None else max(last, n)
        if len(rises) < 2:
            return float("inf")
        return max(b - a for a, b in zip(rises, rises[1:]))


class Case:
    """A case: `fn(ctx, env)` records its checks on ctx. `group`: cases of one group run one after another
    ("rss" first and alone, the others in parallel with each other); `server`: the server it needs."""

    def __init__(self, name, group, server, fn):
        self.name, self.group, self.server, self.fn = name, group, server, fn


def auth(token):
    return {"Authorization": "Bearer " + token}


class Ctx:
    """One case's record: its checks (what, ok, expected, seen) and notes (numbers for the benchmarks)."""

    def __init__(self, name):
        self.name, self.checks, self.notes, self.error = name, [], {}, None
        self.t0 = self.t1 = 0.0

    def expect(self, ok, what, expected, seen):
        self.checks.append({"what": what, "ok": bool(ok), "expected": expected, "seen": str(seen)})
        return bool(ok)

    def note(self, key, value):
        self.notes[key] = value

    @property
    def ok(self):
        return self.error is None and bool(self.checks) and all(c["ok"] for c in self.checks)
