"""CI smoke test of the quick start's main job: start `amqpmodel serve`, use it, stop it."""

import os
import signal
import subprocess
import sys

import pika

server = subprocess.Popen(
    # the console script the quick start runs, from this interpreter's environment
    [os.path.join(os.path.dirname(sys.executable), "amqpmodel"), "serve", "--port", "0", "--quiet"],
    stdout=subprocess.PIPE,
    text=True,
)
try:
    line = server.stdout.readline() if server.stdout else ""
    print(line.strip())
    url = line.split()[3]  # "amqpmodel listening on amqp://127.0.0.1:PORT ..."
    host, port = url.removeprefix("amqp://").split(":")
    connection = pika.BlockingConnection(pika.ConnectionParameters(host, int(port)))
    channel = connection.channel()
    channel.queue_declare("smoke")
    channel.basic_publish("", "smoke", b"Hello World!")
    method, _, body = channel.basic_get("smoke", auto_ack=True)
    assert body == b"Hello World!", body
    connection.close()
    server.send_signal(signal.SIGINT)
    code = server.wait(timeout=10)
    print(f"amqpmodel serve: served a client and exited with {code} on SIGINT")
    sys.exit(code)
finally:
    if server.poll() is None:
        server.kill()
