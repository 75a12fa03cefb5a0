"""A small order-processing application written against pika 1.x, nothing else.

It is what an application author moves from amqpmodel to RabbitMQ by changing
a URL: a topic exchange feeding a work queue, workers with manual acks and a
prefetch, failed orders retried through a TTL queue and parked after three
attempts (dead-lettering, ``x-death``), a pricing service over RPC
(``reply_to``/``correlation_id``), and publishes with confirms and
``mandatory``. The three-way tests run it on the pika drop-in, on real pika
over ``serve()``, and on RabbitMQ.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from typing import Any

import pika
import pika.adapters.blocking_connection

Connect = Callable[[], pika.adapters.blocking_connection.BlockingConnection]

RETRY_DELAY_MS = 100
MAX_ATTEMPTS = 3


class OrdersApp:
    def __init__(self, connect: Connect, prefix: str) -> None:
        self.connect = connect
        self.prefix = prefix
        self.exchange = f"{prefix}.orders"
        self.retry_exchange = f"{prefix}.retry"
        self.work_queue = f"{prefix}.work"
        self.retry_queue = f"{prefix}.retry-wait"
        self.parked_queue = f"{prefix}.parked"
        self.rpc_queue = f"{prefix}.pricing"

    def declare(self, channel: Any) -> None:
        channel.exchange_declare(self.exchange, exchange_type="topic")
        channel.exchange_declare(self.retry_exchange, exchange_type="fanout")
        channel.queue_declare(
            self.work_queue, arguments={"x-dead-letter-exchange": self.retry_exchange}
        )
        channel.queue_bind(self.work_queue, self.exchange, routing_key="order.*")
        channel.queue_declare(
            self.retry_queue,
            arguments={
                "x-message-ttl": RETRY_DELAY_MS,
                "x-dead-letter-exchange": self.exchange,  # back with its own routing key
            },
        )
        channel.queue_bind(self.retry_queue, self.retry_exchange)
        channel.queue_declare(self.parked_queue)
        channel.queue_declare(self.rpc_queue)

    def delete(self, channel: Any) -> None:
        for queue in (self.work_queue, self.retry_queue, self.parked_queue, self.rpc_queue):
            channel.queue_delete(queue)
        for exchange in (self.exchange, self.retry_exchange):
            channel.exchange_delete(exchange)

    def place(self, channel: Any, kind: str, order_id: str, **headers: Any) -> None:
        """Publish an order (the channel is in confirm mode: this returns once confirmed)."""
        channel.basic_publish(
            self.exchange,
            f"order.{kind}",
            order_id.encode(),
            pika.BasicProperties(
                content_type="text/plain", delivery_mode=2, message_id=order_id, headers=headers
            ),
            mandatory=True,
        )

    @staticmethod
    def attempts(properties: Any) -> int:
        """How many times the order was tried before (from x-death, spec 4)."""
        for death in (properties.headers or {}).get("x-death", []):
            if death["reason"] == "rejected":
                return int(death["count"])
        return 0

    def work(
        self,
        channel: Any,
        handle: Callable[[bytes, Any], None],
        until: Callable[[], bool],
        prefetch: int = 2,
    ) -> list[tuple[str, bytes]]:
        """Process orders until ``until()``: ack what ``handle`` accepts; a failure goes
        to the retry queue (nack without requeue), and after MAX_ATTEMPTS to parked."""
        outcome: list[tuple[str, bytes]] = []
        channel.basic_qos(prefetch_count=prefetch)
        for method, properties, body in channel.consume(self.work_queue, inactivity_timeout=0.05):
            if method is not None:
                try:
                    handle(body, properties)
                except ValueError:
                    if self.attempts(properties) + 1 >= MAX_ATTEMPTS:
                        channel.basic_publish(
                            "", self.parked_queue, body, properties, mandatory=True
                        )
                        channel.basic_ack(method.delivery_tag)
                        outcome.append(("parked", body))
                    else:
                        channel.basic_nack(method.delivery_tag, requeue=False)
                        outcome.append(("retry", body))
                else:
                    channel.basic_ack(method.delivery_tag)
                    outcome.append(("done", body))
            if until():
                break
        channel.cancel()
        return outcome

    # ----------------------------------------------------------------- RPC

    def serve_prices(self, ready: threading.Event, stop: threading.Event) -> None:
        """The pricing service: answers each request on its reply_to queue."""
        connection = self.connect()
        channel = connection.channel()
        channel.basic_qos(prefetch_count=1)

        def on_request(ch: Any, method: Any, props: Any, body: bytes) -> None:
            price = 10 * len(body)
            ch.basic_publish(
                "",
                props.reply_to,
                str(price).encode(),
                pika.BasicProperties(correlation_id=props.correlation_id),
            )
            ch.basic_ack(method.delivery_tag)

        channel.basic_consume(self.rpc_queue, on_request)
        ready.set()
        while not stop.is_set():
            connection.process_data_events(time_limit=0.05)
        connection.close()

    def price(self, connection: Any, item: str, timeout: float = 5.0) -> int:
        channel = connection.channel()
        reply_queue = channel.queue_declare("", exclusive=True).method.queue
        answers: dict[str, bytes] = {}

        def on_reply(ch: Any, method: Any, props: Any, body: bytes) -> None:
            answers[props.correlation_id] = body

        channel.basic_consume(reply_queue, on_reply, auto_ack=True)
        correlation_id = str(uuid.uuid4())
        channel.basic_publish(
            "",
            self.rpc_queue,
            item.encode(),
            pika.BasicProperties(reply_to=reply_queue, correlation_id=correlation_id),
        )
        waited = 0.0
        while correlation_id not in answers and waited < timeout:
            connection.process_data_events(time_limit=0.05)
            waited += 0.05
        channel.close()
        return int(answers[correlation_id])
