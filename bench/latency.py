"""A TCP relay that holds every chunk for a while each way: the counters' line to the county's server
(a township's link, not the loopback), for bench_server.py. Runs in a thread of the bench's process.

    with DelayedRelay("127.0.0.1", 5432, round_trip_ms=2) as relay:
        url = f"postgresql://user@127.0.0.1:{relay.port}/db"
"""

from __future__ import annotations

import asyncio
import threading
import time


class DelayedRelay:
    def __init__(self, host: str, port: int, round_trip_ms: float):
        self.target = (host, port)
        self.one_way = round_trip_ms / 2000
        self.port = 0
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "DelayedRelay":
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *exc) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def _run(self) -> None:
        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(asyncio.start_server(self._client, "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()
        server.close()
        self._loop.set_exception_handler(lambda loop, context: None)  # connections cut at the end are expected
        pending = asyncio.all_tasks(self._loop)
        for task in pending:
            task.cancel()
        self._loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        self._loop.close()

    async def _client(self, reader, writer) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.target)
        await asyncio.gather(self._pump(reader, up_writer), self._pump(up_reader, writer), return_exceptions=True)

    async def _pump(self, reader, writer) -> None:
        """Bytes from ``reader`` to ``writer``, each chunk ``one_way`` later than it came, in order."""
        queue: asyncio.Queue = asyncio.Queue()

        async def deliver() -> None:
            while True:
                due, chunk = await queue.get()
                if chunk is None:
                    break
                wait = due - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                writer.write(chunk)
                await writer.drain()
            writer.close()

        sender = asyncio.ensure_future(deliver())
        try:
            while chunk := await reader.read(65536):
                queue.put_nowait((time.monotonic() + self.one_way, chunk))
        finally:
            queue.put_nowait((0, None))
            await sender
