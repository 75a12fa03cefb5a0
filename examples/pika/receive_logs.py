#!/usr/bin/env python
"""Tutorial 3 (Publish/Subscribe), subscriber: print every log line broadcast on "logs"."""

import os

import pika


def main() -> None:
    with pika.BlockingConnection(
        pika.URLParameters(os.environ.get("AMQP_URL", "amqp://guest:guest@localhost:5672/%2F"))
    ) as connection:
        channel = connection.channel()
        channel.exchange_declare(exchange="logs", exchange_type="fanout")

        # A fresh server-named queue that disappears with this connection.
        result = channel.queue_declare(queue="", exclusive=True)
        queue_name = result.method.queue
        channel.queue_bind(exchange="logs", queue=queue_name)

        def callback(ch, method, properties, body):
            print(f" [x] {body.decode()!r}")

        channel.basic_consume(queue=queue_name, on_message_callback=callback, auto_ack=True)
        print(" [*] Waiting for logs. To exit press CTRL+C")
        channel.start_consuming()


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        print(" [*] Interrupted, exiting")
