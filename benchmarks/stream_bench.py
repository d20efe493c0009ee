"""Change stream under load: N WebSocket subscribers, M changes per second for S seconds.

    python benchmarks/stream_bench.py                # 1,000 subscribers, 1,000 changes/s, 30 s
    python benchmarks/stream_bench.py --batch        # the same with {"batch": true}
    python benchmarks/stream_bench.py --quick        # 100 subscribers, 1,000 changes/s, 5 s
    python benchmarks/stream_bench.py --search       # largest rate with p99 < 50 ms, none lost
    python benchmarks/stream_bench.py --quick --url postgresql://postgres@127.0.0.1/postgres
                                                     # the same on a fresh PostgreSQL database
    python benchmarks/stream_bench.py --url postgresql://postgres@127.0.0.1/postgres \
        --servers 3 --subscribers 300 --writers 4 --target-ms 100
                                                     # several servers on one database

Three kinds of process: the servers (``chronodb serve``; several only on PostgreSQL, where
each hears every commit), the writers (one transaction per change, each through its own
ChronoDB connection, as other programs would write; the rate is shared between them) and a
few subscriber processes, each holding many connections spread over the servers. The
subscribers speak just enough WebSocket to count events and time them (no JSON parsing, no
compression) so that the client side costs as little CPU as possible: on a small machine it
shares the cores with the servers.

Prints the events lost (every subscriber of every server should receive every change) and
the commit-to-delivery latency (receive time minus the event's ``tx_time``, every change of
every tenth subscriber; same machine, same clock), and the servers' CPU time, hence what one
server core sends per second.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import multiprocessing as mp
import os
import re
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
from pgdatabase import fresh_database

# Writer k of w writes the ids k, k + w, k + 2w... at rate / w changes per second.
WRITER = r"""
import sys, time
from chronodb import ChronoDB
db = ChronoDB(sys.argv[1], user="bench")
rate, seconds = float(sys.argv[2]), float(sys.argv[3])
first, step = int(sys.argv[4]), int(sys.argv[5])
start = time.perf_counter()
n = 0
while True:
    elapsed = time.perf_counter() - start
    if elapsed >= seconds:
        break
    due = int(elapsed * rate) + 1
    while n < due:
        key = first + n * step
        db.execute("INSERT INTO orders (id, status, total) VALUES (?, 'new', ?)", (key, key * 1.5))
        n += 1
    time.sleep(0.0005)
