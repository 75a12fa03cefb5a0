"""The socket adapter: an AMQP 0-9-1 server over the in-process core.

Installed with the ``server`` extra (it needs ``pamqp``). Unmodified clients
(pika, aio-pika, kombu/py-amqp) connect to it as to RabbitMQ::

    from amqpmodel import Broker
    from amqpmodel.server import serve

    with serve(Broker()) as url:          # a free port on 127.0.0.1
        connection = pika.BlockingConnection(pika.URLParameters(url))

``amqpmodel serve`` runs the same server from the command line.
"""

from ._protocol import ServerConnection, ServerSettings
from ._server import Server, ServeURL, run_server, serve

__all__ = ["Server", "ServeURL", "ServerConnection", "ServerSettings", "run_server", "serve"]
