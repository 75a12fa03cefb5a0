"""aio-pika (on aiormq) against the socket server; each test runs its own event loop."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import aio_pika
import aio_pika.exceptions
import aiormq.exceptions
import pamqp.exceptions
import pytest

from amqpmodel import Broker

TIMEOUT = 5.0


def run(main: Callable[[], Awaitable[Any]]) -> Any:
    """Run a coroutine with an overall deadline, so nothing can hang."""

    async def bounded() -> Any:
        return await asyncio.wait_for(main(), TIMEOUT * 2)

    return asyncio.run(bounded())


async def connect(url: str, robust: bool = False) -> aio_pika.abc.AbstractConnection:
    opener = aio_pika.connect_robust if robust else aio_pika.connect
    return await asyncio.wait_for(opener(url, timeout=TIMEOUT), TIMEOUT)


def test_connect_declare_publish_get(amqp_url: str, server_broker: Broker) -> None:
    # spec 2.6, 7.9
    async def main() -> None:
        connection = await connect(amqp_url)
        async with connection:
            channel = await connection.channel()
            queue = await channel.declare_queue("q")
            assert queue.declaration_result.message_count == 0
            await channel.default_exchange.publish(
                aio_pika.Message(b"hello", message_id="m1", headers={"n": 7}), routing_key="q"
            )
            message = await queue.get(timeout=TIMEOUT)
            assert message.body == b"hello"
            assert message.message_id == "m1"
            assert message.headers == {"n": 7}
            assert message.routing_key == "q"
            assert message.redelivered is False
            assert message.delivery_tag == 1
            await message.ack()
            assert await queue.get(fail=False, timeout=TIMEOUT) is None
        assert server_broker.queues["q"].stats.acked == 1

    run(main)


def test_connect_robust_and_close(amqp_url: str, server_broker: Broker) -> None:
    async def main() -> None:
        connection = await connect(amqp_url, robust=True)
        channel = await connection.channel()
        await channel.declare_queue("robust-q", exclusive=True)
        assert "robust-q" in server_broker.queues
        await connection.close()
        assert connection.is_closed

    run(main)
    assert "robust-q" not in server_broker.queues  # spec 2.5


def test_publisher_confirms_and_mandatory_return(amqp_url: str, server_broker: Broker) -> None:
    # spec 8.1, 8.2, 8.4
    async def main() -> None:
        async with await connect(amqp_url) as connection:
            channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
            await channel.declare_queue("q")
            confirmation = await channel.default_exchange.publish(
                aio_pika.Message(b"ok"), routing_key="q", timeout=TIMEOUT
            )
            assert confirmation is not None
            with pytest.raises(aio_pika.exceptions.DeliveryError) as info:
                await channel.default_exchange.publish(
                    aio_pika.Message(b"lost"),
                    routing_key="nowhere",
                    mandatory=True,
                    timeout=TIMEOUT,
                )
            returned = info.value.message
            assert returned is not None and returned.body == b"lost"
        assert server_broker.queues["q"].messages_ready == 1

    run(main)


def test_publisher_nack_on_reject_publish_overflow(amqp_url: str, server_broker: Broker) -> None:
    # spec 5.3, 8.3
    async def main() -> None:
        async with await connect(amqp_url) as connection:
            channel = await connection.channel(publisher_confirms=True)
            await channel.declare_queue(
                "full", arguments={"x-max-length": 1, "x-overflow": "reject-publish"}
            )
            await channel.default_exchange.publish(aio_pika.Message(b"1"), "full", timeout=TIMEOUT)
            with pytest.raises(aio_pika.exceptions.DeliveryError):
                await channel.default_exchange.publish(
                    aio_pika.Message(b"2"), "full", timeout=TIMEOUT
                )
        assert server_broker.queues["full"].stats.dropped.get("overflow") == 1

    run(main)


def test_consume_with_iterator_ack_nack_reject(amqp_url: str, server_broker: Broker) -> None:
    # spec 2.12, 4.1, 7.5
    async def main() -> None:
        async with await connect(amqp_url) as connection:
            channel = await connection.channel()
            await channel.set_qos(prefetch_count=2)
            queue = await channel.declare_queue("q")
            for body in (b"ack", b"nack", b"reject"):
                await channel.default_exchange.publish(aio_pika.Message(body), "q")
            seen: list[tuple[bytes, bool]] = []
            async with queue.iterator(timeout=TIMEOUT) as messages:
                async for message in messages:
                    seen.append((message.body, message.redelivered))
                    if message.body == b"ack":
                        await message.ack()
                    elif message.body == b"nack" and not message.redelivered:
                        await message.nack(requeue=True)
                    elif message.body == b"nack":
                        await message.ack()
                    else:
                        await message.reject(requeue=False)
                    if len(seen) == 4:
                        break
            assert seen[0] == (b"ack", False)
            assert (b"nack", False) in seen and (b"nack", True) in seen
            assert (b"reject", False) in seen
            await channel.close()
        stats = server_broker.queues["q"].stats
        assert stats.acked == 2
        assert stats.dropped.get("rejected") == 1

    run(main)


def test_consume_callback(amqp_url: str) -> None:  # spec 7.2
    async def main() -> None:
        async with await connect(amqp_url) as connection:
            channel = await connection.channel()
            queue = await channel.declare_queue("", exclusive=True)
            assert queue.name.startswith("amq.gen-")  # spec 2.2
            done: asyncio.Future[list[bytes]] = asyncio.get_running_loop().create_future()
            bodies: list[bytes] = []

            async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
                async with message.process():
                    bodies.append(message.body)
                    if len(bodies) == 3 and not done.done():
                        done.set_result(bodies)

            tag = await queue.consume(on_message)
            for i in range(3):
                await channel.default_exchange.publish(aio_pika.Message(b"%d" % i), queue.name)
            assert await asyncio.wait_for(done, TIMEOUT) == [b"0", b"1", b"2"]
            await queue.cancel(tag)

    run(main)


@pytest.mark.parametrize(
    ("exchange_type", "binding_key", "arguments", "routing_key", "headers", "routed"),
    [
        (aio_pika.ExchangeType.DIRECT, "k", None, "k", None, True),
        (aio_pika.ExchangeType.FANOUT, "", None, "any", None, True),
        (aio_pika.ExchangeType.TOPIC, "*.b.#", None, "a.b", None, True),
        (aio_pika.ExchangeType.TOPIC, "*.b.#", None, "b", None, False),
        (aio_pika.ExchangeType.HEADERS, "", {"x-match": "any", "a": "1"}, "", {"a": "1"}, True),
        (aio_pika.ExchangeType.HEADERS, "", {"x-match": "all", "a": "1"}, "", {"a": "2"}, False),
    ],
)
def test_exchange_types(
    amqp_url: str,
    exchange_type: aio_pika.ExchangeType,
    binding_key: str,
    arguments: dict | None,
    routing_key: str,
    headers: dict | None,
    routed: bool,
) -> None:  # spec 1.12, 1.14, 1.17
    async def main() -> None:
        async with await connect(amqp_url) as connection:
            channel = await connection.channel(publisher_confirms=True)
            exchange = await channel.declare_exchange("x", exchange_type)
            queue = await channel.declare_queue("q")
            await queue.bind(exchange, binding_key, arguments=arguments)
            await exchange.publish(aio_pika.Message(b"m", headers=headers), routing_key)
            message = await queue.get(fail=False, timeout=TIMEOUT)
            assert (message is not None) == routed
            if message is not None:
                assert message.exchange == "x"
                await message.ack()
            await queue.unbind(exchange, binding_key, arguments=arguments)
            await exchange.delete()

    run(main)


def test_exchange_to_exchange_binding(amqp_url: str) -> None:  # spec 1.21
    async def main() -> None:
        async with await connect(amqp_url) as connection:
            channel = await connection.channel(publisher_confirms=True)
            source = await channel.declare_exchange("src", aio_pika.ExchangeType.FANOUT)
            destination = await channel.declare_exchange("dst", aio_pika.ExchangeType.DIRECT)
            await destination.bind(source)
            queue = await channel.declare_queue("q")
            await queue.bind(destination, "rk")
            await source.publish(aio_pika.Message(b"m"), "rk")
            message = await queue.get(timeout=TIMEOUT)
            assert message.exchange == "src"
            await message.ack()

    run(main)


def test_404_passive_declare(amqp_url: str) -> None:  # spec 2.6, 9.2
    async def main() -> None:
        async with await connect(amqp_url) as connection:
            channel = await connection.channel()
            with pytest.raises(aiormq.exceptions.ChannelNotFoundEntity) as info:
                await channel.declare_queue("missing", passive=True)
            frame = info.value.args[1] if len(info.value.args) > 1 else None
            assert "NOT_FOUND - no queue 'missing' in vhost '/'" in str(info.value)
            if frame is not None and hasattr(frame, "reply_code"):
                assert frame.reply_code == 404
            assert channel.is_closed
            other = await connection.channel()  # spec 9.1: the connection goes on
            await other.declare_queue("", exclusive=True)

    run(main)


def test_406_precondition_failed(amqp_url: str) -> None:  # spec 2.3
    async def main() -> None:
        async with await connect(amqp_url) as connection:
            channel = await connection.channel()
            await channel.declare_queue("q", durable=True)
            with pytest.raises(aiormq.exceptions.ChannelPreconditionFailed) as info:
                await channel.declare_queue("q", durable=False)
            assert (
                "PRECONDITION_FAILED - inequivalent arg 'durable' for queue 'q' in vhost '/': "
                "received 'false' but current is 'true'"
            ) in str(info.value)

    run(main)


def test_403_access_refused(amqp_url: str) -> None:  # spec 2.1
    async def main() -> None:
        async with await connect(amqp_url) as connection:
            channel = await connection.channel()
            with pytest.raises(aiormq.exceptions.ChannelAccessRefused) as info:
                await channel.declare_queue("amq.reserved")
            assert (
                "ACCESS_REFUSED - queue name 'amq.reserved' contains reserved prefix 'amq.*'"
                in (str(info.value))
            )

    run(main)


def test_405_resource_locked(amqp_url: str) -> None:  # spec 2.5
    async def main() -> None:
        async with await connect(amqp_url) as owner, await connect(amqp_url) as other:
            await (await owner.channel()).declare_queue("mine", exclusive=True)
            channel = await other.channel()
            with pytest.raises(aiormq.exceptions.ChannelLockedResource) as info:
                await channel.declare_queue("mine", passive=True)
            assert "RESOURCE_LOCKED - cannot obtain exclusive access to locked queue 'mine'" in (
                str(info.value)
            )

    run(main)


def test_wrong_password(make_url: Callable[..., str]) -> None:
    async def main() -> None:
        with pytest.raises(
            (aiormq.exceptions.ProbableAuthenticationError, aiormq.exceptions.ConnectionClosed)
        ) as info:
            await connect(make_url(password="wrong"))
        assert "ACCESS_REFUSED" in str(info.value) or "403" in str(info.value)

    run(main)


def test_unknown_vhost(make_url: Callable[..., str]) -> None:  # spec 9.1: 530
    async def main() -> None:
        # aiormq reports a connection.close in place of open-ok as an invalid frame
        # (RabbitMQ 3.10 gives the same exception); aiormq 6 lets pamqp's own
        # exception through, with the close frame in it
        with pytest.raises(
            (aiormq.exceptions.AMQPError, pamqp.exceptions.AMQPInternalError)
        ) as info:
            await connect(make_url(vhost="nope"))
        assert "Connection.Close" in str(info.value) or "NOT_ALLOWED" in str(info.value)
        close = next((a for a in info.value.args if hasattr(a, "reply_code")), None)
        assert close is None or close.reply_code == 530

    run(main)


def test_purge_and_delete(amqp_url: str, server_broker: Broker) -> None:  # spec 2.10, 2.11
    async def main() -> None:
        async with await connect(amqp_url) as connection:
            channel = await connection.channel(publisher_confirms=True)
            queue = await channel.declare_queue("q")
            for i in range(3):
                await channel.default_exchange.publish(aio_pika.Message(b"%d" % i), "q")
            purged = await queue.purge()
            assert purged.message_count == 3
            await channel.default_exchange.publish(aio_pika.Message(b"x"), "q")
            deleted = await queue.delete(if_unused=False, if_empty=False)
            assert deleted.message_count == 1
        assert "q" not in server_broker.queues

    run(main)


def test_transactions(amqp_url: str, server_broker: Broker) -> None:  # spec 8.8
    async def main() -> None:
        async with await connect(amqp_url) as connection:
            channel = await connection.channel(publisher_confirms=False)
            await channel.declare_queue("q")
            tx = channel.transaction()
            await tx.select()
            await channel.default_exchange.publish(aio_pika.Message(b"kept"), "q")
            await tx.commit()
            await channel.default_exchange.publish(aio_pika.Message(b"dropped"), "q")
            await tx.rollback()
            declared = await channel.declare_queue("q", passive=True)
            assert declared.declaration_result.message_count == 1
        assert [m.body for m in server_broker.queues["q"].peek()] == [b"kept"]

    run(main)
