"""The JetStream key-value and object stores through nats-py, against the server at --url.

A nats-py user's calls, one step each, each checked against what the reference nats-server
answers (tests/kv/run_kv.sh runs this against ionats and, with IONATS_KV_REFERENCE=1,
against nats-server 2.15.1):

  kv.*   create_key_value (history 5, a bucket TTL), key_value(), put, get (latest, by
         revision, missing), create (new, existing, after a delete), update (right and
         wrong revision), delete, purge, history (and its limit), keys, watch (all keys, one
         key, a wildcard; include_history, ignore_deletes), status, a bucket TTL expiring
         values, purge_deletes, a bucket with direct gets ($JS.API.DIRECT.GET),
         delete_key_value
  obj.*  create_object_store, put (3 MiB in 25 chunks, a small one, an empty one), get (the
         client checks the SHA-256 digest; into a file too), get_info, list, a put replacing
         an object (its old chunks purged), update_meta, watch (initial, live, updates_only),
         delete, a link (written as nats.go's AddLink writes it: nats-py has no add_link but
         its get follows links), status, seal, delete_object_store

  kv.mirror_*, kv.sources_*: a bucket mirroring another and one sourcing two. nats-py 2.16's
         KeyValueConfig has no mirror or sources, so their streams are made with add_stream
         as nats.go's CreateKeyValue makes them (the Go program uses the KV API for it); the
         mirror's contents are read through its stream (a direct get, an ordered consumer),
         the origin's handle keeps reading after the origin is deleted (the mirror answers
         its direct gets), and the aggregate is read with nats-py's KV (keys, get, watchall).

nats-py has no updates-only KV watch (only the object store's watch has updates_only); the Go
program next to this one covers it.

Each step prints "ok: <step>: ..." or "FAIL: <step>: ..." and the next step runs (a step that
needs an earlier one's result fails too, and says so). With --gaps, a failure this file
knows as one of ionats's reported gaps prints "SKIP-GAP: <step>: <reason>", is not counted,
and the step goes on past it where it can (then its "ok:" line follows); without --gaps (the
reference server) a gap is a failure. Exit 0 when no step failed, 1 otherwise. Every wait is
bounded.

No gap is known here now: nats-py 2.16's create_key_value asks for allow_msg_ttl (a 2.11
stream setting), which ionats takes and honours.
"""

import argparse
import asyncio
import base64
import hashlib
import io
import json
import logging
import sys

import nats
import nats.errors
import nats.js.errors as jse
from nats.js import api

# How long the whole program may take, one step, and a wait for one watcher update.
PROGRAM_TIMEOUT_S = 150
STEP_TIMEOUT_S = 30
UPDATE_TIMEOUT_S = 5

KV_BUCKET = "kvpy"
KV_HISTORY = 5
KV_TTL_S = 3600.0
# A second bucket whose values expire: its TTL, and how long past it the step waits.
KV_SHORT_BUCKET = "kvpy_ttl"
KV_SHORT_TTL_S = 1.0
KV_SHORT_WAIT_S = 2.5

# A bucket mirroring another and one sourcing two, made as nats.go's KeyValueConfig.Mirror and
# .Sources make their streams (nats-py 2.16's KeyValueConfig has neither): the mirror's
# stream mirrors KV_<origin> with allow_direct and mirror_direct; the aggregate's sources
# carry the subject transform $KV.<source>.> -> $KV.<aggregate>.>.
KV_ORIGIN_BUCKET = "kvpy_origin"
KV_MIRROR_BUCKET = "kvpy_mirror"
KV_MIRROR_HISTORY = 3
KV_SOURCE_A = "kvpy_src_a"
KV_SOURCE_B = "kvpy_src_b"
KV_AGGREGATE_BUCKET = "kvpy_agg"
KV_AGGREGATE_HISTORY = 5
# How long a mirror or source may take to copy what its origin holds (a nats-server source
# whose first consumer request fails asks again ~10 s later), and how often it is looked at.
COPY_WAIT_S = 20.0
COPY_POLL_S = 0.02

OBJ_BUCKET = "objpy"
OBJ_LINKED_BUCKET = "objpy_links"
# nats-py's default chunk is 128 KiB: 3 MiB is 24 full chunks, the 3 MiB + 1000 a 25th short one.
OBJ_CHUNK = 128 * 1024
OBJ_BIG_SIZE = 3 * 1024 * 1024 + 1000
OBJ_BIG_CHUNKS = 25

# The reported ionats gaps this program recognises, each by the exact failure it stands for
# (error code and all), so that any other failure stays a FAIL: none at present.


class Failure(Exception):
    pass


def check(condition, message):
    if not condition:
        raise Failure(message)


class Steps:
    def __init__(self, allow_gaps):
        self.allow_gaps = allow_gaps
        self.failed = []
        self.gaps = []
        self.state = {}

    def gap(self, name, reason):
        """A known ionats gap met inside step name; the step goes on past it."""
        self.gaps.append(name)
        print(f"SKIP-GAP: {name}: {reason}", flush=True)

    async def run(self, name, body, *needs):
        missing = [need for need in needs if need not in self.state]
        if missing:
            self.failed.append(name)
            print(f"FAIL: {name}: needs {', '.join(missing)} from an earlier step", flush=True)
            return
        try:
            detail = await asyncio.wait_for(body(), STEP_TIMEOUT_S)
            print(f"ok: {name}: {detail}", flush=True)
        except Failure as failure:
            self.failed.append(name)
            print(f"FAIL: {name}: {failure}", flush=True)
        except asyncio.TimeoutError:
            self.failed.append(name)
            print(f"FAIL: {name}: no result within {STEP_TIMEOUT_S}s", flush=True)
        except Exception as error:  # what the user would see: the client's own exception
            self.failed.append(name)
            print(f"FAIL: {name}: {type(error).__name__}: {error}", flush=True)


