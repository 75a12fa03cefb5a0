#!/usr/bin/env python
"""Tutorial 4 (Routing), subscriber: print the log lines of the severities named on the command line."""

import os
import sys

import pika


def main() -> int:
    severities = sys.argv[1:]
    if not severities:
        print(f"Usage: {sys.argv[0]} [info] [warning] [error]", file=sys.stderr)
        return 1

    with pika.BlockingConnection(
        pika.URLParameters(os.environ.get("AMQP_URL", "amqp://guest:guest@localhost:5672/%2F"))
    ) as connection:
        channel = connection.channel()
        channel.exchange_declare(exchange="direct_logs", exchange_type="direct")

        result = channel.queue_declare(queue="", exclusive=True)
        queue_name = result.method.queue
        # One binding per severity: the direct exchange matches the key exactly.
        for severity in severities:
            channel.queue_bind(exchange="direct_logs", queue=queue_name, routing_key=severity)

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
