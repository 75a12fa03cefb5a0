"""RabbitMQ tutorial 5, "Topics", run in process on amqpmodel.

Part one is the tutorial's animal example: Q1 binds ``*.orange.*``, Q2 binds
``*.*.rabbit`` and ``lazy.#``, and each routing key from the text shows where
it lands. Part two is emit_log_topic.py / receive_logs_topic.py with
``<facility>.<severity>`` keys and four receivers. Everything runs on
connections to one in-process Broker, drained one after another.
Run it with ``python examples/inprocess/tutorial5_topics.py``.
"""

from __future__ import annotations

from typing import Any

from amqpmodel import Broker

ANIMALS = [
    "quick.orange.rabbit",
    "lazy.orange.elephant",
    "quick.orange.fox",
    "lazy.brown.fox",
    "lazy.pink.rabbit",
    "quick.brown.fox",
    "orange",
    "quick.orange.male.rabbit",
    "lazy.orange.male.rabbit",
]

LOGS = [
    ("kern.critical", "A critical kernel error"),
    ("kern.info", "Kernel booted"),
    ("cron.critical", "Cron table is corrupt"),
    ("auth.warning", "Three failed logins"),
    ("anonymous.info", "Hello World!"),
]

RECEIVERS = [["#"], ["kern.*"], ["*.critical"], ["kern.*", "*.critical"]]


def animals(broker: Broker) -> None:
    channel = broker.connect().channel()
    channel.exchange_declare(exchange="animals", exchange_type="topic")
    bindings = {"Q1": ["*.orange.*"], "Q2": ["*.*.rabbit", "lazy.#"]}
    for queue, keys in bindings.items():
        channel.queue_declare(queue=queue, exclusive=True)
        for key in keys:
            channel.queue_bind(queue=queue, exchange="animals", routing_key=key)
    print(" [*] Q1 binds '*.orange.*'; Q2 binds '*.*.rabbit' and 'lazy.#'")
    for routing_key in ANIMALS:
        channel.basic_publish(exchange="animals", routing_key=routing_key, body=routing_key)
        # basic_get takes the message back, so each routing key is seen on its own
        reached = []
        for queue in bindings:
            while channel.basic_get(queue=queue, auto_ack=True)[0] is not None:
                reached.append(queue)
        print(f" [x] {routing_key!r} -> {', '.join(reached) or 'dropped'}")
    channel.connection.close()


class TopicLogReceiver:
    """receive_logs_topic.py: one binding per binding key given."""

    def __init__(self, broker: Broker, binding_keys: list[str]) -> None:
        self.binding_keys = binding_keys
        self.connection = broker.connect()
        channel = self.connection.channel()
        channel.exchange_declare(exchange="topic_logs", exchange_type="topic")
        queue_name = channel.queue_declare(queue="", exclusive=True).method.queue
        for binding_key in binding_keys:
            channel.queue_bind(exchange="topic_logs", queue=queue_name, routing_key=binding_key)
        channel.basic_consume(queue=queue_name, on_message_callback=self.callback, auto_ack=True)
        self.lines: list[str] = []

    def callback(self, ch: Any, method: Any, properties: Any, body: bytes) -> None:
        self.lines.append(f" [x] {method.routing_key!r}:{body.decode()!r}")

    def report(self) -> None:
        while self.connection.process_data_events():
            pass
        print(f" [*] receive_logs_topic.py {' '.join(repr(k) for k in self.binding_keys)}")
        for line in self.lines:
            print(line)
        self.connection.close()


def topic_logs(broker: Broker) -> None:
    receivers = [TopicLogReceiver(broker, keys) for keys in RECEIVERS]
    connection = broker.connect()
    channel = connection.channel()
    channel.exchange_declare(exchange="topic_logs", exchange_type="topic")
    for routing_key, message in LOGS:
        channel.basic_publish(exchange="topic_logs", routing_key=routing_key, body=message)
        print(f" [x] Sent {routing_key!r}:{message!r}")
    connection.close()
    for receiver in receivers:
        receiver.report()


def main() -> None:
    broker = Broker()
    animals(broker)
    topic_logs(broker)


if __name__ == "__main__":
    main()