async def expect_raise(what, errors, call):
    """Awaits call(), which must raise one of errors; returns the exception."""
    try:
        result = await call()
    except errors as error:
        return error
    raise Failure(f"{what}: returned {result!r}, want {errors}")


async def next_update(watcher, what):
    try:
        return await watcher.updates(timeout=UPDATE_TIMEOUT_S)
    except nats.errors.TimeoutError:
        raise Failure(f"{what}: no watcher update within {UPDATE_TIMEOUT_S}s")


async def initial_updates(watcher, what):
    """The entries a watcher delivers before its None marker (the end of the initial values)."""
    entries = []
    while True:
        entry = await next_update(watcher, f"{what} (after {len(entries)} initial entries)")
        if entry is None:
            return entries
        entries.append(entry)


async def no_update(watcher, what, wait_s=0.5):
    try:
        entry = await watcher.updates(timeout=wait_s)
    except nats.errors.TimeoutError:
        return
    raise Failure(f"{what}: unexpected update {entry!r}")


def summary(entries):
    return [(e.key, e.value, e.revision, e.operation) for e in entries]


# ---------------------------------------------------------------------------- key-value

async def create_bucket(js, steps, step, bucket, history=1, ttl=None, description=None,
                        direct=None):
    """js.create_key_value() (`steps` and `step` name the step, for the gaps a later ionats
    may need to report here again)."""
    return await js.create_key_value(bucket=bucket, history=history, ttl=ttl,
                                     description=description, direct=direct)


