"""The ceiling of the fan-out scenario: the same messages over bare asyncio sockets.

    .venv/bin/python -m bench.wire [--receivers 1000] [--events 1000] [--rate 100]

One process writes a message of eventd's size to every connection at a fixed rate, with no
HTTP, WebSocket framing, JSON or feed: a loop of `transport.write`, as eventd's direct writes
do. Another process reads them with a bare `asyncio.Protocol`. What this costs is what the
loopback TCP stack and the asyncio event loop cost on this machine, so the two processes'
CPU and latency are the floor under eventd's figures. Prints figures; never asserts.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import struct
import time
from typing import Any

from bench.fanout import delivery
from bench.ingest import cpu_seconds

SIZE = 300  # bytes: an eventd change message of the fan-out scenario, framed, is about this
_STAMP = struct.Struct("!d")


async def _send(
    receivers: int, events: int, rate: float, port: Any, go: Any, finished: Any
) -> None:
    transports: list[asyncio.Transport] = []
    connected = asyncio.Event()

    class Accept(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            assert isinstance(transport, asyncio.Transport)
            transports.append(transport)
            if len(transports) == receivers:
                connected.set()

    server = await asyncio.get_running_loop().create_server(Accept, "127.0.0.1", 0)
    port.put(server.sockets[0].getsockname()[1])
    await connected.wait()
    await asyncio.get_running_loop().run_in_executor(None, go.wait)
    start = time.time()
    for i in range(events):
        await asyncio.sleep(max(0.0, start + i / rate - time.time()))
        message = _STAMP.pack(time.time()).ljust(SIZE, b" ")
        for transport in transports:
            transport.write(message)
    # Stay until everything is read: what the kernel has not taken yet is still to write.
    await asyncio.get_running_loop().run_in_executor(None, finished.wait)
    server.close()


def _sender(receivers: int, events: int, rate: float, port: Any, go: Any, finished: Any) -> None:
    asyncio.run(_send(receivers, events, rate, port, go, finished))


async def _receive(port: int, receivers: int, events: int, ready: Any, out: Any) -> None:
    latencies: list[float] = []
    last = [0.0]
    expected = receivers * events
    done = asyncio.Event()

    class Receive(asyncio.Protocol):
        def __init__(self) -> None:
            self.buffer = b""

        def data_received(self, data: bytes) -> None:
            now = time.time()
            buffer = self.buffer + data
            whole = len(buffer) - len(buffer) % SIZE
            for at in range(0, whole, SIZE):
                latencies.append(now - _STAMP.unpack_from(buffer, at)[0])
            self.buffer = buffer[whole:]
            last[0] = now
            if len(latencies) >= expected:
                done.set()

    loop = asyncio.get_running_loop()
    for _ in range(receivers):
        await loop.create_connection(Receive, "127.0.0.1", port)
    ready.set()
    await done.wait()
    out.put((latencies, last[0]))


def _receiver(port: int, receivers: int, events: int, ready: Any, out: Any) -> None:
    asyncio.run(_receive(port, receivers, events, ready, out))


def run_wire(receivers: int, events: int, rate: float) -> dict[str, float]:
    """Send `events` messages at `rate` to `receivers` bare connections; return the figures."""
    port: Any = multiprocessing.Queue()
    out: Any = multiprocessing.Queue()
    go, ready, finished = (multiprocessing.Event() for _ in range(3))
    sender = multiprocessing.Process(
        target=_sender, args=(receivers, events, rate, port, go, finished)
    )
    sender.start()
    receiver = multiprocessing.Process(
        target=_receiver, args=(port.get(timeout=30), receivers, events, ready, out)
    )
    receiver.start()
    ready.wait(120)
    pids = [pid for pid in (sender.pid, receiver.pid) if pid is not None]
    before = [cpu_seconds(pid) for pid in pids]
    start = time.time()
    go.set()
    latencies, last = out.get(timeout=600)
    cpu = [cpu_seconds(pid) - was for pid, was in zip(pids, before, strict=True)]
    finished.set()
    sender.join()
    receiver.join()
    seconds = last - start
    return delivery(latencies, seconds) | {
        "sender_cpu_pct": 100 * cpu[0] / seconds,
        "receiver_cpu_pct": 100 * cpu[1] / seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--receivers", type=int, default=1000)
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=100.0, help="messages/s to each receiver")
    args = parser.parse_args()
    figures = run_wire(args.receivers, args.events, args.rate)
    print(f"{args.receivers} receivers, {args.events} messages each at {args.rate:g}/s")
    print(f"{figures['messages_per_s']:,.0f} messages/s delivered")
    print(
        f"send-to-receipt latency: p50 {figures['p50_ms']:.1f} ms, p99 {figures['p99_ms']:.1f} ms"
    )
    print(
        f"CPU: sender {figures['sender_cpu_pct']:.0f} %, "
        f"receiver {figures['receiver_cpu_pct']:.0f} % of one core"
    )


if __name__ == "__main__":
    main()