print(n, time.perf_counter() - start)
"""

QUIET = ("--log-level", "warning")
TX_TIME = re.compile(rb'"tx_time":([-+0-9.eE]+)')
DATA_CHANGE = b'{"type":"data_change'
PAYLOAD_START = b'{"type":"'
TARGET_P99 = 0.050  # seconds; --target-ms sets another


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def raise_fd_limit(need: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(need, soft)), hard))


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------- a minimal subscriber
def _frame(opcode: int, payload: bytes) -> bytes:
    """A masked client frame (the mask is zero: the bytes stay as they are)."""
    n = len(payload)
    if n < 126:
        head = bytes((0x80 | opcode, 0x80 | n))
    elif n < 65536:
        head = bytes((0x80 | opcode, 0x80 | 126)) + n.to_bytes(2, "big")
    else:
        head = bytes((0x80 | opcode, 0x80 | 127)) + n.to_bytes(8, "big")
    return head + b"\0\0\0\0" + payload


class Subscriber(asyncio.Protocol):
    """One WebSocket connection that subscribes and counts the changes it receives."""

    def __init__(
        self, port: int, subscribe: bytes, batch: bool, sample: bool, ready: asyncio.Future
    ) -> None:
        self.port, self.subscribe, self.sample, self.ready = port, subscribe, sample, ready
        self.single = not batch
        self.buf = bytearray()
        self.upgraded = False
        self.changes = self.messages = 0
        self.latencies: list[float] = []
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        key = base64.b64encode(os.urandom(16)).decode()
        transport.write(
            f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n".encode()
        )

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if not self.ready.done():
            self.ready.set_exception(ConnectionError("closed before subscribing"))

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        if not self.upgraded:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            if not buf.startswith(b"HTTP/1.1 101"):
                raise ConnectionError(bytes(buf[:end]).decode())
            del buf[: end + 4]
            self.upgraded = True
            self.transport.write(_frame(1, self.subscribe))
        if self.single and self.ready.done() and 0x89 not in buf and self._count_run(buf):
            return
        self._walk(buf)

    def _count_run(self, buf: bytearray) -> bool:
        """Count a run of one-change frames with a few C-level scans; False: walk it instead.

        A thousand subscribers receive a million frames a second here, on the cores the server
        uses too, so the common case must not cost Python work per frame. Every frame of a
        single-change stream is a text frame whose payload starts with ``{"type":"``, so the
        last such start and its header tell where the complete frames end. Anything else (a
        ping, whose 0x89 byte cannot occur in JSON text, or a header that does not check out)
        is walked frame by frame.
        """
        size = len(buf)
        start = buf.rfind(PAYLOAD_START)
        if start < 0:
            return size < 4  # at most part of one frame's header
        if start >= 2 and buf[start - 2] == 0x81 and buf[start - 1] < 126:
            head, n = start - 2, buf[start - 1]
        elif start >= 4 and buf[start - 4] == 0x81 and buf[start - 3] == 126:
            head, n = start - 4, (buf[start - 2] << 8) | buf[start - 1]
        else:
            return False
        end = start + n if start + n <= size else head
        if end:
            changes = buf.count(DATA_CHANGE, 0, end)
            if changes != buf.count(PAYLOAD_START, 0, end):
                return False  # some other message among them: walk
            self.changes += changes
            self.messages += changes
            if self.sample:
                now = time.time()
                self.latencies.extend(now - float(t) for t in TX_TIME.findall(buf, 0, end))
            del buf[:end]
        return True

    def _walk(self, buf: bytearray) -> None:
        now = time.time()
        pos, size = 0, len(buf)
        # Frame headers are walked in place; only control messages and the sampled
        # subscribers' events are copied out.
        while size - pos >= 2:
            opcode, n = buf[pos] & 0x0F, buf[pos + 1] & 0x7F
            head = 2
            if n == 126:
                if size - pos < 4:
                    break
                n, head = (buf[pos + 2] << 8) | buf[pos + 3], 4
            elif n == 127:
                if size - pos < 10:
                    break
                n, head = int.from_bytes(buf[pos + 2 : pos + 10], "big"), 10
            start = pos + head
            end = start + n
            if end > size:
                break
            pos = end
            if opcode == 1:
                if buf.startswith(DATA_CHANGE, start):
                    self.messages += 1
                    if buf[start + 20] == 0x73:  # data_changes: a batch
                        self.changes += buf.count(b'"tx_id":', start, end)
                    else:
                        self.changes += 1
                    if self.sample:
                        times = TX_TIME.findall(buf, start, end)
                        self.latencies.extend(now - float(t) for t in times)
                else:
                    self._control(bytes(buf[start:end]))
            elif opcode == 9:
                self.transport.write(_frame(10, bytes(buf[start:end])))
            elif opcode == 8:
                self.closed = True
        del buf[:pos]

    def _control(self, payload: bytes) -> None:
        if not self.ready.done():
            answer = json.loads(payload)
            if answer.get("type") == "subscribed":
                self.ready.set_result(None)
            else:
                self.ready.set_exception(ConnectionError(str(answer)))


async def _clients(ports: list[int], first: int, count: int, batch: bool, pipe) -> None:
    loop = asyncio.get_running_loop()
    message = {"type": "subscribe", "table": "orders"} | ({"batch": True} if batch else {})
    subscribe = json.dumps(message).encode()
    subs: list[Subscriber] = []
    for i in range(first, first + count):
        port = ports[i % len(ports)]  # subscriber i of the run: server i mod n
        sub = Subscriber(port, subscribe, batch, i % 10 == 0, loop.create_future())
        await loop.create_connection(lambda sub=sub: sub, "127.0.0.1", port)
        subs.append(sub)
    await asyncio.wait_for(asyncio.gather(*(s.ready for s in subs)), 120)
    pipe.send("ready")
    while not pipe.poll():
        await asyncio.sleep(0.05)
    expect, deadline = pipe.recv()
    while time.time() < deadline and any(s.changes < expect and not s.closed for s in subs):
        await asyncio.sleep(0.05)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    pipe.send(
        (
            [s.changes for s in subs],
            [s.messages for s in subs],
            [x for s in subs for x in s.latencies],
            usage.ru_utime + usage.ru_stime,
        )
    )
    for s in subs:
        s.transport.close()


def _client_process(ports: list[int], first: int, count: int, batch: bool, pipe) -> None:
    asyncio.run(_clients(ports, first, count, batch, pipe))


def dispatch_lag(metrics: str) -> tuple[float, float]:
    """Upper bounds of the p50 and p99 round of the server's dispatch-lag histogram (s)."""
    buckets = [
        (float(le), float(n))
        for le, n in re.findall(r'dispatch_lag_seconds_bucket\{le="([^"]+)"\} (\S+)', metrics)
    ]
    total = buckets[-1][1] if buckets else 0.0

    def bound(q: float) -> float:
        return next((le for le, n in buckets if n >= q * total), float("nan")) if total else 0.0

    return bound(0.5), bound(0.99)


# ---------------------------------------------------------------- one run
@dataclass
class Setup:
    """What one run is asked for: ``subscribers`` on each of ``servers``, ``writers``
    sharing ``rate``."""

    subscribers: int
    rate: float
    seconds: float
    batch: bool
    clients: int
    drain: float
    servers: int = 1
    writers: int = 1
    target: float = TARGET_P99


@dataclass
class Outcome:
    setup: Setup
    written: int = 0
    expected: int = 0
    received: int = 0
    messages: int = 0
    p50: float = float("nan")
    p99: float = float("nan")
    worst: float = float("nan")
    server_cpu: float = 0.0
    lag50: float = float("nan")  # the server's share: commit to the end of its round
    lag99: float = float("nan")  # (the slowest server's, with several)
    client_cpu: float = 0.0
    wall: float = 0.0

    @property
    def lost(self) -> int:
        return self.expected - self.received

    @property
    def ok(self) -> bool:
        return self.lost == 0 and self.p99 < self.setup.target

    def report(self) -> str:
        setup = self.setup
        mode = "batch" if setup.batch else "one message per change"
        servers = (
            f"{setup.servers} servers x {setup.subscribers} subscribers"
            if setup.servers > 1
            else f"{setup.subscribers} subscribers"
        )
        return (
            f"{servers} x {setup.rate:g} changes/s ({setup.writers} writer(s)) x "
            f"{setup.seconds:g} s, "
            f"{mode}: wrote {self.written}; events expected {self.expected}, received "
            f"{self.received}, lost {self.lost}; {self.messages} WebSocket messages\n"
            f"  latency p50 {self.p50 * 1000:.1f} ms, p99 {self.p99 * 1000:.1f} ms, "
            f"max {self.worst * 1000:.1f} ms; of which the server (commit to the end of the "
            f"round that offered it to every subscriber, by the server's histogram): "
            f"p50 <= {self.lag50 * 1000:g} ms, "
            f"p99 <= {self.lag99 * 1000:g} ms\n"
            f"  server CPU (all servers) {self.server_cpu:.1f} s over {self.wall:.1f} s: "
            f"{self.received / max(self.server_cpu, 1e-9):,.0f} events and "
            f"{self.messages / max(self.server_cpu, 1e-9):,.0f} messages per server CPU second; "
            f"subscriber processes' CPU {self.client_cpu:.1f} s"
        )


@contextlib.contextmanager
def database(tmp: Path, server_url: str | None) -> Iterator[str]:
    """A file in ``tmp``, or a fresh database on the PostgreSQL server ``server_url``."""
    if server_url is None:
        yield str(tmp / "bench.db")
        return
    with fresh_database(server_url) as url:
        yield url


def run_once(setup: Setup, server_url: str | None = None) -> Outcome:
    tmp = Path(tempfile.mkdtemp(prefix="chronodb-stream-bench-"))
    with database(tmp, server_url) as location:
        return _run_once(tmp, location, setup)


def _start_server(tmp: Path, db_path: str, index: int) -> tuple[subprocess.Popen, int]:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "chronodb", "serve", str(db_path), "--port", str(port), *QUIET],
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.DEVNULL,
        # once clients hang up, asyncio logs every send
        stderr=(tmp / f"server{index}.log").open("w"),
    )
    return server, port


