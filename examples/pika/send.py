#!/usr/bin/env python
"""Tutorial 1 (Hello World), producer: put one message on the queue "hello"."""

import os

import pika

connection = pika.BlockingConnection(
    pika.URLParameters(os.environ.get("AMQP_URL", "amqp://guest:guest@localhost:5672/%2F"))
)
channel = connection.channel()

# Declaring is idempotent; whichever of send.py and receive.py starts first creates it.
channel.queue_declare(queue="hello")

channel.basic_publish(exchange="", routing_key="hello", body=b"Hello World!")
print(" [x] Sent 'Hello World!'")

# Closing cleanly flushes the publish to the broker before the script exits.
connection.close()
