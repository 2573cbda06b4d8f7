// Drives the seed user's NATS Streaming programs (shared/seeds/000: publisher.js and
// listener.js, node-nats-streaming 0.3.2) against a broker that tests/stan/run_stan.sh
// started with -cid ticketing -hbi 1s -hbt 1s -hbf 2 and monitoring on.
//
//   node seed000.js --port PORT --http-port HTTPPORT [--host 127.0.0.1]
//
// The steps (each wait bounded; the first failure ends the run):
//   1 monitoring     /streaming/serverz answers for cluster 'ticketing'
//   2 backlog        5 events published before any listener exists
//   3 queue group    two listeners (queue group orders-service-queue-group, durable
//                    accounting-service, deliver all available) share the backlog: each event
//                    to exactly one of them, acked
//   4 publish        20 more: each to exactly one listener, both get some
//   5 channelsz      /streaming/channelsz?subs=1 lists ticket:created with the two queue
//                    subscriptions, nothing pending; /streaming/clientsz the two listeners
//   6 ack wait       an event left unacked once comes back after the ack wait (5 s),
//                    isRedelivered() true; nothing acked comes back
//   7 restart        a listener stops acking mid-stream and is killed (SIGKILL) while events
//                    flow; a new one starts: clientsz shows 3 listener clients, then 2 once
//                    the heartbeat limit passed (within 10 s); what the killed one had not
//                    acked is redelivered to the others; no event lost; the new one resumes
//                    where the durable queue group is, not from the first event, and shares
//                    the next events with the survivor
//   8 graceful close SIGTERM and SIGINT make the listeners close ('close' fires, they log
//                    "NATS connection closed!" and exit 0); the server drops them at once
//   9 durable        events published while no member is up go to the next listener that
//                    joins; nothing delivered before comes back
// Exit 0 passed, 1 failed (prints "FAIL step N (name): why"), 77 skipped (no client
// library).
'use strict';

const { spawn } = require('child_process');
const http = require('http');
const path = require('path');
const readline = require('readline');

try {
  require.resolve('node-nats-streaming');
} catch (e) {
  console.log('SKIP: node-nats-streaming is not installed in tests/stan/node: run scripts/setup.sh');
  process.exit(77);
}

// ---- settings ----

const SUBJECT = 'ticket:created';
const QUEUE_GROUP = 'orders-service-queue-group';
const DURABLE = 'accounting-service';
const CLUSTER_ID = 'ticketing';
const EXPECTED_DATA = JSON.stringify({ id: '123', title: 'concert', price: 20 });
const ACK_WAIT_MS = 5000; // listener.js: setAckWait(5 * 1000)
// -hbi 1s -hbt 1s -hbf 2: a dead client is dropped after a few seconds; we allow 10.
const HB_LIMIT_WAIT_MS = 10000;
const TOTAL_TIMEOUT_MS = 170000;
const POLL_MS = 50;

const opts = { host: '127.0.0.1', port: null, httpPort: null };
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i];
  const v = process.argv[i + 1];
  if (a === '--port') opts.port = Number(v);
  else if (a === '--http-port') opts.httpPort = Number(v);
  else if (a === '--host') opts.host = v;
  else {
    console.error(`usage: ${process.argv[1]} --port PORT --http-port HTTPPORT [--host HOST]`);
    process.exit(2);
  }
  i++;
}
if (!opts.port || !opts.httpPort) {
  console.error(`usage: ${process.argv[1]} --port PORT --http-port HTTPPORT [--host HOST]`);
  process.exit(2);
}
// The seed connects with url 'http://localhost:4222'; the same form, on the test's port.
const STAN_URL = `http://${opts.host}:${opts.port}`;
const MONITOR = `http://${opts.host}:${opts.httpPort}`;

// ---- steps and failures ----

