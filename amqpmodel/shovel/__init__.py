"""Dynamic shovels (spec 20): move messages from this broker to another AMQP 0-9-1 broker.

A shovel is the runtime parameter component ``shovel``, set as RabbitMQ sets
it (``rabbitmqctl set_parameter shovel NAME JSON``)::

    broker.set_parameter("shovel", "to-cluster", {
        "src-uri": "amqp://", "src-queue": "jobs",
        "dest-uri": "amqp://user:secret@rabbit.internal:5672/%2F", "dest-queue": "jobs",
        "src-delete-after": "queue-length",
    })
    shovel_status(broker)   # [{"name": "to-cluster", "state": "running", ...}]

Setting the parameter starts the shovel in a thread of its own (this package
registers the component on import; the broker imports it the first time the
component is named); ``restart_shovel`` starts it again, ``clear_parameter``
stops it and ``broker.close()`` stops them all. The source is this broker (a ``src-uri`` without a host);
the destination is any AMQP 0-9-1 broker reached with pika (the ``shovel``
extra), or this broker again. See docs/shovels.md.

This is a driver: it uses only ``amqpmodel``'s public API and
``amqpmodel.driver``.
"""

from amqpmodel.driver import register_parameter_component

from ._registry import ShovelComponent, restart_shovel, shovel_status

__all__ = ["ShovelComponent", "restart_shovel", "shovel_status"]

register_parameter_component(ShovelComponent())
