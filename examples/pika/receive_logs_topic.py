#!/usr/bin/env python
"""Tutorial 5 (Topics), subscriber: print the log lines whose key matches a binding pattern.

In a pattern, "*" stands for exactly one word and "#" for zero or more words.
"""

import os
import sys

import pika


def main() -> int:
    binding_keys = sys.argv[1:]
    if not binding_keys:
        print(f"Usage: {sys.argv[0]} [binding_key]...", file=sys.stderr)
        return 1

    with pika.BlockingConnection(
        pika.URLParameters(os.environ.get("AMQP_URL", "amqp://guest:guest@localhost:5672/%2F"))
    ) as connection:
        channel = connection.channel()
        channel.exchange_declare(exchange="topic_logs", exchange_type="topic")

        result = channel.queue_declare(queue="", exclusive=True)
        queue_name = result.method.queue
        for binding_key in binding_keys:
            channel.queue_bind(exchange="topic_logs", queue=queue_name, routing_key=binding_key)

        def callback(ch, method, properties, body):
            print(f" [x] {method.routing_key!r}:{body.decode()!r}")

        channel.basic_consume(queue=queue_name, on_message_callback=callback, auto_ack=True)
        print(" [*] Waiting for logs. To exit press CTRL+C")
        channel.start_consuming()
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print(" [*] Interrupted, exiting")
