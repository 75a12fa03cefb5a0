"""Which RabbitMQ a broker behaves as: one frozen profile per version (spec 0, 0.x).

Every behaviour that changes between RabbitMQ 3.13, 4.0, 4.2 (the default) and
4.3 is one documented attribute of ``RabbitMQVersion``, named after what it
switches, with the row of the version table (queue-types.md 0.x) it stands for.
The code that acts on a behaviour reads the attribute from
``broker.rabbitmq_version``; nothing else compares version numbers, so a
difference between versions is visible in one place (fakeredis marks its
tests per server version for the same reason).

A version is named "X.Y" (the latest patch of that series that the spec was
read against) or "X.Y.Z" (that patch, for the rows that change within a
series: 0.x.4, 0.x.12, 0.x.13, 0.x.19, 0.x.23, 0.x.24).

>>> rabbitmq_version("4.2").version
'4.2.9'
>>> rabbitmq_version("3.13.1").unknown_exchange_type_code
503
"""

from __future__ import annotations

import functools
import re

import attrs

__all__ = [
    "DEFAULT_RABBITMQ_VERSION",
    "KNOWN_RABBITMQ_VERSIONS",
    "RabbitMQVersion",
    "rabbitmq_version",
]

DEFAULT_RABBITMQ_VERSION = "4.2"

# series -> the last patch release the spec was read against (queue-types.md preamble)
_LATEST_PATCH = {"3.13": 7, "4.0": 9, "4.2": 9, "4.3": 5}

KNOWN_RABBITMQ_VERSIONS: tuple[str, ...] = tuple(_LATEST_PATCH)

_VERSION = re.compile(r"([0-9]+)\.([0-9]+)(?:\.([0-9]+))?")

_MIB = 1024 * 1024


