"""RabbitMQ tutorial 4, "Routing", run in process on amqpmodel.

emit_log_direct.py publishes logs to the direct exchange ``direct_logs`` with
the severity as routing key. One receive_logs_direct.py binds its queue with
``warning`` and ``error`` (the "to disk" receiver), another with all three
severities. A ``debug`` log matches no binding and is dropped. All sides are
connections to one in-process Broker, drained one after another.
Run it with ``python examples/inprocess/tutorial4_routing.py``.
"""

from __future__ import annotations

from typing import Any

from amqpmodel import Broker, Channel

LOGS = [
    ("info", "Hello World!"),
    ("warning", "Disk almost full"),
    ("error", "Run. Run. Or it will explode."),
    ("debug", "Nobody subscribed to this"),
]


class DirectLogReceiver:
    """receive_logs_direct.py: one binding per severity it wants."""

    def __init__(self, broker: Broker, severities: list[str]) -> None:
        self.severities = severities
        self.connection = broker.connect()
        channel = self.connection.channel()
        channel.exchange_declare(exchange="direct_logs", exchange_type="direct")
        queue_name = channel.queue_declare(queue="", exclusive=True).method.queue
        for severity in severities:
            channel.queue_bind(exchange="direct_logs", queue=queue_name, routing_key=severity)
        channel.basic_consume(queue=queue_name, on_message_callback=self.callback, auto_ack=True)
        self.lines: list[str] = []

    def callback(self, ch: Any, method: Any, properties: Any, body: bytes) -> None:
        self.lines.append(f" [x] {method.routing_key!r}:{body.decode()!r}")

    def report(self) -> None:
        while self.connection.process_data_events():
            pass
        print(f" [*] receive_logs_direct.py {' '.join(self.severities)}")
        for line in self.lines:
            print(line)
        self.connection.close()


def emit_log_direct(channel: Channel, severity: str, message: str) -> None:
    channel.basic_publish(exchange="direct_logs", routing_key=severity, body=message)
    print(f" [x] Sent {severity!r}:{message!r}")


def main() -> None:
    broker = Broker()
    receivers = [
        DirectLogReceiver(broker, ["warning", "error"]),
        DirectLogReceiver(broker, ["info", "warning", "error"]),
    ]

    connection = broker.connect()
    channel = connection.channel()
    channel.exchange_declare(exchange="direct_logs", exchange_type="direct")
    for severity, message in LOGS:
        emit_log_direct(channel, severity, message)
    connection.close()

    for receiver in receivers:
        receiver.report()


if __name__ == "__main__":
    main()
