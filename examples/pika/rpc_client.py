#!/usr/bin/env python
"""Tutorial 6 (RPC), client: ask the server for fib(30) and wait for the matching reply."""

import os
import uuid

import pika


class FibonacciRpcClient:
    """Sends requests to "rpc_queue" and collects replies on its own exclusive queue."""

    def __init__(self) -> None:
        self.connection = pika.BlockingConnection(
            pika.URLParameters(os.environ.get("AMQP_URL", "amqp://guest:guest@localhost:5672/%2F"))
        )
        self.channel = self.connection.channel()

        result = self.channel.queue_declare(queue="", exclusive=True)
        self.callback_queue = result.method.queue
        self.channel.basic_consume(
            queue=self.callback_queue, on_message_callback=self.on_response, auto_ack=True
        )

        self.response: bytes | None = None
        self.corr_id: str | None = None

    def on_response(self, ch, method, props, body):
        # A reply to an earlier, abandoned request has another id: drop it.
        if props.correlation_id == self.corr_id:
            self.response = body

    def call(self, n: int) -> int:
        self.response = None
        self.corr_id = str(uuid.uuid4())
        self.channel.basic_publish(
            exchange="",
            routing_key="rpc_queue",
            properties=pika.BasicProperties(
                reply_to=self.callback_queue, correlation_id=self.corr_id
            ),
            body=str(n).encode(),
        )
        while self.response is None:
            self.connection.process_data_events(time_limit=1)
        return int(self.response)

    def close(self) -> None:
        self.connection.close()


fibonacci_rpc = FibonacciRpcClient()
print(" [x] Requesting fib(30)")
response = fibonacci_rpc.call(30)
print(f" [.] Got {response}")
fibonacci_rpc.close()
