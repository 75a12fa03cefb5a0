#!/usr/bin/env python
"""Tutorial 2 (Work queues), worker: take one task at a time, "work" a second per dot, then ack."""

import os
import time

import pika


def main() -> None:
    with pika.BlockingConnection(
        pika.URLParameters(os.environ.get("AMQP_URL", "amqp://guest:guest@localhost:5672/%2F"))
    ) as connection:
        channel = connection.channel()
        channel.queue_declare(queue="task_queue", durable=True)

        def callback(ch, method, properties, body):
            print(f" [x] Received {body.decode()!r}")
            time.sleep(body.count(b"."))
            # Ack only once the work is done: a worker that dies mid-task gives it back.
            ch.basic_ack(delivery_tag=method.delivery_tag)
            print(" [x] Done")

        # At most one unacknowledged task per worker, so a busy worker gets no more.
        channel.basic_qos(prefetch_count=1)
        channel.basic_consume(queue="task_queue", on_message_callback=callback)
        print(" [*] Waiting for messages. To exit press CTRL+C")
        channel.start_consuming()


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        print(" [*] Interrupted, exiting")
