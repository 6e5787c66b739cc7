// A small MQTT client built on MQTT.js (npm), as a device under test.
//
// hilt runs it once per stimulus of the mqtt-client suite (see suites/mqtt_client.rs
// and targets/devices/mqttjs.yaml):
//
//   node mqttjs-client.js STIMULUS HOST PORT LEVEL CLIENT_ID KEEPALIVE TOPIC QOS COUNT PAYLOAD
//
// It does what an application on MQTT.js would: connect (the library reconnects after
// a lost connection), subscribe or publish once connected, print each message's
// payload on a line of its own, and end when the stimulus is done.
'use strict';
const mqtt = require('mqtt');

const [stimulus, host, port, level, clientId, keepalive, topic, qos, count, payload] =
    process.argv.slice(2);
const persistent = stimulus === 'publish-session';
const v5 = level === '5';
const options = {
    protocolVersion: v5 ? 5 : 4,
    clientId,
    keepalive: Number(keepalive),
    clean: !persistent,
    reconnectPeriod: 1000,
    connectTimeout: 10000,
};
if (v5 && persistent) {
    options.properties = { sessionExpiryInterval: 300 };
}
const client = mqtt.connect(`mqtt://${host}:${port}`, options);
const want = persistent ? 1 : Number(count);
let received = 0;
let published = 0;
let sent = false;

client.on('connect', () => {
    if (['connect', 'subscribe', 'unsubscribe'].includes(stimulus)) {
        client.subscribe(topic, { qos: Number(qos) }, () => {
            if (stimulus === 'unsubscribe') {
                client.unsubscribe(topic, () => client.end());
            }
        });
    } else if (!sent) {
        // After a reconnection the library itself resends what is still in flight.
        sent = true;
        for (let n = 0; n < want; n++) {
            client.publish(topic, payload, { qos: Number(qos) }, () => {
                published += 1;
                if (published >= want) {
                    client.end();
                }
            });
        }
    }
});

client.on('message', (_topic, message) => {
    process.stdout.write(`${message.toString()}\n`);
    received += 1;
    if (stimulus === 'subscribe' && received >= want) {
        client.end();
    }
});

client.on('error', (e) => process.stderr.write(`mqtt.js: ${e.message}\n`));
