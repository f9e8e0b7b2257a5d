"""Load generators: wrk with a Lua script of pre-built requests, or a Python fallback.

Requests are built before the run (JWTs pre-signed with a long ``exp``, each with the ``qsh`` of
its own request), so the generator spends nothing on signing while it measures. wrk is used when
it is installed (``apt-get install wrk``); otherwise processes of threads with keep-alive
connections do the same job, more slowly.
"""

from __future__ import annotations

import http.client
import json
import multiprocessing
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    target: str  # path and query, exactly as sent
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None


@dataclass
class LoadResult:
    generator: str
    duration_s: float
    connections: int
    requests: int
    errors: int  # non-2xx/3xx answers, plus socket errors and timeouts
    rps: float
    p50_ms: float
    p99_ms: float
    max_ms: float

    def to_json(self) -> dict[str, Any]:
        return {k: round(v, 3) if isinstance(v, float) else v for k, v in asdict(self).items()}


def wrk_path() -> str | None:
    return shutil.which("wrk")


def ensure_wrk() -> str | None:
    """Find wrk, installing it with apt-get when that is possible (root on Debian/Ubuntu)."""
    found = wrk_path()
    if found or not shutil.which("apt-get"):
        return found
    import os

    if os.geteuid() != 0:
        return None
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "wrk"],
        check=False,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return wrk_path()


def run(
    base_url: str,
    requests: list[Request],
    *,
    duration: float,
    connections: int = 32,
    threads: int = 2,
    use_wrk: bool = True,
) -> LoadResult:
    """Send ``requests`` round-robin for ``duration`` seconds and measure."""
    if use_wrk and wrk_path():
        return _run_wrk(base_url, requests, duration, connections, threads)
    return _run_python(base_url, requests, duration, connections, threads)


# ── wrk ────────────────────────────────────────────────────────────────────────────────────────


