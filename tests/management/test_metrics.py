"""Prometheus metrics (spec 19) parsed with prometheus_client's own parser, and the
message rates of ``message_stats`` (spec 18.9, 18.10) on a virtual clock."""

from __future__ import annotations

import urllib.request
from typing import Any

import pytest

from amqpmodel import Broker, VirtualClock
from amqpmodel.management._rates import Rates
from amqpmodel.server import ServeURL

parser = pytest.importorskip("prometheus_client.parser")

pytestmark = pytest.mark.timeout(60)


def _scrape(url: str) -> dict[str, list[Any]]:
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.headers["Content-Type"].startswith("text/plain")
        text = response.read().decode()
    return _by_sample_name(text)


def _by_sample_name(text: str) -> dict[str, list[Any]]:
    """Samples by their full name (the parser strips a counter family's "_total")."""
    found: dict[str, list[Any]] = {}
    for family in parser.text_string_to_metric_families(text):
        for sample in family.samples:
            found.setdefault(sample.name, []).append(sample)
    return found


def _value(samples: list[Any], **labels: str) -> float:
    (sample,) = [s for s in samples if all(s.labels.get(k) == v for k, v in labels.items())]
    return float(sample.value)


def test_aggregated_metrics_carry_no_object_labels(served: ServeURL, pika_channel: Any) -> None:
    # spec 19.1-19.3: on the Prometheus port without authentication
    pika_channel.queue_declare("a")
    pika_channel.queue_declare("b")
    for queue in ("a", "a", "b"):
        pika_channel.basic_publish("", queue, b"x")
    pika_channel.queue_declare("a", passive=True)
    assert served.prometheus_url is not None
    families = _scrape(served.prometheus_url + "/metrics")
    assert _value(families["rabbitmq_queues"]) == 2
    assert _value(families["rabbitmq_connections"]) == 1
    assert _value(families["rabbitmq_channels"]) == 1
    (ready,) = families["rabbitmq_queue_messages_ready"]
    assert ready.labels == {} and ready.value == 3
    (identity,) = families["rabbitmq_identity_info"]
    assert set(identity.labels) == {
        "rabbitmq_node",
        "rabbitmq_cluster",
        "rabbitmq_cluster_permanent_id",
        "rabbitmq_endpoint",
    }
    (build,) = families["rabbitmq_build_info"]
    assert build.labels["product_name"] == "amqpmodel"
    delivered = families["rabbitmq_global_messages_delivered_total"]
    assert _value(delivered, protocol="amqp091", queue_type="rabbit_classic_queue") == 0


def test_per_object_metrics_label_queues_and_channels(served: ServeURL, pika_channel: Any) -> None:
    # spec 19.2: queue metrics carry vhost and queue; channel metrics channel
    pika_channel.queue_declare("a")
    pika_channel.basic_publish("", "a", b"x")
    pika_channel.basic_get("a")
    assert served.prometheus_url is not None
    families = _scrape(served.prometheus_url + "/metrics/per-object")
    assert _value(families["rabbitmq_queue_messages_unacked"], vhost="/", queue="a") == 1
    assert _value(families["rabbitmq_queue_messages_ready"], vhost="/", queue="a") == 0
    (info,) = families["rabbitmq_queue_info"]
    assert info.labels == {
        "vhost": "/",
        "queue": "a",
        "queue_type": "rabbit_classic_queue",
        "membership": "leader",
    }
    (unacked,) = families["rabbitmq_channel_messages_unacked"]
    assert unacked.labels["channel"].endswith("(1)") and unacked.value == 1
    detailed = _scrape(
        served.prometheus_url + "/metrics/detailed?family=queue_coarse_metrics&vhost=%2F"
    )
    assert _value(detailed["rabbitmq_detailed_queue_messages"], vhost="/", queue="a") == 1


def test_the_management_port_serves_metrics_too(served: ServeURL) -> None:
    assert served.management_url is not None
    assert "rabbitmq_queues" in _scrape(served.management_url + "/metrics")


def test_expiry_without_a_dead_letter_exchange_counts_as_disabled_dead_lettering() -> None:
    # spec 19.4: dead_lettered_*_total with dead_letter_strategy "disabled"
    from amqpmodel.management._context import Context
    from amqpmodel.management._prometheus import render

    broker = Broker(clock=VirtualClock())
    channel = broker.connect().channel()
    channel.queue_declare("q", arguments={"x-message-ttl": 1000})
    channel.basic_publish("", "q", b"x")
    broker.clock.advance(2)
    families = _by_sample_name(render(Context(broker), False))
    expired = families["rabbitmq_global_messages_dead_lettered_expired_total"]
    assert _value(expired, queue_type="rabbit_classic_queue", dead_letter_strategy="disabled") == 1


# ----------------------------------------------------------------- message rates


def test_rates_are_counter_changes_over_broker_clock_time() -> None:
    # spec 18.10: message_stats publish, deliver_get, ack with *_details.rate
    clock = VirtualClock()
    broker = Broker(clock=clock)
    channel = broker.connect().channel()
    channel.queue_declare("q")
    rates = Rates(broker)
    rates.sample()
    for _ in range(10):
        channel.basic_publish("", "q", b"x")
    for _ in range(4):
        method, _, _ = channel.basic_get("q")
        assert method is not None
        channel.basic_ack(method.delivery_tag)
    clock.advance(5)
    rates.sample()
    stats = rates.queue(broker.queues["q"])
    assert stats == {
        "publish": 10,
        "publish_details": {"rate": 2.0},
        "deliver_get": 4,
        "deliver_get_details": {"rate": 0.8},
        "ack": 4,
        "ack_details": {"rate": 0.8},
    }
    clock.advance(5)
    rates.sample()
    assert rates.queue(broker.queues["q"])["publish_details"] == {"rate": 0.0}
    assert rates.totals()["publish"] == 10
    # a deleted queue's counts stay in the totals
    channel.queue_delete("q")
    clock.advance(5)
    rates.sample()
    assert rates.totals()["publish"] == 10
    assert rates.totals("/")["ack"] == 4


def test_a_clock_that_stands_still_keeps_the_last_rates() -> None:
    broker = Broker(clock=VirtualClock())
    channel = broker.connect().channel()
    channel.queue_declare("q")
    rates = Rates(broker)
    rates.sample()
    channel.basic_publish("", "q", b"x")
    rates.sample()  # no time passed: nothing to divide by
    assert rates.queue(broker.queues["q"])["publish_details"] == {"rate": 0.0}
    assert rates.queue(broker.queues["q"])["publish"] == 1
