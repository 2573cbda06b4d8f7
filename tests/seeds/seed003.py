"""Seed 003 (shared/seeds/003_*.txt): a nats.py user's JetStream flow, done as that user's
code does it, against the server at --url.

The user's NatsConnectionManager.init() connects (connect_timeout=3,
max_reconnect_attempts=2), makes a JetStream context and calls add_stream("clientA_sensor",
four sensors.* subjects) every time a service starts, then pull_subscribe()s the durable
consumer "rule_executor". Their publish_message() opens a connection per message, publishes
with js.publish() (an acked publish) and closes it. Their processor fetches a batch of 30
from sensors.value and decodes each message as JSON.

Phases (the runner restarts the server on the same store directory between them, as a
docker-compose restart with a data volume would):

  --phase first    a service starts (the stream is created), readings are published one
                   connection each, a second service starts (add_stream again: the same
                   config, so nats-server answers with the existing stream), stream info
  --phase restart  a service starts after the server restarted: add_stream again finds the
                   stored readings; one more reading per subject goes on after them

--consumers adds what needs JetStream consumers: the pull_subscribe() in init and the
processor's fetch of 30 from sensors.value.

Every wait is bounded; the first failed check prints "FAIL: ..." and exits 1.
"""

import argparse
import asyncio
import json
import sys

import nats
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType

# The user's names.
STREAM_NAME = "clientA_sensor"
SUBJECT_FAULTY = "sensors.faulty"
SUBJECT_METADATA = "sensors.metadata"
SUBJECT_VALUE = "sensors.value"
SUBJECT_SOS = "sensors.sos"
SENSOR_CONSUMER = "rule_executor"
SUBJECTS = [SUBJECT_FAULTY, SUBJECT_METADATA, SUBJECT_VALUE, SUBJECT_SOS]

# The processor's batch (start_reading(..., batch_size=30)).
BATCH_SIZE = 30

# How long the whole flow may take, and one fetch.
FLOW_TIMEOUT_S = 60
FETCH_TIMEOUT_S = 10

# Readings per subject in the first phase: values far outnumber the rest, and there are more
# than one batch of them, so the processor's fetch fills its batch.
READINGS = {SUBJECT_VALUE: 40, SUBJECT_METADATA: 4, SUBJECT_FAULTY: 3, SUBJECT_SOS: 1}
FIRST_COUNT = sum(READINGS.values())


class Failure(Exception):
    pass


def check(condition, message):
    if not condition:
        raise Failure(message)


def ok(message):
    print(f"ok: {message}", flush=True)


def readings():
    """The first phase's readings, interleaved as sensors would send them: (subject, bytes)."""
    left = dict(READINGS)
    index = 0
    while any(left.values()):
        for subject in SUBJECTS:
            if left[subject] == 0:
                continue
            left[subject] -= 1
            index += 1
            body = {
                "sensor_id": f"sensor-{index % 7:02d}",
                "subject": subject,
                "ts": f"2024-10-01T12:{index // 60:02d}:{index % 60:02d}Z",
            }
            if subject == SUBJECT_VALUE:
                body["value"] = round(20.0 + index * 0.25, 2)
                body["unit"] = "°C"
            elif subject == SUBJECT_FAULTY:
                body["fault"] = "reading out of range"
            elif subject == SUBJECT_SOS:
                body["level"] = "critical"
            else:
                body["firmware"] = "1.4.2"
            yield subject, json.dumps(body).encode()


class NatsConnectionManager:
    """The user's connection manager: init() connects, adds the stream and, where consumers
    are on, pull-subscribes the durable consumer."""

    def __init__(self, url):
        self.url = url
        self.nc = None
        self.js = None
        self.psub = None

    async def init(self, subject, stream, durable, consumers):
        self.nc = await nats.connect(self.url, connect_timeout=3, max_reconnect_attempts=2)
        self.js = self.nc.jetstream()
        info = await self.js.add_stream(name=STREAM_NAME, subjects=SUBJECTS)
        if consumers:
            self.psub = await self.js.pull_subscribe(subject=subject, stream=stream,
                                                     durable=durable)
        return info


async def publish_message(url, subject, data):
    """The user's: a connection per message, an acked publish, close."""
    nc = await nats.connect(url, connect_timeout=3, max_reconnect_attempts=2)
    js = nc.jetstream()
    ack = await js.publish(subject, data)
    await nc.close()
    return ack


def check_stream(info, messages, last_seq, what):
    config = info.config
    check(config.name == STREAM_NAME, f"{what}: stream name {config.name!r}")
    check(list(config.subjects) == SUBJECTS, f"{what}: subjects {config.subjects!r}")
    check(config.retention == RetentionPolicy.LIMITS, f"{what}: retention {config.retention}")
    check(config.storage == StorageType.FILE, f"{what}: storage {config.storage}")
    check(config.discard == DiscardPolicy.OLD, f"{what}: discard {config.discard}")
    state = info.state
    check(state.messages == messages and state.last_seq == last_seq,
          f"{what}: {state.messages} messages up to seq {state.last_seq}, "
          f"want {messages} up to {last_seq}")
    if messages > 0:
        check(state.first_seq == 1, f"{what}: first seq {state.first_seq}")
        check(state.bytes > 0, f"{what}: {messages} messages in 0 bytes")