let stepName = 'setup';
class StepFailure extends Error {}
function fail(why) {
  throw new StepFailure(why);
}
function check(cond, why) {
  if (!cond) fail(why);
}
function step(n, name, what) {
  stepName = `${n} (${name})`;
  console.log(`==== step ${n} (${name}): ${what}`);
}
function info(msg) {
  console.log(`     ${msg}`);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const t0 = Date.now();
const elapsed = () => `${((Date.now() - t0) / 1000).toFixed(1)}s`;

// Waits until cond() (sync or async) returns something truthy, which it returns.
async function waitFor(cond, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs;
  let lastErr = null;
  for (;;) {
    try {
      const v = await cond();
      if (v) return v;
      lastErr = null;
    } catch (e) {
      if (e instanceof StepFailure) throw e;
      lastErr = e;
    }
    if (Date.now() >= deadline) {
      fail(`timed out after ${timeoutMs}ms waiting for ${typeof what === 'function' ? what() : what}` +
        (lastErr ? ` (last error: ${lastErr.message})` : ''));
    }
    await sleep(POLL_MS);
  }
}

// ---- the client programs ----

const procs = [];

class Proc {
  constructor(name, script, env) {
    if (exiting) throw new StepFailure('stopping: no new client');
    this.name = name;
    this.lines = [];
    this.exited = null; // { code, signal }
    this.clientId = null;
    this.connected = false;
    this.ready = false;
    this.ackingStopped = false;
    this.closedLogged = false;
    this.published = 0;
    this.deliveries = []; // { seq, redelivered, acked, t }
    this.received = []; // the seed's "Received event #N, with data: D" lines: { seq, data }
    this.child = spawn(process.execPath, [path.join(__dirname, script)], {
      cwd: __dirname,
      env: Object.assign({}, process.env, { STAN_URL }, env || {}),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.pid = this.child.pid;
    this.exitPromise = new Promise((resolve) => {
      this.child.on('exit', (code, signal) => {
        this.exited = { code, signal };
        resolve(this.exited);
      });
    });
    for (const stream of [this.child.stdout, this.child.stderr]) {
      readline.createInterface({ input: stream }).on('line', (line) => this.onLine(line));
    }
    procs.push(this);
    info(`started ${name} (${script}, pid ${this.pid})`);
  }

  onLine(line) {
    const t = Date.now();
    this.lines.push(line);
    console.log(`     [${this.name} ${elapsed()}] ${line}`);
    let m;
    if (line === 'Listener connected to NATS' || line === 'Publisher connected to NATS') {
      this.connected = true;
    } else if ((m = /^\(test\) client id (\S+)$/.exec(line))) {
      this.clientId = m[1];
    } else if (line === '(test) subscription ready') {
      this.ready = true;
    } else if (line === '(test) acking stopped') {
      this.ackingStopped = true;
    } else if (line === 'NATS connection closed!') {
      this.closedLogged = true;
    } else if (line === 'Event published') {
      this.published++;
    } else if ((m = /^Received event #(\d+), with data: (.*)$/.exec(line))) {
      this.received.push({ seq: Number(m[1]), data: m[2] });
    } else if ((m = /^\(test\) event #(\d+) redelivered=(true|false) ack=(yes|no)$/.exec(line))) {
      this.deliveries.push({
        seq: Number(m[1]),
        redelivered: m[2] === 'true',
        acked: m[3] === 'yes',
        t,
      });
    }
  }

  alive() {
    return this.exited === null;
  }

  signal(sig) {
    if (this.alive()) process.kill(this.pid, sig);
  }

  async waitExit(timeoutMs, what) {
    await waitFor(() => !this.alive(), timeoutMs, what || `${this.name} to exit`);
    return this.exited;
  }
}

let listenerCount = 0;
async function startListener(env) {
  const l = new Proc(`listener${++listenerCount}`, 'listener.js', env);
  await waitFor(() => l.connected && l.clientId && l.ready || !l.alive(), 15000,
    `${l.name} to connect and subscribe`);
  check(l.alive(), `${l.name} exited before it subscribed: ${JSON.stringify(l.exited)}`);
  check(!l.lines.some((x) => x.startsWith('(test) subscription error')),
    `${l.name}: subscription error`);
  info(`${l.name} is client ${l.clientId}`);
  return l;
}

let publishedTotal = 0;
// Runs publisher.js for count events; returns the Proc once it exited 0 with every ack.
function startPublisher(count, intervalMs) {
  const p = new Proc('publisher', 'publisher.js', {
    STAN_PUBLISH_COUNT: String(count),
    STAN_PUBLISH_INTERVAL_MS: String(intervalMs || 0),
  });
  p.first = publishedTotal + 1;
  p.last = publishedTotal + count;
  publishedTotal += count;
  return p;
}
async function finishPublisher(p) {
  const ex = await p.waitExit(40000, 'the publisher to get its acks and exit');
  check(ex.code === 0, `publisher exited with ${JSON.stringify(ex)}`);
  const want = p.last - p.first + 1;
  check(p.published === want, `publisher logged 'Event published' ${p.published} times, not ${want}`);
  info(`published events #${p.first}..#${p.last}`);
}
async function publish(count, intervalMs) {
  await finishPublisher(startPublisher(count, intervalMs));
}

// ---- deliveries ----

function range(a, b) {
  const r = [];
  for (let i = a; i <= b; i++) r.push(i);
  return r;
}
function deliveriesOf(listeners, seq) {
  const r = [];
  for (const l of listeners) {
    for (const d of l.deliveries) if (d.seq === seq) r.push(Object.assign({ by: l }, d));
  }
  return r;
}
function ackedBySomeone(listeners, seq) {
  return deliveriesOf(listeners, seq).some((d) => d.acked);
}
// Every event from..to reached exactly one of the listeners, once, not redelivered, acked,
// with the seed's data.
function checkExactlyOnce(listeners, from, to) {
  for (const seq of range(from, to)) {
    const ds = deliveriesOf(listeners, seq);
    check(ds.length === 1, `event #${seq} was delivered ${ds.length} times in the group ` +
      `(${ds.map((d) => `${d.by.name}${d.redelivered ? ' redelivered' : ''}`).join(', ')})`);
    check(!ds[0].redelivered, `event #${seq} came marked redelivered`);
    check(ds[0].acked, `event #${seq} was not acked by ${ds[0].by.name}`);
  }
  checkData(listeners);
}
function checkData(listeners) {
  for (const l of listeners) {
    check(l.received.length === l.deliveries.length,
      `${l.name} logged ${l.received.length} 'Received event' lines for ${l.deliveries.length} messages`);
    for (const r of l.received) {
      check(r.data === EXPECTED_DATA, `${l.name} got event #${r.seq} with data ${r.data}, ` +
        `not ${EXPECTED_DATA}`);
    }
  }
}
function split(listeners, from, to) {
  return listeners.map((l) => `${l.name}: ${l.deliveries.filter((d) => d.seq >= from &&
    d.seq <= to).map((d) => d.seq + (d.redelivered ? 'r' : '')).join(',') || '-'}`).join('; ');
}

// ---- monitoring ----

function getJSON(urlPath) {
  return new Promise((resolve, reject) => {
    const req = http.get(MONITOR + urlPath, { timeout: 3000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { body += c; });
      res.on('end', () => {
        if (res.statusCode !== 200) {
          reject(new Error(`GET ${urlPath}: HTTP ${res.statusCode}: ${body.slice(0, 200)}`));
          return;
        }
        try {
          resolve(JSON.parse(body));
        } catch (e) {
          reject(new Error(`GET ${urlPath}: not JSON: ${body.slice(0, 200)}`));
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${urlPath}: timed out`)));
    req.on('error', reject);
  });
}
async function clientIds() {
  const z = await getJSON('/streaming/clientsz');
  check(Array.isArray(z.clients) || z.clients == null, `clientsz: no clients array: ${JSON.stringify(z)}`);
  const ids = (z.clients || []).map((c) => c.id).sort();
  check(z.count === ids.length, `clientsz: count ${z.count} but ${ids.length} clients listed`);
  return ids;
}
async function channel() {
  const z = await getJSON('/streaming/channelsz?subs=1');
  const chans = z.channels || [];
  return chans.find((c) => c.name === SUBJECT) || null;
}
function sameSet(a, b) {
  const x = [...a].sort();
  const y = [...b].sort();
  return x.length === y.length && x.every((v, i) => v === y[i]);
}
// Waits until the channel lists exactly these listeners' queue subscriptions, with nothing
// pending; checks what each says of itself.
async function waitChannelSubs(listeners, msgs, what) {
  const want = listeners.map((l) => l.clientId);
  let last = null;
  const ch = await waitFor(async () => {
    const c = await channel();
    last = c;
    if (!c) return null;
    const subs = c.subscriptions || [];
    if (!sameSet(subs.map((s) => s.client_id), want)) return null;
    if (subs.some((s) => s.pending_count !== 0)) return null;
    if (c.msgs !== msgs || c.last_seq !== msgs) return null;
    return c;
  }, 10000, `channelsz to list ${SUBJECT} with ${msgs} messages and the subscriptions of ` +
    `${want.join(', ')}, nothing pending (${what}); last seen: ${JSON.stringify(last)}`);
  for (const s of ch.subscriptions) {
    check(typeof s.queue_name === 'string' && s.queue_name.includes(QUEUE_GROUP),
      `subscription of ${s.client_id}: queue_name ${JSON.stringify(s.queue_name)} does not name ${QUEUE_GROUP}`);
    check(s.queue_name.includes(DURABLE) || s.durable_name === DURABLE,
      `subscription of ${s.client_id}: neither queue_name ${JSON.stringify(s.queue_name)} ` +
      `nor durable_name ${JSON.stringify(s.durable_name)} names ${DURABLE}`);
    check(s.is_durable === true, `subscription of ${s.client_id}: is_durable is ${s.is_durable}`);
    check(s.is_offline === false, `subscription of ${s.client_id}: is_offline is ${s.is_offline}`);
    check(s.ack_wait === ACK_WAIT_MS / 1000, `subscription of ${s.client_id}: ack_wait ` +
      `${s.ack_wait}, not ${ACK_WAIT_MS / 1000}`);
  }
  info(`channelsz: ${SUBJECT} msgs=${ch.msgs} last_seq=${ch.last_seq} subs=` +
    ch.subscriptions.map((s) => `${s.client_id}[${s.queue_name} last_sent=${s.last_sent} ` +
      `pending=${s.pending_count}]`).join(' '));
  return ch;
}
async function waitClients(listeners, timeoutMs, what) {
  const want = listeners.map((l) => l.clientId);
  let last = null;
  await waitFor(async () => {
    last = await clientIds();
    return sameSet(last, want);
  }, timeoutMs, `clientsz to list exactly [${want.join(', ')}] (${what}); last seen: ` +
    `[${last === null ? '' : last.join(', ')}]`);
}

// ---- the flow ----

async function main() {
  step(1, 'monitoring', `${MONITOR}/streaming/serverz answers for cluster ${CLUSTER_ID}`);
  const serverz = await waitFor(async () => getJSON('/streaming/serverz'), 10000,
    '/streaming/serverz to answer');
  check(serverz.cluster_id === CLUSTER_ID, `serverz: cluster_id ${serverz.cluster_id}`);
  info(`serverz: cluster_id=${serverz.cluster_id} version=${serverz.version} state=${serverz.state} clients=${serverz.clients}`);
  check(sameSet(await clientIds(), []), 'clientsz lists clients before any connected');

  step(2, 'backlog', 'the publisher sends 5 events before any listener exists');
  await publish(5);
  const c2 = await waitFor(channel, 5000, `channelsz to list ${SUBJECT}`);
  check(c2.msgs === 5 && c2.last_seq === 5 && c2.first_seq === 1,
    `channelsz: ${SUBJECT} msgs=${c2.msgs} first_seq=${c2.first_seq} last_seq=${c2.last_seq}, not 5 from 1`);
  check(!c2.subscriptions || c2.subscriptions.length === 0, 'channelsz lists subscriptions already');
  await waitClients([], 3000, 'the publisher closed');

  step(3, 'queue group', `two listeners in ${QUEUE_GROUP} get the backlog (deliver all available), each event once`);
  const noAck = { STAN_TEST_NO_ACK_SEQ: '26' }; // for step 6
  const l1 = await startListener(noAck);
  const l2 = await startListener(noAck);
  await waitFor(() => range(1, 5).every((s) => ackedBySomeone([l1, l2], s)), 10000,
    'events #1..#5 to reach the listeners');
  await sleep(300);
  checkExactlyOnce([l1, l2], 1, 5);
  info(`split: ${split([l1, l2], 1, 5)}`);

  step(4, 'publish', '20 more events, each to exactly one listener of the group');
  await publish(20);
  await waitFor(() => range(6, 25).every((s) => ackedBySomeone([l1, l2], s)), 15000,
    'events #6..#25 to reach the listeners');
  await sleep(300);
  checkExactlyOnce([l1, l2], 1, 25);
  info(`split: ${split([l1, l2], 6, 25)}`);
  for (const l of [l1, l2]) {
    check(l.deliveries.some((d) => d.seq >= 6), `${l.name} got none of events #6..#25: the group did not share them`);
  }

  step(5, 'channelsz', `/streaming/channelsz?subs=1 lists ${SUBJECT} with both subscriptions, all acked`);
  await waitChannelSubs([l1, l2], 25, 'after step 4');
  await waitClients([l1, l2], 3000, 'the two listeners, the publisher closed');
  info(`clientsz: [${(await clientIds()).join(', ')}]`);

  step(6, 'ack wait', `event #26 is left unacked once; it must come back after ${ACK_WAIT_MS}ms, redelivered`);
  const p6 = startPublisher(1);
  await finishPublisher(p6);
  const first26 = await waitFor(() => deliveriesOf([l1, l2], 26).find((d) => !d.redelivered),
    5000, 'event #26 to reach a listener');
  check(!first26.acked, 'event #26 was acked on its first delivery');
  info(`event #26 first went to ${first26.by.name}, not acked`);
  const pend = await waitFor(async () => {
    const c = await channel();
    const n = c ? (c.subscriptions || []).reduce((a, s) => a + s.pending_count, 0) : 0;
    return n === 1 ? c : null;
  }, 3000, 'channelsz to show event #26 pending');
  info(`channelsz while #26 is unacked: ${pend.subscriptions.map((s) => `${s.client_id} pending=${s.pending_count}`).join(' ')}`);
  const re26 = await waitFor(() => deliveriesOf([l1, l2], 26).find((d) => d.redelivered),
    ACK_WAIT_MS + 8000, 'event #26 to be redelivered');
  const delay = re26.t - first26.t;
  info(`event #26 redelivered to ${re26.by.name} after ${delay}ms, isRedelivered() true`);
  check(delay >= ACK_WAIT_MS - 1000, `event #26 came back after ${delay}ms, before the ack wait ${ACK_WAIT_MS}ms`);
  check(re26.acked, 'the redelivered event #26 was not acked');
  await waitChannelSubs([l1, l2], 26, 'after the redelivery of #26');
  await sleep(300);
  const ds26 = deliveriesOf([l1, l2], 26);
  check(ds26.length === 2, `event #26 was delivered ${ds26.length} times, not twice`);
  // More than the ack wait has passed since #1..#25 were acked: none may have come back.
  checkExactlyOnce([l1, l2], 1, 25);

  step(7, 'restart', `${l1.name} stops acking and is killed (SIGKILL) mid-stream; a new listener takes over`);
  l1.signal('SIGUSR2');
  await waitFor(() => l1.ackingStopped, 3000, `${l1.name} to stop acking`);
  const p7 = startPublisher(30, 100); // events #27..#56 over 3 s
  // The reference server gives each event to the member with the fewest unacked ones, so the
  // listener that stopped acking gets one, then (mostly) none until it is gone.
  await waitFor(() => l1.deliveries.filter((d) => d.seq >= 27).length >= 1 || !p7.alive(), 10000,
    `${l1.name} to receive events of the new batch`);
  check(p7.alive(), 'the publisher finished before the listener could be killed mid-stream');
  l1.signal('SIGKILL');
  const tKill = Date.now();
  await l1.waitExit(3000);
  const unacked = l1.deliveries.filter((d) => d.seq >= 27 && !d.acked).map((d) => d.seq);
  info(`killed ${l1.name} (${l1.clientId}) holding unacked events ${unacked.join(',')}`);
  check(unacked.length >= 1, `${l1.name} held ${unacked.length} unacked events, expected 1 or more`);
  const l3 = await startListener(noAck);
  const idsNow = await clientIds();
  info(`clientsz right after the restart (${Date.now() - tKill}ms after the kill): ${idsNow.length} clients [${idsNow.join(', ')}]`);
  const listenerIds = idsNow.filter((id) => id !== 'abc');
  check(sameSet(listenerIds, [l1.clientId, l2.clientId, l3.clientId]),
    `clientsz right after the restart lists [${idsNow.join(', ')}], not the 3 listener ` +
    `clients ${l1.clientId} (killed), ${l2.clientId}, ${l3.clientId} (and maybe the publisher abc)`);
  await finishPublisher(p7);
  const idsAfterPub = await clientIds();
  if (idsAfterPub.includes(l1.clientId)) {
    info(`clientsz once the publisher closed: ${idsAfterPub.length} clients [${idsAfterPub.join(', ')}]`);
    check(idsAfterPub.length === 3, `clientsz once the publisher closed lists ${idsAfterPub.length} clients, not 3`);
  }
  await waitClients([l2, l3], Math.max(0, tKill + HB_LIMIT_WAIT_MS - Date.now()),
    `the killed ${l1.name} dropped after the heartbeat limit, within ${HB_LIMIT_WAIT_MS}ms of the kill`);
  info(`clientsz dropped the killed listener ${Date.now() - tKill}ms after the kill: 2 clients`);
  await waitFor(() => range(27, 56).every((s) => ackedBySomeone([l2, l3], s)), 20000,
    () => 'events #27..#56 all acked by the live listeners (nothing lost); missing: ' +
      range(27, 56).filter((s) => !ackedBySomeone([l2, l3], s)).join(','));
  for (const seq of unacked) {
    const ds = deliveriesOf([l2, l3], seq);
    check(ds.length >= 1 && ds.every((d) => d.redelivered),
      `event #${seq}, unacked by the killed listener, reached the others ` +
      `${ds.length} times, redelivered: ${ds.map((d) => d.redelivered).join(',')}`);
    info(`event #${seq} (unacked by ${l1.name}) redelivered to ${ds.map((d) => d.by.name).join(', ')}`);
  }
  check(l3.deliveries.every((d) => d.seq >= 27),
    `the new ${l3.name} got events from before it joined: ` +
    l3.deliveries.filter((d) => d.seq < 27).map((d) => d.seq).join(','));
  check(range(1, 26).every((s) =>
    deliveriesOf([l1, l2], s).length === (s === 26 ? 2 : 1)), 'an event acked before came back');
  for (const seq of range(27, 56)) {
    const fresh = deliveriesOf([l1, l2, l3], seq).filter((d) => !d.redelivered);
    check(fresh.length <= 1, `event #${seq} was delivered ${fresh.length} times not marked redelivered`);
  }
  info(`split of #27..#56: ${split([l1, l2, l3], 27, 56)}`);
  await waitChannelSubs([l2, l3], 56, 'after the restart');
  // Once the killed one is gone the group is the survivor and the new one: they share what
  // comes next (until then the reference server may favour the older member).
  await publish(10); // #57..#66
  await waitFor(() => range(57, 66).every((s) => ackedBySomeone([l2, l3], s)), 15000,
    'events #57..#66 to reach the listeners');
  await sleep(300);
  checkExactlyOnce([l2, l3], 57, 66);
  info(`split of #57..#66: ${split([l2, l3], 57, 66)}`);
  check(l3.deliveries.some((d) => d.seq >= 27 && !d.redelivered),
    `the new ${l3.name} received none of events #27..#66: it did not take over`);
  await waitChannelSubs([l2, l3], 66, 'after the restart');
  checkData([l2, l3]);

  step(8, 'graceful close', `SIGTERM to ${l2.name}, SIGINT to ${l3.name}: 'close' fires, exit 0, dropped at once`);
  for (const [l, sig, rest] of [[l2, 'SIGTERM', [l3]], [l3, 'SIGINT', []]]) {
    const tSig = Date.now();
    l.signal(sig);
    const ex = await l.waitExit(5000, `${l.name} to exit after ${sig}`);
    check(l.closedLogged, `${l.name} did not log 'NATS connection closed!' after ${sig}`);
    check(ex.code === 0 && ex.signal === null, `${l.name} exited with ${JSON.stringify(ex)} after ${sig}`);
    check(!l.lines.some((x) => x.startsWith('(test) connection error')), `${l.name}: connection error`);
    await waitClients(rest, 2000, `${l.name} closed (not the heartbeat limit)`);
    info(`${l.name} closed on ${sig} and was dropped from clientsz within ${Date.now() - tSig}ms`);
  }

  step(9, 'durable', 'events published while the group has no member go to the next listener that joins');
  const p9 = startPublisher(3);
  await finishPublisher(p9);
  const l4 = await startListener({});
  await waitFor(() => range(p9.first, p9.last).every((s) => ackedBySomeone([l4], s)), 10000,
    `events #${p9.first}..#${p9.last} to reach ${l4.name}`);
  await sleep(1000);
  check(l4.deliveries.every((d) => d.seq >= p9.first),
    `${l4.name} got events the group had acked before: ` +
    l4.deliveries.filter((d) => d.seq < p9.first).map((d) => d.seq).join(','));
  checkExactlyOnce([l4], p9.first, p9.last);
  await waitChannelSubs([l4], p9.last, 'after the durable resume');
  l4.signal('SIGTERM');
  const ex4 = await l4.waitExit(5000);
  check(l4.closedLogged && ex4.code === 0, `${l4.name} did not close cleanly: ${JSON.stringify(ex4)}`);
  await waitClients([], 2000, 'every client closed');
}

function killAll() {
  for (const p of procs) {
    if (p.alive()) {
      try {
        process.kill(p.pid, 'SIGKILL');
      } catch (e) {
        // already gone
      }
    }
  }
}

// Kills what is still running, reaps it (bounded), exits.
let exiting = false;
function exitWith(code) {
  if (exiting) return;
  exiting = true;
  killAll();
  Promise.race([Promise.all(procs.map((p) => p.exitPromise)), sleep(3000)])
    .then(() => process.exit(code));
}

const overall = setTimeout(() => {
  console.log(`FAIL step ${stepName}: the whole run passed ${TOTAL_TIMEOUT_MS}ms`);
  exitWith(1);
}, TOTAL_TIMEOUT_MS);

// Stopped from outside (the runner's timeout or its own stop, meson): no client left behind.
for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP']) {
  process.on(sig, () => {
    console.log(`FAIL step ${stepName}: stopped by ${sig}`);
    exitWith(1);
  });
}

main().then(() => {
  clearTimeout(overall);
  console.log(`PASS: the seed's publisher and listeners against ${STAN_URL} (${elapsed()})`);
  exitWith(0);
}, (e) => {
  clearTimeout(overall);
  console.log(`FAIL step ${stepName}: ${e instanceof StepFailure ? e.message : e.stack}`);
  exitWith(1);
});
