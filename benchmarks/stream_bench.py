"""Change stream under load: N WebSocket subscribers, M changes per second for S seconds.

    python benchmarks/stream_bench.py            # 1,000 subscribers, 1,000 changes/s, 30 s
    python benchmarks/stream_bench.py --quick    # 100 subscribers, 1,000 changes/s, 5 s

The server (``chronodb serve``) and the writer (one transaction per change, through its own
ChronoDB connection, as another program would write) run as separate processes; the
subscribers share this one. Prints the events lost and the commit-to-delivery latency
(receive time minus the event's ``tx_time``; same machine, same clock).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import websockets

WRITER = r"""
import sys, time
from chronodb import ChronoDB
db = ChronoDB(sys.argv[1], user="bench")
rate, seconds = float(sys.argv[2]), float(sys.argv[3])
start = time.perf_counter()
n = 0
while True:
    elapsed = time.perf_counter() - start
    if elapsed >= seconds:
        break
    due = int(elapsed * rate) + 1
    while n < due:
        db.execute("INSERT INTO orders (id, status, total) VALUES (?, 'new', ?)", (n, n * 1.5))
        n += 1
    time.sleep(0.0005)
print(n, time.perf_counter() - start)
"""


QUIET = ("--log-level", "warning")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def raise_fd_limit(need: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(need, soft)), hard))


async def subscriber(url: str, ready: asyncio.Event, counts: list[int], lat: list[float], i: int):
    async with websockets.connect(url, max_queue=None, open_timeout=30) as ws:
        await ws.send(json.dumps({"type": "subscribe", "table": "orders"}))
        json.loads(await ws.recv())
        ready.set()
        sample = i % 10 == 0  # latency from every tenth subscriber keeps the client light
        async for message in ws:
            now = time.time()
            if sample:
                lat.append(now - json.loads(message)["tx_time"])
            counts[i] += 1


async def run(args: argparse.Namespace) -> None:
    raise_fd_limit(args.subscribers + 100)
    tmp = Path(tempfile.mkdtemp(prefix="chronodb-stream-bench-"))
    db_path = tmp / "bench.db"
    from chronodb import ChronoDB

    with ChronoDB(db_path) as db:
        db.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, status TEXT, total REAL)")
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "chronodb", "serve", str(db_path), "--port", str(port), *QUIET],
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        async with httpx.AsyncClient() as http:
            for _ in range(200):
                try:
                    if (await http.get(f"http://127.0.0.1:{port}/health")).status_code == 200:
                        break
                except httpx.TransportError:
                    await asyncio.sleep(0.05)
        url = f"ws://127.0.0.1:{port}/ws"
        counts = [0] * args.subscribers
        latencies: list[float] = []
        readies = [asyncio.Event() for _ in range(args.subscribers)]
        tasks = []
        t0 = time.perf_counter()
        for i in range(args.subscribers):
            tasks.append(asyncio.create_task(subscriber(url, readies[i], counts, latencies, i)))
            if i % 50 == 49:
                await asyncio.sleep(0.01)  # do not overrun the listen backlog
        await asyncio.wait_for(asyncio.gather(*(r.wait() for r in readies)), 120)
        print(f"{args.subscribers} subscribers connected in {time.perf_counter() - t0:.1f} s")

        writer = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            WRITER,
            str(db_path),
            str(args.rate),
            str(args.seconds),
            stdout=asyncio.subprocess.PIPE,
        )
        out, _ = await writer.communicate()
        written, took = out.split()
        written = int(written)
        print(f"writer: {written} changes in {float(took):.1f} s ({written / float(took):.0f}/s)")
        expected = written * args.subscribers
        deadline = time.monotonic() + args.drain
        while sum(counts) < expected and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        drained = time.monotonic() - (deadline - args.drain)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        server.terminate()
        server.wait(10)

    received = sum(counts)
    lost = expected - received
    closed_short = sum(1 for c in counts if c < written)
    print(
        f"events expected {expected}, received {received}, lost {lost} "
        f"({closed_short} subscribers short); drained {drained:.1f} s after the writer stopped"
    )
    if latencies:
        ordered = sorted(latencies)
        p50 = statistics.median(ordered)
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
        print(
            f"commit-to-delivery latency over {len(ordered)} samples: "
            f"p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms, max {ordered[-1] * 1000:.1f} ms"
        )
    print(f"delivered {received / (args.seconds + drained):.0f} events/s to subscribers")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=None)
    parser.add_argument("--rate", type=float, default=1000.0, help="changes per second")
    parser.add_argument("--seconds", type=float, default=None)
    parser.add_argument("--drain", type=float, default=30.0, help="max wait after writing")
    parser.add_argument("--quick", action="store_true", help="100 subscribers for 5 s")
    args = parser.parse_args()
    if args.subscribers is None:
        args.subscribers = 100 if args.quick else 1000
    if args.seconds is None:
        args.seconds = 5.0 if args.quick else 30.0
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
