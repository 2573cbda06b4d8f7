// The seed user's publisher (shared/seeds/000, publisher.ts) in plain CommonJS: client id
// 'abc' on cluster 'ticketing', publishes the ticket:created event with the seed's data and
// logs 'Event published' from each publish's ack callback.
//
// What differs from the seed: the url comes from $STAN_URL (the seed's
// 'http://localhost:4222' is the default); it publishes $STAN_PUBLISH_COUNT events (default
// 1), $STAN_PUBLISH_INTERVAL_MS apart (default 0, all at once), waits for every ack callback,
// then closes and exits: 0 when every publish was acked without error, 1 otherwise (also
// when the acks do not all come within $STAN_PUBLISH_TIMEOUT_MS, default 30000). Lines
// starting "(test)" are for tests/stan/node/seed000.js.
const nats = require('node-nats-streaming');

const count = Number(process.env.STAN_PUBLISH_COUNT || 1);
const intervalMs = Number(process.env.STAN_PUBLISH_INTERVAL_MS || 0);
const timeoutMs = Number(process.env.STAN_PUBLISH_TIMEOUT_MS || 30000);

const stan = nats.connect('ticketing', 'abc', {
  url: process.env.STAN_URL || 'http://localhost:4222',
});

let acked = 0;
let failed = 0;
let exitCode = 1;

const finish = (code) => {
  exitCode = code;
  clearTimeout(deadline);
  stan.close();
};

const deadline = setTimeout(() => {
  console.log(`(test) only ${acked} of ${count} publishes acked within ${timeoutMs}ms`);
  process.exit(1);
}, timeoutMs);

stan.on('connect', () => {
  console.log('Publisher connected to NATS');

  const data = JSON.stringify({
    id: '123',
    title: 'concert',
    price: 20,
  });

  let sent = 0;
  const publishOne = () => {
    stan.publish('ticket:created', data, (err, guid) => {
      if (err) {
        failed++;
        console.log(`(test) publish ${guid} failed: ${err}`);
      } else {
        acked++;
        console.log('Event published');
      }
      if (acked + failed === count) {
        finish(failed === 0 ? 0 : 1);
      }
    });
    sent++;
    if (sent < count) {
      if (intervalMs > 0) {
        setTimeout(publishOne, intervalMs);
      } else {
        setImmediate(publishOne);
      }
    }
  };
  publishOne();
});

stan.on('error', (err) => {
  console.log(`(test) connection error: ${err}`);
  process.exit(1);
});

stan.on('close', () => {
  console.log(`(test) publisher closed: ${acked} acked, ${failed} failed`);
  process.exit(exitCode);
});
