#!/usr/bin/env python
"""Tutorial 6 (RPC), server: answer fib(n) requests from "rpc_queue" on each request's reply_to queue."""

import os

import pika


def fib(n: int) -> int:
    # Deliberately slow (naive recursion): the tutorial wants a task worth handing off.
    if n < 2:
        return n
    return fib(n - 1) + fib(n - 2)


def main() -> None:
    with pika.BlockingConnection(
        pika.URLParameters(os.environ.get("AMQP_URL", "amqp://guest:guest@localhost:5672/%2F"))
    ) as connection:
        channel = connection.channel()
        channel.queue_declare(queue="rpc_queue")

        def on_request(ch, method, props, body):
            n = int(body)
            print(f" [.] fib({n})")
            response = fib(n)
            # The reply carries the request's correlation_id so the client can match it.
            ch.basic_publish(
                exchange="",
                routing_key=props.reply_to,
                properties=pika.BasicProperties(correlation_id=props.correlation_id),
                body=str(response).encode(),
            )
            ch.basic_ack(delivery_tag=method.delivery_tag)

        # One request at a time per server, so several servers share the load evenly.
        channel.basic_qos(prefetch_count=1)
        channel.basic_consume(queue="rpc_queue", on_message_callback=on_request)
        print(" [x] Awaiting RPC requests")
        channel.start_consuming()


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        print(" [*] Interrupted, exiting")