async def kv_steps(js, steps):
    st = steps.state

    async def create():
        st["kv"] = await create_bucket(js, steps, "kv.create_key_value", KV_BUCKET,
                                       history=KV_HISTORY, ttl=KV_TTL_S, description="kv test")
        return f"bucket {KV_BUCKET}, history {KV_HISTORY}, ttl {KV_TTL_S:.0f}s"
    await steps.run("kv.create_key_value", create)

    async def stream_config():
        info = await js.stream_info(f"KV_{KV_BUCKET}")
        c = info.config
        check(c.subjects == [f"$KV.{KV_BUCKET}.>"], f"subjects {c.subjects}")
        check(c.max_msgs_per_subject == KV_HISTORY, f"max_msgs_per_subject {c.max_msgs_per_subject}")
        check(c.max_age == KV_TTL_S, f"max_age {c.max_age}")
        check(c.discard == api.DiscardPolicy.NEW, f"discard {c.discard}")
        check(c.deny_delete and c.allow_rollup_hdrs, f"deny_delete {c.deny_delete} "
              f"allow_rollup_hdrs {c.allow_rollup_hdrs}")
        check(c.duplicate_window == 120.0, f"duplicate_window {c.duplicate_window}")
        check(info.state.messages == 0, f"{info.state.messages} messages in a new bucket")
        return "the bucket's stream: $KV.<bucket>.>, max_msgs_per_subject 5, max_age, discard new"
    await steps.run("kv.stream_config", stream_config, "kv")

    async def lookup():
        kv = await js.key_value(KV_BUCKET)
        check(kv._stream == f"KV_{KV_BUCKET}", f"stream {kv._stream}")
        await expect_raise("key_value(missing bucket)", (jse.BucketNotFoundError,),
                           lambda: js.key_value("no_such_bucket"))
        return "key_value() finds the bucket, a missing one is BucketNotFoundError"
    await steps.run("kv.key_value_lookup", lookup, "kv")

    async def put():
        kv = st["kv"]
        revs = [await kv.put("a", b"a1"), await kv.put("b", b"b1"), await kv.put("a", b"a2")]
        check(revs == [1, 2, 3], f"revisions {revs}, want [1, 2, 3]")
        st["put"] = True
        return "a=a1 (1), b=b1 (2), a=a2 (3)"
    await steps.run("kv.put", put, "kv")

    async def get():
        kv = st["kv"]
        e = await kv.get("a")
        check((e.key, e.value, e.revision) == ("a", b"a2", 3), f"get(a): {e}")
        e = await kv.get("a", revision=1)
        check((e.value, e.revision) == (b"a1", 1), f"get(a, revision=1): {e}")
        await expect_raise("get(missing)", (jse.KeyNotFoundError,), lambda: kv.get("nope"))
        # revision 2 is b's: asking for a at revision 2 is not found
        await expect_raise("get(a, revision=2)", (jse.KeyNotFoundError,),
                           lambda: kv.get("a", revision=2))
        return "latest a2@3, a1@1 by revision, missing key and another key's revision not found"
    await steps.run("kv.get", get, "put")

    async def create_key():
        kv = st["kv"]
        rev = await kv.create("c", b"c1")
        check(rev == 4, f"create(c): revision {rev}, want 4")
        error = await expect_raise("create(c) again", (jse.KeyWrongLastSequenceError,),
                                   lambda: kv.create("c", b"c2"))
        st["created"] = True
        return f"create(c) = 4; again: KeyWrongLastSequenceError ({error.description})"
    await steps.run("kv.create", create_key, "put")

    async def update():
        kv = st["kv"]
        rev = await kv.update("a", b"a3", last=3)
        check(rev == 5, f"update(a, last=3): revision {rev}, want 5")
        error = await expect_raise("update(a, last=3) again", (jse.KeyWrongLastSequenceError,),
                                   lambda: kv.update("a", b"a4", last=3))
        error0 = await expect_raise("update(a, last=0)", (jse.KeyWrongLastSequenceError,),
                                    lambda: kv.update("a", b"a4", last=0))
        e = await kv.get("a")
        check((e.value, e.revision) == (b"a3", 5), f"get(a) after the updates: {e}")
        return (f"update(a, last=3) = 5; a stale last=3: {error.description}; "
                f"last=0 on an existing key: {error0.description}")
    await steps.run("kv.update", update, "created")

    async def delete():
        kv = st["kv"]
        check(await kv.delete("b") is True, "delete(b) did not return True")
        await expect_raise("get(b) after delete", (jse.KeyNotFoundError,), lambda: kv.get("b"))
        e = await kv.get("b", revision=2)
        check(e.value == b"b1", f"get(b, revision=2) after delete: {e}")
        st["deleted"] = True
        return "delete(b) = True (a DEL marker at 6); get(b) not found; revision 2 still there"
    await steps.run("kv.delete", delete, "put")

    async def create_after_delete():
        kv = st["kv"]
        rev = await kv.create("b", b"b2")
        check(rev == 7, f"create(b) after delete: revision {rev}, want 7")
        e = await kv.get("b")
        check((e.value, e.revision) == (b"b2", 7), f"get(b): {e}")
        return "create(b) on a deleted key = 7 (retried with the DEL marker's revision)"
    await steps.run("kv.create_after_delete", create_after_delete, "deleted")

    async def purge():
        kv = st["kv"]
        check(await kv.purge("c") is True, "purge(c) did not return True")
        await expect_raise("get(c) after purge", (jse.KeyNotFoundError,), lambda: kv.get("c"))
        entries = await kv.history("c")
        check([(e.operation, e.value) for e in entries] == [("PURGE", b"")],
              f"history(c) after purge: {summary(entries)}")
        check(entries[0].revision == 8, f"purge marker revision {entries[0].revision}, want 8")
        st["purged"] = True
        return "purge(c): a PURGE marker (8) rolls up c's values; history(c) is just the marker"
    await steps.run("kv.purge", purge, "created")

    async def history():
        kv = st["kv"]
        entries = await kv.history("a")
        check([(e.value, e.revision) for e in entries] == [(b"a1", 1), (b"a2", 3), (b"a3", 5)],
              f"history(a): {summary(entries)}")
        for i in range(6):
            await kv.put("a", f"h{i}".encode())
        entries = await kv.history("a")
        values = [e.value for e in entries]
        check(values == [b"a3", b"h0", b"h1", b"h2", b"h3", b"h4", b"h5"][-KV_HISTORY:],
              f"history(a) past the limit: {summary(entries)}")
        check([e.revision for e in entries] == [10, 11, 12, 13, 14],
              f"history revisions {[e.revision for e in entries]}")
        check(entries[-1].delta == 0, f"last entry's delta {entries[-1].delta}")
        st["history"] = True
        return "history(a) = a1,a2,a3; six more puts keep the last 5 (10..14)"
    await steps.run("kv.history", history, "created")

    async def keys():
        kv = st["kv"]
        await kv.put("user.1", b"u1")
        await kv.put("user.2", b"u2")
        names = sorted(await kv.keys())
        check(names == ["a", "b", "user.1", "user.2"], f"keys() = {names}")
        names = sorted(await kv.keys(filters=["user"]))
        check(names == ["user.1", "user.2"], f"keys(filters=['user']) = {names}")
        st["keys"] = True
        return f"keys() = a, b, user.1, user.2 (c purged); keys(filters=['user']) = {names}"
    await steps.run("kv.keys", keys, "history", "purged")

    async def keys_empty():
        kv = await create_bucket(js, steps, "kv.keys_empty_bucket", KV_BUCKET + "_empty")
        await expect_raise("keys() of an empty bucket", (jse.NoKeysError,), lambda: kv.keys())
        await js.delete_key_value(KV_BUCKET + "_empty")
        return "keys() of an empty bucket raises NoKeysError"
    await steps.run("kv.keys_empty_bucket", keys_empty)

    async def watch_all():
        kv = st["kv"]
        w = await kv.watchall()
        initial = await initial_updates(w, "watchall")
        got = [(e.key, e.value, e.operation) for e in initial]
        want = [("b", b"b2", None), ("c", b"", "PURGE"), ("a", b"h5", None),
                ("user.1", b"u1", None), ("user.2", b"u2", None)]
        check(got == want, f"watchall initial values {got}, want {want}")
        check(initial[-1].delta == 0, f"last initial delta {initial[-1].delta}")
        rev = await kv.put("user.3", b"u3")
        e = await next_update(w, "watchall: a live put")
        check((e.key, e.value, e.revision, e.operation) == ("user.3", b"u3", rev, None),
              f"watchall live put: {e}")
        await kv.delete("user.3")
        e = await next_update(w, "watchall: a live delete")
        check((e.key, e.operation) == ("user.3", "DEL"), f"watchall live delete: {e}")
        await w.stop()
        st["user3"] = True
        return "initial last values per key (purge marker included) then None, live put and DEL"
    await steps.run("kv.watch_all", watch_all, "keys")

    async def watch_one():
        kv = st["kv"]
        w = await kv.watch("b")
        initial = await initial_updates(w, "watch(b)")
        check(summary(initial) == [("b", b"b2", 7, None)], f"watch(b) initial {summary(initial)}")
        await kv.put("a", b"not b")
        rev = await kv.put("b", b"b3")
        e = await next_update(w, "watch(b): a live put")
        check((e.key, e.value, e.revision) == ("b", b"b3", rev), f"watch(b) live: {e}")
        await no_update(w, "watch(b)")
        await w.stop()
        return "watch(b): b's last value, then only b's puts"
    await steps.run("kv.watch_key", watch_one, "keys")

    async def watch_wildcard():
        kv = st["kv"]
        w = await kv.watch("user.*")
        initial = await initial_updates(w, "watch(user.*)")
        got = [(e.key, e.operation) for e in initial]
        check(got == [("user.1", None), ("user.2", None), ("user.3", "DEL")],
              f"watch(user.*) initial {got}")
        await kv.put("b", b"not a user")
        await kv.put("user.4", b"u4")
        e = await next_update(w, "watch(user.*): a live put")
        check((e.key, e.value) == ("user.4", b"u4"), f"watch(user.*) live: {e}")
        await no_update(w, "watch(user.*)")
        await w.stop()
        return "watch(user.*): the users' last values (user.3's DEL), then only users' puts"
    await steps.run("kv.watch_wildcard", watch_wildcard, "user3")

    async def watch_history():
        kv = st["kv"]
        w = await kv.watch("user.*", include_history=True)
        initial = await initial_updates(w, "watch(user.*, include_history)")
        got = [(e.key, e.operation) for e in initial]
        want = [("user.1", None), ("user.2", None), ("user.3", None), ("user.3", "DEL"),
                ("user.4", None)]
        check(got == want, f"include_history initial {got}, want {want}")
        await w.stop()
        return "include_history: every revision of user.* in order (user.3's put and DEL)"
    await steps.run("kv.watch_include_history", watch_history, "user3")

    async def watch_ignore_deletes():
        kv = st["kv"]
        w = await kv.watchall(ignore_deletes=True)
        initial = await initial_updates(w, "watchall(ignore_deletes)")
        keys = sorted(e.key for e in initial)
        check(keys == ["a", "b", "user.1", "user.2", "user.4"],
              f"ignore_deletes initial keys {keys}")
        await kv.delete("user.4")
        await kv.put("user.5", b"u5")
        e = await next_update(w, "watchall(ignore_deletes): a live put after a delete")
        check((e.key, e.value) == ("user.5", b"u5"), f"ignore_deletes live: {e} (delete shown?)")
        await w.stop()
        return "ignore_deletes: no DEL/PURGE entries, initial or live"
    await steps.run("kv.watch_ignore_deletes", watch_ignore_deletes, "user3")

    async def watch_empty():
        kv = st["kv"]
        w = await kv.watch("nothing.here.*")
        e = await next_update(w, "watch of keys with no values")
        check(e is None, f"first update {e}, want None")
        rev = await kv.put("nothing.here.x", b"x")
        e = await next_update(w, "watch of keys with no values: a live put")
        check((e.key, e.revision) == ("nothing.here.x", rev), f"live: {e}")
        await w.stop()
        return "a watch with nothing to replay says None at once, then live puts"
    await steps.run("kv.watch_no_values", watch_empty, "kv")

    async def status():
        kv = st["kv"]
        s = await kv.status()
        check(s.bucket == KV_BUCKET, f"bucket {s.bucket}")
        check(s.history == KV_HISTORY, f"history {s.history}")
        check(s.ttl == KV_TTL_S, f"ttl {s.ttl}")
        info = await js.stream_info(f"KV_{KV_BUCKET}")
        check(s.values == info.state.messages and s.values > 0, f"values {s.values}")
        check(s.stream_info.state.bytes > 0, "bytes 0")
        return f"status: {s.values} values, history {s.history}, ttl {s.ttl:.0f}s"
    await steps.run("kv.status", status, "kv")

    async def purge_deletes():
        kv = st["kv"]
        before = await kv.history("user.3")
        check([e.operation for e in before] == [None, "DEL"], f"history(user.3) {summary(before)}")
        check(await kv.purge_deletes(olderthan=0) is True, "purge_deletes did not return True")
        # every key whose last entry was a DEL or PURGE marker is gone, markers included
        await expect_raise("history(user.3) after purge_deletes", (jse.NoKeysError,),
                           lambda: kv.history("user.3"))
        w = await kv.watchall()
        ops = [e.operation for e in await initial_updates(w, "watchall after purge_deletes")]
        await w.stop()
        check(ops and all(op is None for op in ops), f"operations after purge_deletes {ops}")
        return f"purge_deletes(olderthan=0): markers and their keys gone, {len(ops)} values left"
    await steps.run("kv.purge_deletes", purge_deletes, "user3")

    async def direct():
        bucket = KV_BUCKET + "_direct"
        kv = await create_bucket(js, steps, "kv.direct_get", bucket, history=3, direct=True)
        info = await js.stream_info(f"KV_{bucket}")
        check(info.config.allow_direct, "allow_direct not set on the bucket's stream")
        check(kv._direct, "the KeyValue does not use direct gets")
        r1 = await kv.put("k", b"v1")
        r2 = await kv.put("k", b"v2")
        await kv.put("other", b"o")
        e = await kv.get("k")
        check((e.value, e.revision) == (b"v2", r2), f"direct get(k): {e}")
        e = await kv.get("k", revision=r1)
        check((e.value, e.revision) == (b"v1", r1), f"direct get(k, revision={r1}): {e}")
        await expect_raise("direct get(missing)", (jse.KeyNotFoundError,), lambda: kv.get("no"))
        await expect_raise("direct get(k, revision=99)", (jse.KeyNotFoundError,),
                           lambda: kv.get("k", revision=99))
        await kv.delete("k")
        await expect_raise("direct get(k) deleted", (jse.KeyNotFoundError,), lambda: kv.get("k"))
        rev = await kv.create("k", b"v3")
        check((await kv.get("k")).revision == rev, "direct get after re-create")
        check(await js.delete_key_value(bucket), "delete_key_value")
        return ("direct=True: $JS.API.DIRECT.GET for the last value, a revision, a missing "
                "key (404), a deleted key")
    await steps.run("kv.direct_get", direct)

    async def ttl():
        short = await create_bucket(js, steps, "kv.bucket_ttl", KV_SHORT_BUCKET,
                                    ttl=KV_SHORT_TTL_S)
        await short.put("k", b"v")
        check((await short.get("k")).value == b"v", "get before the TTL")
        await asyncio.sleep(KV_SHORT_WAIT_S)
        await expect_raise("get after the TTL", (jse.KeyNotFoundError,), lambda: short.get("k"))
        s = await short.status()
        check(s.values == 0, f"{s.values} values after the TTL")
        check(await js.delete_key_value(KV_SHORT_BUCKET), "delete_key_value false")
        return f"a {KV_SHORT_TTL_S:.0f}s bucket TTL: the value is gone {KV_SHORT_WAIT_S}s later"
    await steps.run("kv.bucket_ttl", ttl)

    async def delete_bucket():
        check(await js.delete_key_value(KV_BUCKET) is True, "delete_key_value did not return True")
        await expect_raise("key_value after delete", (jse.BucketNotFoundError,),
                           lambda: js.key_value(KV_BUCKET))
        return "delete_key_value; key_value() then raises BucketNotFoundError"
    await steps.run("kv.delete_key_value", delete_bucket, "kv")