@attrs.frozen
class RabbitMQVersion:
    """The behaviours of one RabbitMQ release that differ from another's.

    Build one with ``rabbitmq_version("4.2")``; ``Broker(rabbitmq_version=...)``
    keeps it as ``broker.rabbitmq_version``. Attributes marked "(lead: quorum)"
    or "(lead: stream)" are read by the quorum queue and stream modules.
    """

    version: str
    """The full release, "4.2.9": what connection.start's ``version`` reports."""

    series: str
    """"3.13", "4.0", "4.2" or "4.3"."""

    global_qos: bool
    """0.x.1, 0.x.2 (spec 0.1, 11.29, 12.13): ``basic.qos global=true`` sets a
    channel-wide limit, and a quorum queue or stream refuses a consumer on a channel
    whose global limit is active (540). False in 4.3 (deprecated feature
    ``global_qos`` denied by default): global=true is taken as global=false, so no
    global limit ever exists and the 540 cannot happen."""

    transient_nonexclusive_queues: bool
    """0.x.3 (spec 0.2): a queue declared durable=false, exclusive=false may be
    created. False in 4.3: 541 INTERNAL_ERROR (a connection error) with the text of
    the denied deprecated feature ``transient_nonexcl_queues``, after the argument
    checks and before the queue type's property checks (11.4), so a non-durable
    quorum queue or stream gets 541, not 406."""

    client_x_death: bool
    """0.x.4 (spec 0.3): a client-set ``x-death`` header on a published message is
    taken as the message's death history, so dead-lettering it again continues its
    counts (3.13.3-3.13.x; rabbitmq-server#11339). False in 3.13.0-3.13.2 and
    4.0+: the broker keeps its own history and overwrites the header."""

    default_max_message_size: int
    """0.x.5 (spec 0.4): ``max_message_size`` when the broker is not given one:
    128 MiB in 3.13, 16 MiB from 4.0."""

    quorum_default_delivery_limit: int | None
    """0.x.6 (spec 0.5, 11.11) (lead: quorum): a quorum queue's delivery limit
    without ``x-delivery-limit`` or a policy: None (no limit) in 3.13, 20 from 4.0."""

    quorum_acquired_count: bool
    """0.x.7 (spec 11.13-11.15) (lead: quorum): False up to 4.2: one counter, +1
    on every return (reject/nack requeue, recover, channel loss), shown as
    ``x-delivery-count`` and compared with the limit. True in 4.3: two counters,
    ``x-acquired-count`` (every return; sets redelivered) and ``x-delivery-count``
    (failed deliveries only: reject requeue and channel or connection loss, not
    nack, recover or a consumer timeout), the limit comparing delivery-count."""

    quorum_priorities: str
    """0.x.8 (spec 11.23) (lead: quorum): "ignored" (3.13: ``priority`` has no
    effect, FIFO), "two-levels" (4.0-4.2: priority > 4 is high, served 2:1 with
    normal), "strict" (4.3: levels 0-31, higher first, a missing priority is 4)."""

    quorum_requeue_to_back: bool
    """0.x.9 (spec 11.16, 11.17) (lead: quorum): with the delivery limit disabled
    (-1), an explicit reject/nack/recover requeue puts the message at the back of
    the queue (4.0+). False in 3.13: it goes to the returns list, delivered first,
    as with a limit."""

    channel_consumer_timeout: bool
    """0.x.10 (spec 0.8, 11.30, 11.31, 12.24): the channel-level ack timeout (the
    oldest unacked delivery, every queue type, channel closed with 406) applies,
    up to 4.2. False in 4.3: classic queues and streams never time out, and quorum
    queues time out per consumer (``quorum_consumer_timeout``)."""

    quorum_consumer_timeout: bool
    """0.x.10 (spec 11.32) (lead: quorum): 4.3's per-consumer timeout of quorum
    queues: consumer argument ``x-consumer-timeout``, else min(queue argument,
    policy), else the broker's; on expiry the consumer's unacked messages return
    (acquired-count only) and it gets basic.cancel when the client announced
    ``consumer_cancel_notify``, else the channel closes with 406 reading
    "Timeout value used: -1 ms". False up to 4.2 (the channel-level timer)."""

    quorum_timeout_arguments: bool
    """0.x.11 (spec 11.7): the quorum queue owns the arguments
    ``x-consumer-timeout``, ``x-consumer-disconnected-timeout`` (both validated as
    integers >= 0), ``x-delayed-retry-type``, ``-min``, ``-max`` and the consumer
    argument ``x-consumer-timeout``, so a classic queue or stream refuses them with
    406 "invalid arg 'x-consumer-timeout' for queue 'q' in vhost '/' of queue type
    rabbit_classic_queue" (4.3). False up to 4.2: no type knows them, every type
    accepts them, and a classic queue's ``x-consumer-timeout`` sets its channel-level
    timeout."""

    unknown_exchange_type_code: int
    """0.x.12 (spec 1.6): the reply code of exchange.declare with an unknown type,
    "unknown exchange type 'foo'": 503 COMMAND_INVALID, a connection error, in
    3.13.0-3.13.2; 406 PRECONDITION_FAILED (channel) from 3.13.3."""

    max_topic_hash_wildcards: int | None
    """0.x.13 (spec 0.6): the most ``#`` words a topic binding key may hold; more
    are refused with 406 "Topic binding key 'k' uses 3 '#' wildcards, at most 2
    are allowed" (4.3.5+: 2). None: any number (before 4.3.5)."""

    dead_letter_first_last_headers: bool
    """0.x.14 (spec 0.7, 4.5): dead-lettering sets ``x-first-death-*`` and
    ``x-last-death-*``; true in every modelled version (3.13.0+)."""

    memory_high_watermark: float
    """0.x.15 (spec 21.1): the default ``vm_memory_high_watermark``, 0.4 in 3.13,
    0.6 from 4.0. amqpmodel has no memory alarm yet: recorded for when it has."""

    queue_type_injection: bool
    """0.x.16 (spec 11.3): a declare without ``x-queue-type`` always gets one
    stored (the vhost's default type, else "classic"), from 4.0. False in 3.13:
    only when the vhost has a ``default_queue_type``; otherwise the arguments stay
    as given, and a redeclare without ``x-queue-type`` compares "none" with the
    queue's type (0.x.17: 406 "... received none but current is the value
    'quorum' of type 'longstr'"; none and "classic" count as equal)."""

    classic_queue_version_1: bool
    """0.x.18 (R/4.3.0): a classic queue may be declared with ``x-queue-version`` 1.
    False in 4.3: 406 "invalid arg 'x-queue-version' for queue 'q' in vhost '/':
    \\"unsupported queue version '1'\\""."""

    queue_mode_validated: bool
    """0.x.18 (⚠ row note): ``x-queue-mode`` must be "default" or "lazy" (up to 4.2).
    False in 4.3: the code no longer validates it (any value is accepted), though
    the 4.3.0 release notes say it fails too."""

    passive_declare_permission: bool
    """0.x.19 (spec 15.5): a passive declare needs one of read, write or configure
    permission on the resource (4.2.7+, 4.3.1+); False: none. amqpmodel has no
    permissions yet: recorded for when it has."""

    sac_get_queue_type_shown: str
    """0.x.20 (spec 11.25) (lead: quorum): how the 405 for basic.get on a quorum
    queue with single active consumer names the type: ``quorum`` in 3.13 and 4.0
    ("... are not supported by quorum queues with single active consumer"),
    ``<<"quorum">>`` from 4.2 (literally, as Erlang prints the binary)."""

    local_random_exchange: bool
    """0.x.21 (spec 13.18): the x-local-random exchange type exists (4.0+). False in
    3.13: declaring it is an unknown exchange type (0.x.12's code)."""

    modulus_hash_in_core: bool
    """0.x.22 (spec 13.20): x-modulus-hash is a core type with sorted destinations
    (4.3); before, it comes with the sharding plugin. Not modelled in any version:
    declaring x-modulus-hash is an unknown exchange type."""

    consistent_hash_max_weight: int | None
    """0.x.23 (spec 13.11): the largest x-consistent-hash binding weight; a larger
    one is refused with 406 "The binding key must not exceed 10000" (4.2.6+ and
    4.3: 10000). None: any positive weight is accepted (before 4.2.6)."""

    aliveness_test_declares_queue: bool
    """0.x.24 (spec 18.12): ``GET /api/aliveness-test/{vhost}`` declares the queue
    "aliveness-test", publishes to it and gets the message back before answering
    {"status": "ok"} (3.13, 4.0.0-4.0.5). False from 4.0.6: a no-op that answers
    200 {"status": "ok"}."""

    def __str__(self) -> str:
        return self.version


