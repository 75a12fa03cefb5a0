"""RabbitMQ tutorial 2, "Work Queues", run in process on amqpmodel.

new_task.py becomes the main thread, publishing five persistent tasks to the
durable queue ``task_queue``; worker.py becomes two worker threads, each on
its own connection, with ``basic_qos(prefetch_count=1)`` (fair dispatch) and
manual acks. Each dot in a task stands for a little simulated work. Threads
finish in any order, so their lines are collected and printed in task order
at the end, followed by a summary.
Run it with ``python examples/inprocess/tutorial2_work_queues.py``.

The tutorial's promise, that persistent tasks in the durable queue survive a
broker restart, holds when the broker has a data directory:
``Broker(data_dir="data")`` here, ``amqpmodel serve --data-dir data`` over
the wire (see "Durability" in the README).
"""

from __future__ import annotations

import threading
import time

from amqpmodel import BasicProperties, Broker

TASKS = [
    "First message.",
    "Second message..",
    "Third message...",
    "Fourth message....",
    "Fifth message.....",
]
WORKERS = 2
SECONDS_PER_DOT = 0.01  # the tutorial sleeps a whole second per dot


class Worker(threading.Thread):
    """worker.py: take one task at a time, do it, then ack it."""

    def __init__(
        self, broker: Broker, number: int, done: list[tuple[int, str]], lock: threading.Lock
    ) -> None:
        super().__init__(name=f"worker-{number}")
        self.connection = broker.connect()
        self.number = number
        self.done = done
        self.lock = lock
        self.ready = threading.Event()
        self.stop = threading.Event()
        self.most_held = 0  # the most messages this worker had at once

    def run(self) -> None:
        channel = self.connection.channel()
        channel.queue_declare(queue="task_queue", durable=True)
        channel.basic_qos(prefetch_count=1)
        messages = channel.consume(queue="task_queue", inactivity_timeout=0.05)
        self.ready.set()
        for method, _properties, body in messages:
            if method is None:  # nothing arrived for a while
                if self.stop.is_set():
                    break
                continue
            task = body.decode()
            # this delivery plus any the broker pushed ahead of it
            self.most_held = max(self.most_held, 1 + channel.get_waiting_message_count())
            time.sleep(task.count(".") * SECONDS_PER_DOT)
            with self.lock:
                self.done.append((self.number, task))
            channel.basic_ack(delivery_tag=method.delivery_tag)
        channel.cancel()
        self.connection.close()


def main() -> None:
    broker = Broker()
    done: list[tuple[int, str]] = []
    lock = threading.Lock()

    workers = [Worker(broker, number, done, lock) for number in range(1, WORKERS + 1)]
    for worker in workers:
        worker.start()
        worker.ready.wait(timeout=10)
    print(f" [*] {WORKERS} workers waiting for messages (prefetch_count=1)")

    # new_task.py: one publish per task, marked persistent (delivery_mode=2).
    producer = broker.connect()
    channel = producer.channel()
    channel.queue_declare(queue="task_queue", durable=True)
    for task in TASKS:
        channel.basic_publish(
            exchange="",
            routing_key="task_queue",
            body=task,
            properties=BasicProperties(delivery_mode=2),
        )
        print(f" [x] Sent {task!r}")

    queue = broker.queues["task_queue"]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with lock:
            finished = len(done)
        if finished == len(TASKS) and queue.messages == 0:
            break
        time.sleep(0.01)
    for worker in workers:
        worker.stop.set()
    for worker in workers:
        worker.join(timeout=10)

    # The threads interleave freely; report in the order the tasks were sent.
    by_task = {task: number for number, task in done}
    for task in TASKS:
        if task in by_task:
            print(f" [x] Received {task!r}")
            print(" [x] Done")
    print(
        f" [*] {len(done)} of {len(TASKS)} tasks done, each by exactly one worker: {len(by_task) == len(done)}"
    )
    print(f" [*] every worker took part: {len(set(by_task.values())) == WORKERS}")
    print(f" [*] most messages any worker held at once: {max(w.most_held for w in workers)}")
    print(
        f" [*] task_queue: {queue.messages_ready} ready, {queue.messages_unacknowledged} unacknowledged"
    )
    producer.close()


if __name__ == "__main__":
    main()