# ------------------------------------------------------- mirrored and sourced buckets

async def state_wait(js, stream, messages, last_seq):
    """Polls the stream's info until it holds messages up to last_seq, COPY_WAIT_S at most."""
    deadline = asyncio.get_running_loop().time() + COPY_WAIT_S
    while True:
        state = (await js.stream_info(stream)).state
        if (state.messages, state.last_seq) == (messages, last_seq):
            return
        if asyncio.get_running_loop().time() > deadline:
            raise Failure(f"{stream}: {state.messages} messages up to {state.last_seq} after "
                          f"{COPY_WAIT_S}s, want {messages} up to {last_seq}")
        await asyncio.sleep(COPY_POLL_S)


def kv_stream_config(bucket, history, **more):
    """The stream nats.go's CreateKeyValue makes for bucket (no TTL, no limits)."""
    return api.StreamConfig(
        name=f"KV_{bucket}", allow_rollup_hdrs=True, deny_delete=True,
        discard=api.DiscardPolicy.NEW, duplicate_window=120.0, max_consumers=-1, max_msgs=-1,
        max_msgs_per_subject=history, num_replicas=1, allow_direct=True, **more)


async def kv_mirror_steps(js, steps):
    st = steps.state
    origin_stream = f"KV_{KV_ORIGIN_BUCKET}"
    mirror_stream = f"KV_{KV_MIRROR_BUCKET}"

    def origin_subject(key):
        return f"$KV.{KV_ORIGIN_BUCKET}.{key}"

    async def create():
        origin = await create_bucket(js, steps, "kv.mirror_create", KV_ORIGIN_BUCKET,
                                     history=KV_MIRROR_HISTORY, direct=True)
        for key, value in (("a", b"a1"), ("b", b"b1"), ("a", b"a2")):
            await origin.put(key, value)
        await origin.delete("b")
        info = await js.add_stream(kv_stream_config(
            KV_MIRROR_BUCKET, KV_MIRROR_HISTORY, mirror=api.StreamSource(name=origin_stream),
            mirror_direct=True))
        c = info.config
        check(c.mirror is not None and c.mirror.name == origin_stream, f"mirror {c.mirror}")
        check(c.allow_direct and c.mirror_direct,
              f"allow_direct {c.allow_direct} mirror_direct {c.mirror_direct}")
        check(not c.subjects, f"subjects {c.subjects}")
        st["origin"] = origin
        return (f"origin a1, b1, a2, DEL b (1..4); {mirror_stream} mirrors {origin_stream} with "
                "allow_direct and mirror_direct (add_stream: nats-py's KV has no mirror)")
    await steps.run("kv.mirror_create", create)

    async def catch_up():
        await state_wait(js, mirror_stream, 4, 4)
        for seq in range(1, 5):
            want = await js.get_msg(origin_stream, seq)
            got = await js.get_msg(mirror_stream, seq)
            check((got.subject, got.data, got.seq, got.headers) ==
                  (want.subject, want.data, want.seq, want.headers),
                  f"mirror {seq}: {got}, origin's {want}")
        last = await js.get_last_msg(mirror_stream, origin_subject("a"), direct=True)
        check((last.seq, last.data) == (3, b"a2"), f"mirror's last a (direct): {last}")
        st["mirrored"] = True
        return ("the mirror holds the origin's 4 messages at their sequences; its last a "
                "(a direct get of the mirror) a2@3")
    await steps.run("kv.mirror_catch_up", catch_up, "origin")

    async def watch():
        origin = st["origin"]
        sub = await js.subscribe(origin_subject(">"), stream=mirror_stream,
                                 ordered_consumer=True,
                                 deliver_policy=api.DeliverPolicy.LAST_PER_SUBJECT)
        try:
            got = []
            for _ in range(2):
                msg = await sub.next_msg(timeout=UPDATE_TIMEOUT_S)
                got.append((msg.subject, msg.data, msg.metadata.sequence.stream,
                            (msg.headers or {}).get("KV-Operation")))
            want = [(origin_subject("a"), b"a2", 3, None), (origin_subject("b"), b"", 4, "DEL")]
            check(got == want, f"last values {got}, want {want}")
            rev = await origin.put("c", b"c1")
            msg = await sub.next_msg(timeout=UPDATE_TIMEOUT_S)
            check((msg.subject, msg.data, msg.metadata.sequence.stream) ==
                  (origin_subject("c"), b"c1", rev) and rev == 5, f"live: {msg} (put at {rev})")
        finally:
            await sub.unsubscribe()
        st["watched"] = True
        return ("an ordered consumer on the mirror's stream (last per subject): a2, DEL b, "
                "then a put to the origin (5)")
    await steps.run("kv.mirror_watch", watch, "mirrored")

    async def origin_deleted():
        origin = st["origin"]
        await state_wait(js, mirror_stream, 5, 5)
        check(await js.delete_key_value(KV_ORIGIN_BUCKET), "delete_key_value(origin)")
        await expect_raise("key_value(origin) after its delete", (jse.BucketNotFoundError,),
                           lambda: js.key_value(KV_ORIGIN_BUCKET))
        # the origin's handle reads with direct gets, which the mirror answers now
        a = await origin.get("a")
        c = await origin.get("c")
        check((a.value, a.revision) == (b"a2", 3), f"get(a) {a}")
        check((c.value, c.revision) == (b"c1", 5), f"get(c) {c}")
        await expect_raise("get(b)", (jse.KeyNotFoundError,), lambda: origin.get("b"))
        check(await js.delete_stream(mirror_stream), "delete the mirror")
        return ("origin deleted: key_value() raises BucketNotFoundError, the origin handle's "
                "direct gets are answered by the mirror: a2@3, c1@5, b deleted")
    await steps.run("kv.mirror_origin_deleted", origin_deleted, "watched")