async def publish_readings(url, items, last_seq):
    for subject, data in items:
        ack = await publish_message(url, subject, data)
        check(ack.stream == STREAM_NAME, f"publish {subject}: ack names stream {ack.stream!r}")
        check(not ack.duplicate, f"publish {subject}: ack says duplicate (seq {ack.seq})")
        check(ack.seq == last_seq + 1,
              f"publish {subject}: ack seq {ack.seq} after {last_seq}")
        last_seq = ack.seq
    return last_seq


async def start_reading(manager, subject, stream, durable, batch_size):
    """The user's processor: pull_subscribe again (the durable exists), one batch, JSON."""
    manager.psub = await manager.js.pull_subscribe(subject=subject, stream=stream,
                                                   durable=durable)
    msgs = await manager.psub.fetch(batch_size, timeout=FETCH_TIMEOUT_S)
    check(len(msgs) == batch_size, f"fetch({batch_size}): {len(msgs)} messages")
    last_seq = 0
    for msg in msgs:
        message = json.loads(msg.data.decode())
        check(msg.subject == subject, f"fetch: a message on {msg.subject}")
        check(message["subject"] == subject, f"fetch: a reading of {message['subject']}")
        seq = msg.metadata.sequence.stream
        check(seq > last_seq, f"fetch: stream seq {seq} after {last_seq}")
        last_seq = seq
        await msg.ack()
    ok(f"pull_subscribe({subject}, durable={durable}) + fetch({batch_size}): "
       f"{len(msgs)} JSON readings in stream order, acked")


async def first_phase(url, consumers):
    processor = NatsConnectionManager(url)
    info = await processor.init(SUBJECT_VALUE, STREAM_NAME, SENSOR_CONSUMER, consumers)
    check_stream(info, 0, 0, "add_stream on a fresh server")
    ok(f"add_stream({STREAM_NAME}, {len(SUBJECTS)} subjects): file storage, limits, empty")

    last_seq = await publish_readings(url, readings(), 0)
    ok(f"publish_message: {FIRST_COUNT} readings, a connection each, acks 1..{last_seq}")

    second = NatsConnectionManager(url)
    info = await second.init(SUBJECT_VALUE, STREAM_NAME, SENSOR_CONSUMER, consumers)
    check_stream(info, FIRST_COUNT, FIRST_COUNT, "add_stream again, same config")
    ok(f"add_stream again with the same config: the existing stream, {FIRST_COUNT} messages")
    await second.nc.close()

    info = await processor.js.stream_info(STREAM_NAME)
    check_stream(info, FIRST_COUNT, FIRST_COUNT, "stream_info")
    ok(f"stream_info: {info.state.messages} messages, seq 1..{info.state.last_seq}, "
       f"{info.state.bytes} bytes")

    if consumers:
        await start_reading(processor, SUBJECT_VALUE, STREAM_NAME, SENSOR_CONSUMER, BATCH_SIZE)
    await processor.nc.close()


async def restart_phase(url, consumers):
    processor = NatsConnectionManager(url)
    info = await processor.init(SUBJECT_VALUE, STREAM_NAME, SENSOR_CONSUMER, consumers)
    check_stream(info, FIRST_COUNT, FIRST_COUNT, "add_stream after a restart")
    ok(f"add_stream after a restart: the stored {FIRST_COUNT} messages are there")

    more = [(subject, json.dumps({"subject": subject, "after": "restart"}).encode())
            for subject in SUBJECTS]
    last_seq = await publish_readings(url, more, FIRST_COUNT)
    ok(f"publish_message after a restart: acks {FIRST_COUNT + 1}..{last_seq}")

    info = await processor.js.stream_info(STREAM_NAME)
    check_stream(info, last_seq, last_seq, "stream_info after a restart")
    ok(f"stream_info: {info.state.messages} messages")
    await processor.nc.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="nats://127.0.0.1:4222")
    parser.add_argument("--phase", choices=["first", "restart"], default="first")
    parser.add_argument("--consumers", action="store_true",
                        help="also the consumer parts: pull_subscribe and fetch")
    args = parser.parse_args()
    phase = first_phase if args.phase == "first" else restart_phase
    try:
        asyncio.run(asyncio.wait_for(phase(args.url, args.consumers), FLOW_TIMEOUT_S))
    except Failure as failure:
        print(f"FAIL: {failure}", file=sys.stderr)
        return 1
    except Exception as error:  # what the user would see: the client's own exception
        print(f"FAIL: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
