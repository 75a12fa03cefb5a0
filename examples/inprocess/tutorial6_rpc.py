"""RabbitMQ tutorial 6, "Remote procedure call (RPC)", run in process on amqpmodel.

rpc_server.py becomes a server thread on its own connection, consuming
``rpc_queue`` with ``prefetch_count=1`` and manual acks and answering each
request to its ``reply_to`` queue with the request's ``correlation_id``.
rpc_client.py becomes FibonacciRpcClient in the main thread: one exclusive
callback queue, a fresh correlation id per call, and replies whose id does
not match are ignored. Every line is printed in causal order (request, work,
reply), so the output is the same on every run.
Run it with ``python examples/inprocess/tutorial6_rpc.py``.
"""

from __future__ import annotations

import threading
import uuid
from typing import Any

from amqpmodel import BasicProperties, Broker

REQUESTS = [0, 1, 4, 10, 30]


def fib(n: int) -> int:
    """The n-th Fibonacci number (iterative: the tutorial's recursion is slow for 30)."""
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a


class RpcServer(threading.Thread):
    """rpc_server.py: compute fib(n) for each request and reply to reply_to."""

    def __init__(self, broker: Broker) -> None:
        super().__init__(name="rpc-server")
        self.connection = broker.connect()
        self.channel = self.connection.channel()
        self.channel.queue_declare(queue="rpc_queue")
        self.channel.basic_qos(prefetch_count=1)
        self.channel.basic_consume(queue="rpc_queue", on_message_callback=self.on_request)

    def on_request(self, ch: Any, method: Any, props: Any, body: bytes) -> None:
        n = int(body)
        print(f" [.] fib({n})")
        ch.basic_publish(
            exchange="",
            routing_key=props.reply_to,
            properties=BasicProperties(correlation_id=props.correlation_id),
            body=str(fib(n)),
        )
        ch.basic_ack(delivery_tag=method.delivery_tag)

    def run(self) -> None:
        self.channel.start_consuming()
        self.connection.close()

    def shutdown(self) -> None:
        # stop_consuming must run on the server's own thread: ask its connection to run it
        self.connection.add_callback_threadsafe(self.channel.stop_consuming)
        self.join(timeout=10)


class FibonacciRpcClient:
    """rpc_client.py: ``call(n)`` publishes a request and blocks until its reply."""

    def __init__(self, broker: Broker) -> None:
        self.connection = broker.connect()
        self.channel = self.connection.channel()
        result = self.channel.queue_declare(queue="", exclusive=True)
        self.callback_queue = result.method.queue
        self.channel.basic_consume(
            queue=self.callback_queue, on_message_callback=self.on_response, auto_ack=True
        )
        self.corr_id: str | None = None
        self.response: bytes | None = None
        self.ignored = 0

    def on_response(self, ch: Any, method: Any, props: Any, body: bytes) -> None:
        if props.correlation_id == self.corr_id:
            self.response = body
        else:
            self.ignored += 1  # a late or duplicate reply: not ours, drop it

    def call(self, n: int) -> int:
        self.response = None
        self.corr_id = str(uuid.uuid4())
        self.channel.basic_publish(
            exchange="",
            routing_key="rpc_queue",
            properties=BasicProperties(reply_to=self.callback_queue, correlation_id=self.corr_id),
            body=str(n),
        )
        while self.response is None:
            self.connection.process_data_events(time_limit=1)
        return int(self.response)


def main() -> None:
    broker = Broker()
    server = RpcServer(broker)
    server.start()
    print(" [x] Awaiting RPC requests")

    client = FibonacciRpcClient(broker)
    # a stray reply already waiting in the callback queue, as after a server restart
    client.channel.basic_publish(
        exchange="",
        routing_key=client.callback_queue,
        properties=BasicProperties(correlation_id="left-over"),
        body="999",
    )
    for n in REQUESTS:
        print(f" [x] Requesting fib({n})")
        print(f" [.] Got {client.call(n)}")
    print(f" [*] replies ignored for an unknown correlation_id: {client.ignored}")

    server.shutdown()
    client.connection.close()
    queue = broker.queues["rpc_queue"]
    print(
        f" [*] rpc_queue: {queue.messages_ready} ready, {queue.messages_unacknowledged} unacknowledged"
    )
    print(f" [*] server thread finished: {not server.is_alive()}")


if __name__ == "__main__":
    main()