async def kv_sources_steps(js, steps):
    st = steps.state
    aggregate_stream = f"KV_{KV_AGGREGATE_BUCKET}"

    def transform(bucket):
        return api.SubjectTransform(src=f"$KV.{bucket}.>", dest=f"$KV.{KV_AGGREGATE_BUCKET}.>")

    async def create():
        src_a = await create_bucket(js, steps, "kv.sources_create", KV_SOURCE_A, direct=True)
        src_b = await create_bucket(js, steps, "kv.sources_create", KV_SOURCE_B, direct=True)
        await src_a.put("a", b"from a")
        await src_a.put("gone", b"g")
        await src_a.delete("gone")  # history 1: the DEL marker replaces the put
        await src_b.put("b", b"from b")
        await src_b.put("b2", b"also b")
        info = await js.add_stream(kv_stream_config(
            KV_AGGREGATE_BUCKET, KV_AGGREGATE_HISTORY,
            subjects=[f"$KV.{KV_AGGREGATE_BUCKET}.>"],
            sources=[api.StreamSource(name=f"KV_{KV_SOURCE_A}",
                                      subject_transforms=[transform(KV_SOURCE_A)]),
                     api.StreamSource(name=f"KV_{KV_SOURCE_B}",
                                      subject_transforms=[transform(KV_SOURCE_B)])]))
        got = [(s.name, [(t.src, t.dest) for t in s.subject_transforms or []])
               for s in info.config.sources or []]
        want = [(f"KV_{b}", [(transform(b).src, transform(b).dest)])
                for b in (KV_SOURCE_A, KV_SOURCE_B)]
        check(got == want, f"sources {got}, want {want}")
        st["aggregate"] = await js.key_value(KV_AGGREGATE_BUCKET)
        st["src_b"] = src_b
        return (f"{KV_AGGREGATE_BUCKET} sources {KV_SOURCE_A} and {KV_SOURCE_B} with "
                "$KV.<source>.> -> $KV.kvpy_agg.> (add_stream: nats-py's KV has no sources)")
    await steps.run("kv.sources_create", create)

    async def keys():
        agg = st["aggregate"]
        await state_wait(js, aggregate_stream, 4, 4)
        names = sorted(await agg.keys())
        check(names == ["a", "b", "b2"], f"keys() {names}")
        a = await agg.get("a")
        check(a.value == b"from a" and a.bucket == KV_AGGREGATE_BUCKET, f"get(a) {a}")
        await expect_raise("get(gone)", (jse.KeyNotFoundError,), lambda: agg.get("gone"))
        raw = await js.get_msg(aggregate_stream, a.revision)
        fields = raw.headers["Nats-Stream-Source"].split(" ")[:5]  # 2.15 adds a sixth
        want = [f"KV_{KV_SOURCE_A}", "1", f"$KV.{KV_SOURCE_A}.>", f"$KV.{KV_AGGREGATE_BUCKET}.>",
                f"$KV.{KV_SOURCE_A}.a"]
        check(fields == want, f"Nats-Stream-Source {fields}, want {want}")
        check(raw.subject == f"$KV.{KV_AGGREGATE_BUCKET}.a", f"a stored under {raw.subject}")
        st["copied"] = True
        return f"keys() {names} (gone's DEL copied too); get(a); Nats-Stream-Source {fields}"
    await steps.run("kv.sources_keys", keys, "aggregate")

    async def watch():
        agg = st["aggregate"]
        w = await agg.watchall()
        initial = await initial_updates(w, "the aggregate's watchall")
        got = sorted((e.key, e.value, e.operation) for e in initial)
        want = [("a", b"from a", None), ("b", b"from b", None), ("b2", b"also b", None),
                ("gone", b"", "DEL")]
        check(got == want, f"initial {got}, want {want}")
        await st["src_b"].put("live", b"from b, live")
        e = await next_update(w, "a put to a source")
        check((e.key, e.value, e.revision) == ("live", b"from b, live", 5), f"live copy {e}")
        rev = await agg.put("own", b"the aggregate's own")
        e = await next_update(w, "a put to the aggregate")
        check((e.key, e.revision) == ("own", rev) and rev == 6, f"own put {e} ({rev})")
        await no_update(w, "the aggregate's watchall")
        await w.stop()
        return ("watchall: the copies' last values (gone's DEL too), then a live put to a "
                "source (5) and one to the aggregate (6)")
    await steps.run("kv.sources_watch", watch, "copied")

    async def delete():
        for bucket in (KV_AGGREGATE_BUCKET, KV_SOURCE_A, KV_SOURCE_B):
            check(await js.delete_key_value(bucket), f"delete_key_value({bucket})")
        return "delete_key_value of the three"
    await steps.run("kv.sources_delete", delete, "aggregate")