def _lua_str(value: str | bytes) -> str:
    raw = value.encode() if isinstance(value, str) else value
    out = []
    for b in raw:
        ch = chr(b)
        if ch in '"\\' or not 32 <= b < 127:
            out.append(f"\\{b:03d}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


_LUA_TAIL = r"""
local reqs = {}
local i = 0
function init(args)
  for _, s in ipairs(specs) do
    table.insert(reqs, wrk.format(s[1], s[2], s[3], s[4]))
  end
  i = math.random(#reqs)
end
function request()
  i = i + 1
  if i > #reqs then i = 1 end
  return reqs[i]
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "WRKJSON {\"requests\":%d,\"duration_us\":%d,\"status\":%d,\"connect\":%d,\"read\":%d," ..
    "\"write\":%d,\"timeout\":%d,\"p50\":%d,\"p99\":%d,\"max\":%d}\n",
    summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
"""


def _lua_script(requests: list[Request]) -> str:
    lines = ["specs = {"]
    for r in requests:
        headers = ", ".join(f"[{_lua_str(k)}] = {_lua_str(v)}" for k, v in r.headers.items())
        body = _lua_str(r.body) if r.body is not None else "nil"
        lines.append(f"  {{{_lua_str(r.method)}, {_lua_str(r.target)}, {{{headers}}}, {body}}},")
    lines.append("}")
    return "\n".join(lines) + _LUA_TAIL


def _run_wrk(
    base_url: str, requests: list[Request], duration: float, connections: int, threads: int
) -> LoadResult:
    return run_script(
        base_url, _lua_script(requests), duration=duration, connections=connections, threads=threads
    )


def run_script(
    base_url: str, lua: str, *, duration: float, connections: int = 32, threads: int = 2
) -> LoadResult:
    """Run wrk with a Lua script whose ``done`` prints the WRKJSON line of ``_LUA_TAIL``."""
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "requests.lua"
        script.write_text(lua)
        proc = subprocess.run(
            [
                "wrk",
                f"-t{threads}",
                f"-c{connections}",
                f"-d{max(1, round(duration))}s",
                "--timeout",
                "10s",
                "-s",
                str(script),
                base_url,
            ],
            capture_output=True,
            text=True,
            check=True,
        )
    return _wrk_result(proc.stdout, connections, threads)


def run_script_until(
    base_url: str,
    lua: str,
    finished: Callable[[], bool],
    *,
    connections: int = 32,
    threads: int = 2,
    limit: float = 3600,
) -> LoadResult:
    """Run wrk with a Lua script until ``finished()`` (polled), then stop it as Ctrl-C does:
    wrk then prints its summary for the time it ran, so the rate is not diluted by waiting."""
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "requests.lua"
        script.write_text(lua)
        command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{round(limit)}s"]
        proc = subprocess.Popen(
            [*command, "--timeout", "10s", "-s", str(script), base_url],
            stdout=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + limit
        while proc.poll() is None and not finished() and time.monotonic() < deadline:
            time.sleep(0.5)
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
        stdout, _ = proc.communicate(timeout=60)
    return _wrk_result(stdout, connections, threads)


def _wrk_result(stdout: str, connections: int, threads: int) -> LoadResult:
    line = next(x for x in stdout.splitlines() if x.startswith("WRKJSON "))
    data = json.loads(line.removeprefix("WRKJSON "))
    seconds = data["duration_us"] / 1e6
    errors = sum(data[k] for k in ("status", "connect", "read", "write", "timeout"))
    return LoadResult(
        generator=f"wrk -t{threads} -c{connections}",
        duration_s=seconds,
        connections=connections,
        requests=data["requests"],
        errors=errors,
        rps=data["requests"] / seconds,
        p50_ms=data["p50"] / 1000,
        p99_ms=data["p99"] / 1000,
        max_ms=data["max"] / 1000,
    )


# ── Python fallback ────────────────────────────────────────────────────────────────────────────


def _worker(
    host: str,
    port: int,
    requests: list[Request],
    deadline: float,
    connections: int,
    offset: int,
    out: Any,
) -> None:
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()

    def loop(n: int) -> None:
        conn = http.client.HTTPConnection(host, port, timeout=10)
        i = (offset + n) % len(requests)
        mine: list[float] = []
        failed = 0
        while time.monotonic() < deadline:
            r = requests[i]
            i = (i + 1) % len(requests)
            start = time.perf_counter()
            try:
                conn.request(r.method, r.target, body=r.body, headers=r.headers)
                response = conn.getresponse()
                response.read()
                if response.status >= 400:
                    failed += 1
            except (OSError, http.client.HTTPException):
                failed += 1
                conn.close()
                conn = http.client.HTTPConnection(host, port, timeout=10)
                continue
            mine.append(time.perf_counter() - start)
        conn.close()
        with lock:
            latencies.extend(mine)
            errors[0] += failed

    pool = [threading.Thread(target=loop, args=(n,)) for n in range(connections)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    out.put((latencies, errors[0]))


def _percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return 0.0
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


def _run_python(
    base_url: str, requests: list[Request], duration: float, connections: int, processes: int
) -> LoadResult:
    parts = urlsplit(base_url)
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    started = time.monotonic()
    deadline = started + duration
    per = max(1, connections // processes)
    procs = [
        ctx.Process(
            target=_worker,
            args=(parts.hostname, parts.port, requests, deadline, per, n * per, out),
        )
        for n in range(processes)
    ]
    for p in procs:
        p.start()
    latencies: list[float] = []
    errors = 0
    for _ in procs:
        lat, err = out.get()
        latencies.extend(lat)
        errors += err
    for p in procs:
        p.join()
    elapsed = time.monotonic() - started
    latencies.sort()
    return LoadResult(
        generator=f"python {processes}x{per}",
        duration_s=elapsed,
        connections=per * processes,
        requests=len(latencies),
        errors=errors,
        rps=len(latencies) / elapsed,
        p50_ms=_percentile(latencies, 0.50) * 1000,
        p99_ms=_percentile(latencies, 0.99) * 1000,
        max_ms=(latencies[-1] * 1000) if latencies else 0.0,
    )
