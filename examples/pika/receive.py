#!/usr/bin/env python
"""Tutorial 1 (Hello World), consumer: print every message that arrives on "hello"."""

import os

import pika


def main() -> None:
    with pika.BlockingConnection(
        pika.URLParameters(os.environ.get("AMQP_URL", "amqp://guest:guest@localhost:5672/%2F"))
    ) as connection:
        channel = connection.channel()
        channel.queue_declare(queue="hello")

        def callback(ch, method, properties, body):
            print(f" [x] Received {body.decode()!r}")

        channel.basic_consume(queue="hello", on_message_callback=callback, auto_ack=True)
        print(" [*] Waiting for messages. To exit press CTRL+C")
        channel.start_consuming()


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        print(" [*] Interrupted, exiting")