# ---------------------------------------------------------------------------- object store

def big_payload():
    # Deterministic bytes that do not repeat at the chunk size.
    return hashlib.shake_256(b"ionats object store").digest(OBJ_BIG_SIZE)


def digest_of(data):
    return "SHA-256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).decode()


async def obj_steps(js, steps):
    st = steps.state
    big = big_payload()

    async def create():
        st["obs"] = await js.create_object_store(OBJ_BUCKET, description="obj test")
        info = await js.stream_info(f"OBJ_{OBJ_BUCKET}")
        c = info.config
        check(c.subjects == [f"$O.{OBJ_BUCKET}.C.>", f"$O.{OBJ_BUCKET}.M.>"],
              f"subjects {c.subjects}")
        check(c.allow_direct and c.allow_rollup_hdrs, f"allow_direct {c.allow_direct}, "
              f"allow_rollup_hdrs {c.allow_rollup_hdrs}")
        check(c.discard == api.DiscardPolicy.NEW, f"discard {c.discard}")
        return f"bucket {OBJ_BUCKET}: stream OBJ_{OBJ_BUCKET}, $O.<b>.C.> and $O.<b>.M.>"
    await steps.run("obj.create_object_store", create)

    async def put_big():
        obs = st["obs"]
        info = await obs.put("big.bin", big)
        check(info.size == OBJ_BIG_SIZE, f"size {info.size}")
        check(info.chunks == OBJ_BIG_CHUNKS, f"chunks {info.chunks}")
        check(info.digest == digest_of(big), f"digest {info.digest}")
        st["big"] = info
        return f"put(big.bin): {info.size} bytes in {info.chunks} chunks, {info.digest[:20]}..."
    await steps.run("obj.put_big", put_big, "obs")

    async def put_small():
        obs = st["obs"]
        meta = api.ObjectMeta(name="notes/small.txt", description="small one",
                              headers={"Color": ["blue"]})
        info = await obs.put("notes/small.txt", "hello object store", meta=meta)
        check((info.size, info.chunks) == (18, 1), f"small: {info.size} bytes {info.chunks} chunks")
        info = await obs.put("empty", b"")
        check((info.size, info.chunks) == (0, 0), f"empty: {info.size} bytes {info.chunks} chunks")
        st["small"] = True
        return "put(notes/small.txt) 18 bytes, 1 chunk; put(empty) 0 bytes, 0 chunks"
    await steps.run("obj.put_small_and_empty", put_small, "obs")

    async def get_big():
        obs = st["obs"]
        result = await obs.get("big.bin")
        check(result.data == big, f"get(big.bin): {len(result.data)} bytes, differ from put")
        check(result.info.digest == digest_of(big), "digest in the info")
        sink = io.BytesIO()
        result = await obs.get("big.bin", writeinto=sink)
        check(sink.getvalue() == big, f"get(big.bin, writeinto): {len(sink.getvalue())} bytes")
        return f"get(big.bin): {len(big)} bytes back, digest checked (also into a file object)"
    await steps.run("obj.get_big", get_big, "big")

    async def get_small():
        obs = st["obs"]
        result = await obs.get("notes/small.txt")
        check(result.data == b"hello object store", f"small: {result.data!r}")
        check(result.info.description == "small one", f"description {result.info.description}")
        result = await obs.get("empty")
        check(result.data == b"", f"empty: {result.data!r}")
        await expect_raise("get(missing)", (jse.ObjectNotFoundError,), lambda: obs.get("nope"))
        return "get(notes/small.txt), get(empty), a missing object is ObjectNotFoundError"
    await steps.run("obj.get_small_empty_missing", get_small, "small")

    async def get_info():
        obs = st["obs"]
        info = await obs.get_info("big.bin")
        want = st["big"]
        check((info.name, info.bucket, info.size, info.chunks, info.digest, info.nuid) ==
              (want.name, want.bucket, want.size, want.chunks, want.digest, want.nuid),
              f"get_info(big.bin): {info}")
        check(info.options.max_chunk_size == OBJ_CHUNK, f"options {info.options}")
        return f"get_info(big.bin): name, bucket, size, chunks, digest, nuid as put said"
    await steps.run("obj.get_info", get_info, "big")

    async def list_objects():
        obs = st["obs"]
        names = sorted(i.name for i in await obs.list())
        check(names == ["big.bin", "empty", "notes/small.txt"], f"list() = {names}")
        return f"list() = {names}"
    await steps.run("obj.list", list_objects, "big", "small")

    async def replace():
        obs = st["obs"]
        before = await js.stream_info(f"OBJ_{OBJ_BUCKET}")
        info = await obs.put("big.bin", big[:OBJ_CHUNK * 2])
        check(info.chunks == 2, f"chunks {info.chunks}")
        after = await js.stream_info(f"OBJ_{OBJ_BUCKET}")
        # the 25 old chunks are purged, 2 new ones and the new meta (rolled up) stay
        want = before.state.messages - OBJ_BIG_CHUNKS + 2
        check(after.state.messages == want,
              f"{after.state.messages} messages after the replace, want {want}")
        result = await obs.get("big.bin")
        check(result.data == big[:OBJ_CHUNK * 2], "replaced data")
        return (f"put over big.bin: 2 new chunks, the 25 old ones purged "
                f"({before.state.messages} -> {after.state.messages} messages)")
    await steps.run("obj.put_replace", replace, "big")

    async def update_meta():
        obs = st["obs"]
        await obs.update_meta("notes/small.txt",
                              api.ObjectMeta(name="notes/small.txt", description="changed"))
        info = await obs.get_info("notes/small.txt")
        check(info.description == "changed", f"description {info.description}")
        result = await obs.get("notes/small.txt")
        check(result.data == b"hello object store", "data after update_meta")
        return "update_meta: the new description, the same data"
    await steps.run("obj.update_meta", update_meta, "small")

    async def watch():
        obs = st["obs"]
        w = await obs.watch()
        initial = []
        while True:
            e = await next_update(w, f"watch (after {len(initial)})")
            if e is None:
                break
            initial.append(e.name)
        check(sorted(initial) == ["big.bin", "empty", "notes/small.txt"], f"initial {initial}")
        await obs.put("watched", b"w1")
        e = await next_update(w, "watch: a live put")
        check((e.name, e.size, e.deleted) == ("watched", 2, False), f"live put: {e}")
        await w.stop()

        updates = await obs.watch(updates_only=True)
        await obs.put("watched", b"w22")
        e = await next_update(updates, "watch(updates_only): a live put")
        check((e.name, e.size) == ("watched", 3), f"updates_only first update: {e}")
        await updates.stop()
        st["watched"] = True
        return "watch: current objects then None, a live put; updates_only: only the new put"
    await steps.run("obj.watch", watch, "big", "small")

    async def delete():
        obs = st["obs"]
        w = await obs.watch(updates_only=True)
        await obs.delete("watched")
        e = await next_update(w, "watch: a delete")
        check((e.name, e.deleted) == ("watched", True), f"delete seen by watch: {e}")
        await w.stop()
        await expect_raise("get_info after delete", (jse.ObjectNotFoundError,),
                           lambda: obs.get_info("watched"))
        info = await obs.get_info("watched", show_deleted=True)
        check(info.deleted and info.size == 0, f"show_deleted: {info}")
        names = sorted(i.name for i in await obs.list(ignore_deletes=True))
        check("watched" not in names, f"list(ignore_deletes) = {names}")
        names = sorted(i.name for i in await obs.list())
        check("watched" in names, f"list() = {names}")
        return "delete: watch sees deleted, get_info not found (found with show_deleted), list"
    await steps.run("obj.delete", delete, "watched")

    async def link():
        obs = st["obs"]
        other = await js.create_object_store(OBJ_LINKED_BUCKET)
        target = await obs.get_info("notes/small.txt")
        # As nats.go's AddLink writes it: a meta message for the link's name, its options
        # naming the target's bucket and name, rolled up.
        name = "to-small"
        meta = {"name": name, "bucket": OBJ_LINKED_BUCKET, "nuid": "LINK" + target.nuid[4:],
                "size": 0, "chunks": 0, "mtime": "2026-01-01T00:00:00Z", "digest": "",
                "options": {"link": {"bucket": OBJ_BUCKET, "name": target.name}}}
        subject = f"$O.{OBJ_LINKED_BUCKET}.M." + base64.urlsafe_b64encode(name.encode()).decode()
        await js.publish(subject, json.dumps(meta).encode(), headers={"Nats-Rollup": "sub"})
        info = await other.get_info(name)
        check(info.is_link() and info.options.link.name == "notes/small.txt", f"link info {info}")
        result = await other.get(name)
        check(result.data == b"hello object store", f"get through the link: {result.data!r}")
        check(await js.delete_object_store(OBJ_LINKED_BUCKET), "delete the link bucket")
        return "a link in another bucket: get_info says link, get follows it to the data"
    await steps.run("obj.link", link, "small")

    async def status():
        obs = st["obs"]
        s = await obs.status()
        check(s.bucket == OBJ_BUCKET and not s.sealed, f"bucket {s.bucket} sealed {s.sealed}")
        check(s.description == "obj test", f"description {s.description}")
        check(s.size > 0, f"size {s.size}")
        return f"status: {s.size} bytes, not sealed"
    await steps.run("obj.status", status, "obs")

    async def seal():
        obs = st["obs"]
        await obs.seal()
        s = await obs.status()
        check(s.sealed, "status not sealed after seal()")
        error = await expect_raise("put after seal", (jse.APIError, nats.errors.Error),
                                   lambda: obs.put("after-seal", b"x"))
        result = await obs.get("notes/small.txt")
        check(result.data == b"hello object store", "get after seal")
        return f"seal: status sealed, put refused ({type(error).__name__}), get still works"
    await steps.run("obj.seal", seal, "obs")

    async def delete_bucket():
        check(await js.delete_object_store(OBJ_BUCKET) is True, "delete_object_store")
        await expect_raise("object_store after delete", (jse.BucketNotFoundError,),
                           lambda: js.object_store(OBJ_BUCKET))
        return "delete_object_store; object_store() then raises BucketNotFoundError"
    await steps.run("obj.delete_object_store", delete_bucket, "obs")


