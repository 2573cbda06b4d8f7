// The seed user's listener (shared/seeds/000, "Section 14: NATS Streaming Server"), as the
// course writes it in listener.ts, in plain CommonJS: a random client id, the queue group
// orders-service-queue-group, manual acks, setAckWait, setDeliverAllAvailable, the durable
// name accounting-service, and a graceful close on SIGINT/SIGTERM.
//
// What differs from the seed: the url comes from $STAN_URL (the seed's
// 'http://localhost:4222' is the default), and lines starting "(test)" are added for
// tests/stan/node/seed000.js, which drives it. Test hooks, off unless asked for:
//   STAN_TEST_NO_ACK_SEQ=5,9   the first delivery (not redelivered) of these sequences is
//                              not acked, so it comes back after the ack wait
//   SIGUSR2                    stop acking from now on (a listener that hangs mid-stream,
//                              before it is killed)
const nats = require('node-nats-streaming');
const { randomBytes } = require('crypto');

const stan = nats.connect('ticketing', randomBytes(4).toString('hex'), {
  url: process.env.STAN_URL || 'http://localhost:4222',
});

// ---- test hooks (not in the seed) ----
const noAckSeqs = new Set(
  (process.env.STAN_TEST_NO_ACK_SEQ || '')
    .split(',')
    .filter((s) => s !== '')
    .map(Number)
);
let ackingStopped = false;
process.on('SIGUSR2', () => {
  ackingStopped = true;
  console.log('(test) acking stopped');
});
// Whether this delivery is to be left unacked; says what happens to it either way.
const testLeaveUnacked = (msg) => {
  const seq = msg.getSequence();
  const redelivered = msg.isRedelivered();
  const leave = ackingStopped || (!redelivered && noAckSeqs.has(seq));
  console.log(
    `(test) event #${seq} redelivered=${redelivered} ack=${leave ? 'no' : 'yes'}`
  );
  return leave;
};
// ---- end of test hooks ----

stan.on('connect', () => {
  console.log('Listener connected to NATS');
  console.log(`(test) client id ${stan.clientID}`);

  stan.on('close', () => {
    console.log('NATS connection closed!');
    process.exit();
  });

  const options = stan
    .subscriptionOptions()
    .setManualAckMode(true)
    .setAckWait(5 * 1000)
    .setDeliverAllAvailable()
    .setDurableName('accounting-service');

  const subscription = stan.subscribe(
    'ticket:created',
    'orders-service-queue-group',
    options
  );

  subscription.on('ready', () => {
    console.log('(test) subscription ready');
  });
  subscription.on('error', (err) => {
    console.log(`(test) subscription error: ${err}`);
  });

  subscription.on('message', (msg) => {
    const data = msg.getData();

    if (typeof data === 'string') {
      console.log(`Received event #${msg.getSequence()}, with data: ${data}`);
    }

    if (testLeaveUnacked(msg)) {
      return;
    }
    msg.ack();
  });
});

stan.on('error', (err) => {
  console.log(`(test) connection error: ${err}`);
});

process.on('SIGINT', () => stan.close());
process.on('SIGTERM', () => stan.close());
