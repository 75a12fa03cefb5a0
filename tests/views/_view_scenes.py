"""Topologies the view tests draw: the six tutorials' with a dead-letter retry loop, and a large one."""

from __future__ import annotations

from amqpmodel import BasicProperties, Broker, Channel, Connection


def _ignore(*_: object) -> None:
    pass


def tutorials(broker: Broker) -> list[Connection]:
    """The six RabbitMQ tutorials' entities in one vhost, with their consumers still
    attached, plus a dead-letter retry loop and an alternate exchange. Returns the
    open connections (closing them deletes the exclusive queues)."""
    connections: list[Connection] = []

    def connect(name: str) -> Channel:
        connection = broker.connect(client_properties={"connection_name": name})
        connections.append(connection)
        return connection.channel()

    # 1 Hello World
    receiver = connect("receive.py")
    receiver.queue_declare("hello")
    receiver.basic_consume("hello", _ignore, auto_ack=True)
    # 2 Work queues: two workers, one unacked task each
    for number in (1, 2):
        worker = connect(f"worker.py {number}")
        worker.queue_declare("task_queue", durable=True)
        worker.basic_qos(prefetch_count=1)
        worker.basic_consume("task_queue", _ignore)
    producer = connect("new_task.py")
    for dots in range(1, 5):
        producer.basic_publish(
            "", "task_queue", b"task" + b"." * dots, BasicProperties(delivery_mode=2)
        )
    # 3 Publish/subscribe
    for _ in range(2):
        logs = connect("receive_logs.py")
        logs.exchange_declare("logs", "fanout")
        name = logs.queue_declare("", exclusive=True).method.queue
        logs.queue_bind(name, "logs")
        logs.basic_consume(name, _ignore, auto_ack=True)
    # 4 Routing
    for severities in (["error"], ["info", "warning", "error"]):
        direct = connect("receive_logs_direct.py")
        direct.exchange_declare("direct_logs", "direct")
        name = direct.queue_declare("", exclusive=True).method.queue
        for severity in severities:
            direct.queue_bind(name, "direct_logs", severity)
        direct.basic_consume(name, _ignore, auto_ack=True)
    # 5 Topics
    for keys in (["#"], ["kern.*"], ["*.critical"], ["kern.*", "*.critical"]):
        topic = connect("receive_logs_topic.py")
        topic.exchange_declare("topic_logs", "topic")
        name = topic.queue_declare("", exclusive=True).method.queue
        for key in keys:
            topic.queue_bind(name, "topic_logs", key)
        topic.basic_consume(name, _ignore, auto_ack=True)
    # 6 RPC
    server = connect("rpc_server.py")
    server.queue_declare("rpc_queue")
    server.basic_qos(prefetch_count=1)
    server.basic_consume("rpc_queue", _ignore)
    client = connect("rpc_client.py")
    callback = client.queue_declare("", exclusive=True).method.queue
    client.basic_consume(callback, _ignore, auto_ack=True)
    # a retry loop: rejected work waits in retry.5s, then goes back to work
    app = connect("orders app")
    app.exchange_declare("work", "direct")
    app.exchange_declare("retry", "direct")
    app.queue_declare("work", arguments={"x-dead-letter-exchange": "retry"})
    app.queue_bind("work", "work", "job")
    app.queue_declare(
        "retry.5s", arguments={"x-dead-letter-exchange": "work", "x-message-ttl": 5000}
    )
    app.queue_bind("retry.5s", "retry", "job")
    # what no binding routes goes to the alternate exchange
    app.exchange_declare("unrouted", "fanout")
    app.queue_declare("unrouted")
    app.queue_bind("unrouted", "unrouted")
    app.exchange_declare("orders", "topic", arguments={"alternate-exchange": "unrouted"})
    app.queue_bind("work", "orders", "order.*")
    app.basic_publish("orders", "invoice.1", b"nobody binds invoices")
    return connections


def large(broker: Broker, exchanges: int = 50, queues: int = 200) -> None:
    """``exchanges`` exchanges of the four types and ``queues`` queues, each queue
    bound to two exchanges, some with several keys, a dead-letter exchange on
    every tenth queue and a consumer on every fourth."""
    ch = broker.connect(client_properties={"connection_name": "load"}).channel()
    types = ("direct", "topic", "fanout", "headers")
    names = [f"service-{i:02d}.{types[i % 4]}" for i in range(exchanges)]
    for i, name in enumerate(names):
        ch.exchange_declare(name, types[i % 4])
    for q in range(queues):
        arguments = {}
        if q % 10 == 0:
            arguments = {"x-dead-letter-exchange": names[(q + 7) % exchanges]}
        queue = f"orders.region-{q % 7}.worker-{q:03d}"
        ch.queue_declare(queue, arguments=arguments)
        for e in (q % exchanges, (q * 7 + 3) % exchanges):
            kind = types[e % 4]
            if kind == "headers":
                ch.queue_bind(queue, names[e], "", {"x-match": "any", "region": q % 7})
            elif kind == "topic":
                ch.queue_bind(queue, names[e], f"orders.{q % 7}.*")
                ch.queue_bind(queue, names[e], f"audit.#.{q}")
            else:
                ch.queue_bind(queue, names[e], f"key-{q}")
        if q % 4 == 0:
            ch.basic_consume(queue, _ignore, auto_ack=True)
    for i in range(0, exchanges, 5):
        ch.exchange_bind(names[(i + 1) % exchanges], names[i], "forward.#")
