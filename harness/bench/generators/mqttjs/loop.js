// `node loop.js HOST PORT SECONDS PAYLOAD_BYTES`: connects (printing `connected` once
// the CONNACK is in), publishes QoS 0 messages of PAYLOAD_BYTES to one topic as fast as
// MQTT.js allows for SECONDS, then disconnects and prints the number of PUBLISHes
// written. Backpressure as MQTT.js users handle it:
// a batch at a time, the next one when the last PUBLISH of the batch has been written.
'use strict';
const mqtt = require('mqtt');

const [host, port, seconds, payloadBytes] = process.argv.slice(2);
if (payloadBytes === undefined) {
  console.error('usage: node loop.js HOST PORT SECONDS PAYLOAD_BYTES');
  process.exit(2);
}
const payload = Buffer.alloc(Number(payloadBytes), 0x5a);
const opts = { qos: 0 };
const BATCH = 64;
let published = 0;
let deadline = 0;

const client = mqtt.connect({
  host,
  port: Number(port),
  protocolVersion: 4,
  clientId: 'mqttjs-loop',
  keepalive: 60,
  reconnectPeriod: 0,
});
client.on('error', (e) => {
  console.error(`mqttjs-loop: ${e.message}`);
  process.exit(1);
});

function batch() {
  if (Date.now() >= deadline) {
    client.end(false, () => {
      console.log(String(published));
      process.exit(0);
    });
    return;
  }
  for (let i = 1; i < BATCH; i++) client.publish('hilt/eff', payload, opts);
  client.publish('hilt/eff', payload, opts, () => setImmediate(batch));
  published += BATCH;
}

client.on('connect', () => {
  console.log('connected');
  deadline = Date.now() + Number(seconds) * 1000;
  batch();
});
