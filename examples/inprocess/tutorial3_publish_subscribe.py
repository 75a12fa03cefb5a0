"""RabbitMQ tutorial 3, "Publish/Subscribe", run in process on amqpmodel.

emit_log.py publishes to the fanout exchange ``logs``; two receive_logs.py
receivers (one "to disk", one "to screen") each bind their own server-named,
exclusive queue to it, so every log reaches both. All sides are connections
to one in-process Broker, drained one after another so the output is stable.
Run it with ``python examples/inprocess/tutorial3_publish_subscribe.py``.
"""

from __future__ import annotations

from typing import Any

from amqpmodel import Broker, Connection


class LogReceiver:
    """receive_logs.py: a fresh exclusive queue bound to ``logs``, printing what arrives."""

    def __init__(self, broker: Broker, label: str) -> None:
        self.label = label
        self.connection = broker.connect()
        channel = self.connection.channel()
        channel.exchange_declare(exchange="logs", exchange_type="fanout")
        result = channel.queue_declare(queue="", exclusive=True)  # the broker picks the name
        self.queue_name = result.method.queue
        channel.queue_bind(exchange="logs", queue=self.queue_name)
        channel.basic_consume(
            queue=self.queue_name, on_message_callback=self.callback, auto_ack=True
        )
        self.lines: list[str] = []

    def callback(self, ch: Any, method: Any, properties: Any, body: bytes) -> None:
        self.lines.append(f" [x] {body.decode()!r}")

    def drain(self) -> None:
        drain(self.connection)
        print(f" [*] receiver {self.label}:")
        for line in self.lines:
            print(line)


def drain(connection: Connection) -> None:
    while connection.process_data_events():
        pass


def emit_log(broker: Broker, message: str) -> None:
    """emit_log.py: the routing key is ignored by a fanout exchange."""
    connection = broker.connect()
    channel = connection.channel()
    channel.exchange_declare(exchange="logs", exchange_type="fanout")
    channel.basic_publish(exchange="logs", routing_key="", body=message)
    print(f" [x] Sent {message!r}")
    connection.close()


def main() -> None:
    broker = Broker()

    # Nobody is listening yet: the fanout exchange has no queue, the log is dropped.
    emit_log(broker, "info: nobody hears this one")

    receivers = [LogReceiver(broker, "to disk"), LogReceiver(broker, "to screen")]
    print(" [*] Waiting for logs")
    emit_log(broker, "info: Hello World!")
    emit_log(broker, "warning: disk almost full")
    for receiver in receivers:
        receiver.drain()

    bound = [b.destination for b in broker.bindings if b.source == "logs"]
    server_named = all(name.startswith("amq.gen-") for name in bound)
    print(f" [*] logs is bound to {len(bound)} queues, all server-named: {server_named}")
    for receiver in receivers:
        receiver.connection.close()
    left = [name for name in broker.queues if name.startswith("amq.gen-")]
    print(f" [*] after the receivers disconnect, exclusive queues left: {len(left)}")


if __name__ == "__main__":
    main()
