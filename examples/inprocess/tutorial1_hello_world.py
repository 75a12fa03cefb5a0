"""RabbitMQ tutorial 1, "Hello World!", run in process on amqpmodel.

The producer (send.py in the tutorial) and the consumer (receive.py) are two
connections to one in-process Broker instead of two programs talking to a
RabbitMQ server. Run it with ``python examples/inprocess/tutorial1_hello_world.py``.
"""

from __future__ import annotations

from typing import Any

from amqpmodel import Broker


def main() -> None:
    broker = Broker()

    # receive.py: declare the queue too, since either side may start first.
    receiver = broker.connect()
    receive_channel = receiver.channel()
    receive_channel.queue_declare(queue="hello")

    def callback(ch: Any, method: Any, properties: Any, body: bytes) -> None:
        print(f" [x] Received {body.decode()!r}")
        ch.stop_consuming()  # the tutorial's receiver runs until CTRL+C; we stop after one

    receive_channel.basic_consume(queue="hello", on_message_callback=callback, auto_ack=True)
    print(" [*] Waiting for messages")

    # send.py: publish through the default exchange, routing key = queue name.
    sender = broker.connect()
    send_channel = sender.channel()
    send_channel.queue_declare(queue="hello")
    send_channel.basic_publish(exchange="", routing_key="hello", body="Hello World!")
    print(" [x] Sent 'Hello World!'")
    sender.close()

    receive_channel.start_consuming()
    receiver.close()


if __name__ == "__main__":
    main()
