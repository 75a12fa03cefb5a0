#!/usr/bin/env python
"""Tutorial 3 (Publish/Subscribe), producer: broadcast one log line on the fanout exchange "logs"."""

import os
import sys

import pika

connection = pika.BlockingConnection(
    pika.URLParameters(os.environ.get("AMQP_URL", "amqp://guest:guest@localhost:5672/%2F"))
)
channel = connection.channel()

# Publishing to an exchange that does not exist is an error, so declare it first.
channel.exchange_declare(exchange="logs", exchange_type="fanout")

message = " ".join(sys.argv[1:]) or "info: Hello World!"
# A fanout exchange ignores the routing key.
channel.basic_publish(exchange="logs", routing_key="", body=message.encode())
print(f" [x] Sent {message!r}")
connection.close()
