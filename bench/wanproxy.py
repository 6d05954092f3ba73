#!/usr/bin/env python3
"""A TCP proxy on 127.0.0.1 that makes loopback look like a WAN link.

    python3 bench/wanproxy.py LISTEN_PORT UPSTREAM_PORT [--delay-ms 25] [--rate BYTES_PER_S]

Every chunk read from either side is forwarded ``--delay-ms`` later (25 ms
each way: a 50 ms round trip, an ordinary WAN or a good cellular link), in
order. With ``--rate``, each connection's downstream direction (server to
client) is also held to that many bytes per second, as CDNs and many
servers cap each connection. It prints ``ready`` once it listens, and runs
until killed. Standard library only.
"""

from __future__ import annotations

import argparse
import asyncio
import time

CHUNK = 64 * 1024


async def pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float, rate: float) -> None:
    """Copies reader to writer, each chunk `delay` seconds after it was read,
    at most `rate` bytes per second (0: no cap)."""
    queue: asyncio.Queue = asyncio.Queue()

    async def read_side() -> None:
        while True:
            data = await reader.read(CHUNK)
            await queue.put((time.monotonic() + delay, data))
            if not data:
                return

    async def write_side() -> None:
        sent_at = time.monotonic()
        while True:
            due, data = await queue.get()
            wait = due - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            if not data:
                if writer.can_write_eof():
                    writer.write_eof()
                return
            writer.write(data)
            await writer.drain()
            if rate > 0:
                # Token bucket without burst: the next chunk leaves no earlier
                # than this one's share of a second after the last.
                sent_at = max(sent_at, time.monotonic() - 0.05) + len(data) / rate
                pause = sent_at - time.monotonic()
                if pause > 0:
                    await asyncio.sleep(pause)

    await asyncio.gather(read_side(), write_side())


async def serve(listen: int, upstream: int, delay: float, rate: float) -> None:
    async def handle(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            server_r, server_w = await asyncio.open_connection("127.0.0.1", upstream)
        except OSError:
            client_w.close()
            return
        try:
            await asyncio.gather(
                pump(client_r, server_w, delay, 0.0),
                pump(server_r, client_w, delay, rate),
            )
        except (ConnectionError, OSError):
            pass
        finally:
            for w in (client_w, server_w):
                w.close()

    server = await asyncio.start_server(handle, "127.0.0.1", listen, reuse_address=True)
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("listen", type=int)
    parser.add_argument("upstream", type=int)
    parser.add_argument("--delay-ms", type=float, default=25.0, help="one-way delay (default 25)")
    parser.add_argument("--rate", type=float, default=0.0, help="per-connection downstream bytes/s (default: none)")
    args = parser.parse_args()
    try:
        asyncio.run(serve(args.listen, args.upstream, args.delay_ms / 1000.0, args.rate))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
