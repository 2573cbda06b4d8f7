#!/usr/bin/env python3
"""One run of the mirror benchmark (bench/mirror_bench.sh runs it): against a broker
already listening on --port with JetStream on and an empty store, fills a file stream O with
--count messages of --size bytes (nats-py, acknowledged publishes in windows of 1000), then
creates a mirror M of it and times how long until M holds the last one (stream info polled
every 5 ms). Prints one JSON line: {"count":..,"size":..,"catchup_s":..}. The client only
fills and polls: the time measured is the servers' own mirroring (consumer create, the
origin's deliveries with flow control, the mirror's stores and, on ionats by default, its
fdatasyncs)."""
import argparse
import asyncio
import json
import sys
import time

import nats


async def run(port, count, size):
    nc = await nats.connect(f"nats://127.0.0.1:{port}")
    js = nc.jetstream()
    await js.add_stream(name="O", subjects=["o.*"])
    payload = b"x" * size
    window = []
    for i in range(count):
        window.append(await js.publish_async("o.a", payload))
        if len(window) == 1000 or i == count - 1:
            await asyncio.gather(*window)
            window = []
    info = await js.stream_info("O")
    if info.state.messages != count:
        raise SystemExit(f"origin holds {info.state.messages}, not {count}")
    started = time.monotonic()
    request = {"name": "M", "mirror": {"name": "O"}}
    await nc.request("$JS.API.STREAM.CREATE.M", json.dumps(request).encode(), timeout=10)
    deadline = started + 300
    while time.monotonic() < deadline:
        reply = await nc.request("$JS.API.STREAM.INFO.M", b"", timeout=10)
        if json.loads(reply.data)["state"]["last_seq"] >= count:
            break
        await asyncio.sleep(0.005)
    else:
        raise SystemExit("the mirror did not catch up within 300 s")
    elapsed = time.monotonic() - started
    await nc.close()
    print(json.dumps({"count": count, "size": size, "catchup_s": round(elapsed, 4)}))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--count", type=int, default=200000)
    parser.add_argument("--size", type=int, default=128)
    args = parser.parse_args()
    asyncio.run(run(args.port, args.count, args.size))
    return 0


if __name__ == "__main__":
    sys.exit(main())