async def program(url, steps, parts):
    nc = await nats.connect(url, connect_timeout=3, max_reconnect_attempts=0)
    try:
        js = nc.jetstream(timeout=5)
        if "kv" in parts:
            await kv_steps(js, steps)
            await kv_mirror_steps(js, steps)
            await kv_sources_steps(js, steps)
        if "obj" in parts:
            steps.state.clear()
            await obj_steps(js, steps)
    finally:
        await nc.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    # single-dash spellings as the Go program's flags, so run_kv.sh calls both alike
    parser.add_argument("-url", "--url", default="nats://127.0.0.1:4222")
    parser.add_argument("-gaps", "--gaps", action="store_true",
                        help="print ionats's reported gaps as SKIP-GAP instead of failing")
    parser.add_argument("-part", "--part", choices=["kv", "obj", "all"], default="all")
    args = parser.parse_args()
    parts = ["kv", "obj"] if args.part == "all" else [args.part]
    # keys(filters=...) logs a warning meant for servers before 2.10 whatever the server is
    logging.getLogger("nats.js.kv").setLevel(logging.ERROR)
    steps = Steps(args.gaps)
    try:
        asyncio.run(asyncio.wait_for(program(args.url, steps, parts), PROGRAM_TIMEOUT_S))
    except asyncio.TimeoutError:
        print(f"FAIL: the program ran past {PROGRAM_TIMEOUT_S}s", flush=True)
        return 1
    except Exception as error:
        print(f"FAIL: {type(error).__name__}: {error}", flush=True)
        return 1
    print(f"{len(steps.failed)} failed, {len(steps.gaps)} known gaps"
          + (f": failed {', '.join(steps.failed)}" if steps.failed else ""), flush=True)
    return 1 if steps.failed else 0


if __name__ == "__main__":
    sys.exit(main())
