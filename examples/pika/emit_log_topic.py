#!/usr/bin/env python
"""Tutorial 5 (Topics), producer: publish a log line under a "<facility>.<severity>" routing key."""

import os
import sys

import pika

connection = pika.BlockingConnection(
    pika.URLParameters(os.environ.get("AMQP_URL", "amqp://guest:guest@localhost:5672/%2F"))
)
channel = connection.channel()

channel.exchange_declare(exchange="topic_logs", exchange_type="topic")

routing_key = sys.argv[1] if len(sys.argv) > 1 else "anonymous.info"
message = " ".join(sys.argv[2:]) or "Hello World!"
channel.basic_publish(exchange="topic_logs", routing_key=routing_key, body=message.encode())
print(f" [x] Sent {routing_key!r}:{message!r}")
connection.close()