def _wait_ready(port: int) -> None:
    for _ in range(200):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.05)


def _write(db_path: str, setup: Setup) -> int:
    """Run the writers at once; the changes they wrote in all."""
    share = str(setup.rate / setup.writers)
    seconds, step = str(setup.seconds), str(setup.writers)
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, db_path, share, seconds, str(k), step],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for k in range(setup.writers)
    ]
    written = 0
    for writer in writers:
        stdout, stderr = writer.communicate()
        if writer.returncode != 0:
            raise RuntimeError(f"a writer failed:\n{stderr}")
        written += int(stdout.split()[0])
    return written


def _run_once(tmp: Path, db_path: str, setup: Setup) -> Outcome:
    total = setup.subscribers * setup.servers
    raise_fd_limit(total + 200)
    from chronodb import ChronoDB

    with ChronoDB(db_path) as db:
        db.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, status TEXT, total REAL)")
    started = [_start_server(tmp, db_path, i) for i in range(setup.servers)]
    servers = [server for server, _ in started]
    ports = [port for _, port in started]
    out = Outcome(setup)
    procs, pipes = [], []
    try:
        for port in ports:
            _wait_ready(port)
        ctx = mp.get_context("fork")
        share = -(-total // setup.clients)
        for first in range(0, total, share):
            ours, theirs = ctx.Pipe()
            count = min(share, total - first)
            proc = ctx.Process(
                target=_client_process, args=(ports, first, count, setup.batch, theirs)
            )
            proc.start()
            procs.append(proc)
            pipes.append(ours)
        for pipe in pipes:
            if not pipe.poll(120) or pipe.recv() != "ready":
                raise RuntimeError("subscribers did not connect")
        cpu0 = sum(cpu_seconds(server.pid) for server in servers)
        t0 = time.monotonic()
        out.written = _write(db_path, setup)
        drain = setup.drain
        for pipe in pipes:
            pipe.send((out.written, time.time() + drain))
        latencies: list[float] = []
        for pipe in pipes:
            counts, messages, lat, cpu = pipe.recv()
            out.received += sum(min(c, out.written) for c in counts)
            out.messages += sum(messages)
            latencies += lat
            out.client_cpu += cpu
        out.server_cpu = sum(cpu_seconds(server.pid) for server in servers) - cpu0
        lags = [dispatch_lag(httpx.get(f"http://127.0.0.1:{port}/metrics").text) for port in ports]
        out.lag50, out.lag99 = max(lag[0] for lag in lags), max(lag[1] for lag in lags)
        out.wall = time.monotonic() - t0
        out.expected = out.written * total
        if latencies:
            latencies.sort()
            out.p50 = statistics.median(latencies)
            out.p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
            out.worst = latencies[-1]
    finally:
        for proc in procs:
            proc.join(10)
            if proc.is_alive():
                proc.kill()
        for server in servers:
            server.terminate()
        for server in servers:
            try:
                server.wait(10)
            except subprocess.TimeoutExpired:  # still sending a backlog to closed connections
                server.kill()
                server.wait()
    return out


RATES = (10, 20, 50, 100, 200, 300, 500, 700, 1000, 1500, 2000, 3000)


def search(args: argparse.Namespace) -> None:
    """The largest rate of RATES that meets the target, for each configuration."""
    rows = []
    for subscribers in (1000, 100):
        for batch in (False, True):
            best: Outcome | None = None
            for rate in RATES:
                setup = Setup(subscribers, rate, args.seconds, batch, args.clients, args.drain)
                try:
                    out = run_once(setup)
                except RuntimeError as err:
                    print(f"{subscribers} x {rate:g}/s: {err}", flush=True)
                    break
                print(out.report(), flush=True)
                if not out.ok:
                    break
                best = out
            rows.append((subscribers, batch, best))
    print(
        f"\nLargest rate with nothing lost and p99 < {TARGET_P99 * 1000:.0f} ms "
        f"({args.seconds:g} s per run, rates tried: {', '.join(map(str, RATES))}):"
    )
    print(
        f"{'subscribers':>11} {'mode':>7} {'changes/s':>9} {'events/s':>9} "
        f"{'p50 ms':>7} {'p99 ms':>7} {'msgs/srv-CPU-s':>14}"
    )
    for subscribers, batch, best in rows:
        mode = "batch" if batch else "single"
        if best is None:
            print(f"{subscribers:>11} {mode:>7} {'none':>9}")
            continue
        rate = best.setup.rate
        print(
            f"{subscribers:>11} {mode:>7} {rate:>9g} {rate * subscribers:>9,.0f} "
            f"{best.p50 * 1000:>7.1f} {best.p99 * 1000:>7.1f} "
            f"{best.messages / max(best.server_cpu, 1e-9):>14,.0f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=None, help="on each server")
    parser.add_argument("--rate", type=float, default=1000.0, help="changes per second")
    parser.add_argument("--seconds", type=float, default=None)
    parser.add_argument("--batch", action="store_true", help='subscribe with "batch": true')
    parser.add_argument("--clients", type=int, default=2, help="subscriber processes")
    parser.add_argument("--drain", type=float, default=15.0, help="max wait after writing")
    parser.add_argument("--quick", action="store_true", help="100 subscribers for 5 s")
    parser.add_argument("--search", action="store_true", help="find the largest rate per setup")
    parser.add_argument("--url", default=None, help="serve a fresh database on this PostgreSQL")
    parser.add_argument("--servers", type=int, default=1, help="servers (PostgreSQL: --url)")
    parser.add_argument("--writers", type=int, default=1, help="writer processes sharing --rate")
    parser.add_argument("--target-ms", type=float, default=TARGET_P99 * 1000, help="p99 target")
    args = parser.parse_args()
    if args.servers > 1 and args.url is None:
        parser.error("--servers: several servers share one database on PostgreSQL (--url)")
    if args.search:
        args.seconds = args.seconds or 5.0
        search(args)
        return
    if args.subscribers is None:
        args.subscribers = 100 if args.quick else 1000
    if args.seconds is None:
        args.seconds = 5.0 if args.quick else 30.0
    setup = Setup(
        args.subscribers,
        args.rate,
        args.seconds,
        args.batch,
        args.clients,
        args.drain,
        servers=args.servers,
        writers=args.writers,
        target=args.target_ms / 1000,
    )
    out = run_once(setup, args.url)
    print(out.report())
    rate = out.written / setup.seconds
    print(f"  changes written per second: {rate:,.0f} (asked for {setup.rate:g})")
    verdict = "meets" if out.ok else "misses"
    print(f"{verdict} the target (p99 < {args.target_ms:g} ms, nothing lost)")


if __name__ == "__main__":
    main()
