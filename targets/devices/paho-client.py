"""A small MQTT client built on paho-mqtt (PyPI), as a device under test.

hilt runs it once per stimulus of the mqtt-client suite (see suites/mqtt_client.rs and
targets/devices/paho-mqtt.yaml):

    paho-client.py STIMULUS HOST PORT LEVEL CLIENT_ID KEEPALIVE TOPIC QOS COUNT PAYLOAD

It does what an application on paho-mqtt would: connect, subscribe or publish through
the library's own network loop (which reconnects after a lost connection), print each
message's payload on a line of its own, and exit when the stimulus is done.
"""

import sys
import threading

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties


def main():
    stimulus, host, port, level, client_id, keepalive, topic, qos, count, payload = sys.argv[1:11]
    port, keepalive, qos, count = int(port), int(keepalive), int(qos), int(count)
    if stimulus == "publish-session":
        count = 1
    v5 = level == "5"
    persistent = stimulus == "publish-session"
    kwargs = {"callback_api_version": mqtt.CallbackAPIVersion.VERSION2, "client_id": client_id}
    if v5:
        kwargs["protocol"] = mqtt.MQTTv5
    else:
        kwargs["protocol"] = mqtt.MQTTv311
        kwargs["clean_session"] = not persistent
    client = mqtt.Client(**kwargs)
    client.reconnect_delay_set(min_delay=1, max_delay=2)
    done = threading.Event()
    received = [0]
    published = []
    sent = [False]

    def on_connect(c, _userdata, _flags, reason, _props):
        if reason.is_failure:
            return
        if stimulus in ("connect", "subscribe", "unsubscribe"):
            c.subscribe(topic, qos)
        elif not published and not sent[0]:
            # An application publishes once it is connected; after a reconnection the
            # library itself resends what is still in flight.
            sent[0] = True
            for _ in range(count):
                c.publish(topic, payload, qos)

    def on_subscribe(c, _userdata, _mid, _codes, _props):
        if stimulus == "unsubscribe":
            c.unsubscribe(topic)

    def on_unsubscribe(_c, _userdata, _mid, _codes, _props):
        done.set()

    def on_message(_c, _userdata, msg):
        print(msg.payload.decode("utf-8", "replace"), flush=True)
        received[0] += 1
        if stimulus == "subscribe" and received[0] >= count:
            done.set()

    def on_publish(_c, _userdata, mid, _reason, _props):
        published.append(mid)
        if len(published) >= count:
            done.set()

    client.on_connect = on_connect
    client.on_subscribe = on_subscribe
    client.on_unsubscribe = on_unsubscribe
    client.on_message = on_message
    client.on_publish = on_publish

    connect_args = {}
    if v5:
        connect_args["clean_start"] = not persistent
        if persistent:
            props = Properties(PacketTypes.CONNECT)
            props.SessionExpiryInterval = 300
            connect_args["properties"] = props
    client.connect(host, port, keepalive, **connect_args)
    client.loop_start()
    if stimulus == "connect":
        threading.Event().wait()
    done.wait()
    client.disconnect()
    client.loop_stop()


if __name__ == "__main__":
    main()