def _numbers(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def _unknown(name: object) -> ValueError:
    known = ", ".join(f"{s} ({s}.0-{s}.{p})" for s, p in _LATEST_PATCH.items())
    return ValueError(
        f"unknown RabbitMQ version {name!r}: known are {known}; "
        'give "X.Y" for the latest patch of a series or "X.Y.Z"'
    )


def rabbitmq_version(name: str | RabbitMQVersion = DEFAULT_RABBITMQ_VERSION) -> RabbitMQVersion:
    """The profile of RabbitMQ ``name``: "3.13", "4.0", "4.2" or "4.3" (the latest
    patch of that series), or a patch release such as "3.13.2" or "4.2.5".

    A profile given is returned as it is; any other name raises ``ValueError``
    listing the known versions."""
    if isinstance(name, RabbitMQVersion):
        return name
    match = _VERSION.fullmatch(name) if isinstance(name, str) else None
    if match is None:
        raise _unknown(name)
    series = f"{int(match.group(1))}.{int(match.group(2))}"
    latest = _LATEST_PATCH.get(series)
    if latest is None:
        raise _unknown(name)
    patch = latest if match.group(3) is None else int(match.group(3))
    if patch > latest:
        raise _unknown(name)
    return _profile(series, patch)


@functools.cache
def _profile(series: str, patch: int) -> RabbitMQVersion:
    v = (*_numbers(series), patch)
    v3_13 = v < (4, 0, 0)
    v4_3 = v >= (4, 3, 0)
    return RabbitMQVersion(
        version=f"{series}.{patch}",
        series=series,
        global_qos=not v4_3,
        transient_nonexclusive_queues=not v4_3,
        client_x_death=(3, 13, 3) <= v < (4, 0, 0),
        default_max_message_size=(128 if v3_13 else 16) * _MIB,
        quorum_default_delivery_limit=None if v3_13 else 20,
        quorum_acquired_count=v4_3,
        quorum_priorities="ignored" if v3_13 else "strict" if v4_3 else "two-levels",
        quorum_requeue_to_back=not v3_13,
        channel_consumer_timeout=not v4_3,
        quorum_consumer_timeout=v4_3,
        quorum_timeout_arguments=v4_3,
        unknown_exchange_type_code=503 if v < (3, 13, 3) else 406,
        max_topic_hash_wildcards=2 if v >= (4, 3, 5) else None,
        dead_letter_first_last_headers=True,
        memory_high_watermark=0.4 if v3_13 else 0.6,
        queue_type_injection=not v3_13,
        classic_queue_version_1=not v4_3,
        queue_mode_validated=not v4_3,
        passive_declare_permission=(4, 2, 7) <= v < (4, 3, 0) or v >= (4, 3, 1),
        sac_get_queue_type_shown="quorum" if v < (4, 2, 0) else '<<"quorum">>',
        local_random_exchange=not v3_13,
        modulus_hash_in_core=v4_3,
        consistent_hash_max_weight=10000 if v >= (4, 2, 6) else None,
        aliveness_test_declares_queue=v < (4, 0, 6),
    )
