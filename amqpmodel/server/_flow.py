"""Flow control of one connection: blocked publishers, bounded output, fair turns.

Three mechanisms, each with one invariant (spec 21.3-21.6):

- **Resource alarms** (21.3-21.5). A connection that completes a basic.publish
  while the broker has an alarm on becomes *blocked*: that publish is
  processed, then nothing more it sent is handled (its input waits in its
  buffer and the driver stops reading the socket) until every alarm has
  cleared. connection.blocked goes out once, to a client that announced the
  capability, and connection.unblocked when the alarms clear. Its heartbeat
  monitor is paused meanwhile. Deliveries to it go on.
- **Output the client does not drain** (RabbitMQ's credit flow has the same
  effect, 21.6). When the socket's buffer is over its high-water mark
  (``pause_output(True)`` from the driver), the connection's input is not
  handled and its socket not read; what it still has to send is kept as the
  objects it is made of (message bodies are shared with the queues, not
  copied) and deliveries stay in the core, and both resume below the
  low-water mark. So the bytes buffered per connection stay bounded by the
  socket's high-water mark plus one part.
- **Fair turns.** A connection handles at most ``frames_per_turn`` frames
  before the driver gives the other connections their turn
  (``input_waiting``); the rest of its input waits, unread beyond it.

The functions are methods of ``ServerConnection``, bound in its class body.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pamqp import commands

from ._codec import BIG_PART, make_method

if TYPE_CHECKING:
    from ._protocol import ServerConnection

__all__ = [
    "InputHeld",
    "alarms_changed",
    "block_publisher",
    "flow_state",
    "flush",
    "input_waiting",
    "pause_output",
    "resume_input",
    "wants_input",
    "write_everything",
]


class InputHeld(Exception):
    """Raised (and caught by the frame loop) when the connection must stop handling input now."""


def _reason(alarms: tuple[str, ...]) -> str:
    if "memory" in alarms and "disk" in alarms:
        return "low on memory & disk"
    return "low on memory" if "memory" in alarms else "low on disk"


# ----------------------------------------------------------------- resource alarms


def block_publisher(self: ServerConnection) -> None:
    """Called after a basic.publish was handled: under an alarm, block (spec 21.3, 21.4)."""
    alarms = self.broker.resource_alarms
    if not alarms or self._state != "opened":
        return
    if not self._blocked:
        self._blocked = True
        capabilities = self.client_properties.get("capabilities")
        if (
            not self._blocked_sent
            and isinstance(capabilities, dict)
            and capabilities.get("connection.blocked")
        ):
            self._blocked_sent = True
            self._send_method(0, make_method(commands.Connection.Blocked, reason=_reason(alarms)))
    raise InputHeld


def alarms_changed(self: ServerConnection) -> None:
    """The broker's alarms changed (the driver calls this on its loop when the broker's
    alarm listener told it): once all have cleared, a blocked connection gets
    connection.unblocked (if it got connection.blocked) and its input is handled again."""
    if self.closed or not self._blocked or self.broker.resource_alarms:
        return
    self._blocked = False
    if self._blocked_sent:
        self._blocked_sent = False
        if self._state == "opened":
            self._send_method(0, commands.Connection.Unblocked())
    self._flush()
    self.resume_input()


def flow_state(self: ServerConnection) -> str:
    """The state RabbitMQ's management API shows (spec 21.3, 21.6): "blocked" (published
    under an alarm, not read), "blocking" (an alarm is on, it has not published since),
    "flow" (not read for now: its output is not drained, or its turn is over),
    "running"; "closing"/"closed" once closed."""
    if self.closed:
        return "closed"
    if self._state == "closing":
        return "closing"
    if self._blocked:
        return "blocked"
    if self._state == "opened" and self.broker.resource_alarms:
        return "blocking"
    if self._output_paused or self._more_input:
        return "flow"
    return "running"


# ----------------------------------------------------------------- input


def wants_input(self: ServerConnection) -> bool:
    """Whether the driver should read the socket now (False: blocked by an alarm, output
    not drained, or frames still waiting for their turn)."""
    if self._state != "opened":
        return True  # the handshake, and a close's close-ok, are always read
    return not (self._blocked or self._output_paused or self._more_input)


def input_waiting(self: ServerConnection) -> bool:
    """Whether frames wait for another turn: the driver calls ``resume_input`` soon,
    after the other connections have had theirs."""
    return self._more_input and not (self._blocked or self._output_paused)


def resume_input(self: ServerConnection) -> None:
    """Handle the input that waited (a turn, an alarm cleared, output drained)."""
    if self.closed or (self._state == "opened" and (self._blocked or self._output_paused)):
        return
    if self._held_input:
        self._take_input(b"")
    if self._offset < len(self._buffer) or self._more_input:
        self._run_input()


# ----------------------------------------------------------------- output


def flush(self: ServerConnection) -> None:
    """Hand what is buffered to the socket. Small frames go joined in one write; when
    a large body is among them, or the socket's buffer is full, part by part
    (``_emit``), so that a body is never copied into a join."""
    out = self._out
    if not out:
        return
    self._sent = True
    if self.closed:
        out.clear()
        return
    if not (self._big_parts or self._output_paused or self._held_out):
        data = b"".join(out)
        out.clear()
        self._write(data)
        return
    self._out = []
    self._big_parts = False
    small: list[bytes | memoryview] = []
    size = 0
    for part in out:
        length = len(part)
        if length >= BIG_PART or type(part) is memoryview:  # a body, or a view of one
            if small:
                _emit(self, b"".join(small))
                small = []
                size = 0
            _emit(self, part)
            continue
        small.append(part)
        size += length
        if size >= BIG_PART:
            _emit(self, b"".join(small))
            small = []
            size = 0
    if small:
        _emit(self, b"".join(small))


def _emit(self: ServerConnection, part: bytes | memoryview) -> None:
    if self._output_paused or self._held_out:
        self._held_out.append(part)  # as it is: a body stays shared with its queues
    else:
        self._write(part)  # may pause output (the driver's pause_writing)


def pause_output(self: ServerConnection, paused: bool) -> None:
    """The driver's socket buffer went over its high-water mark (True), or back under
    its low-water mark (False): hold output, deliveries and input, or resume them."""
    if paused == self._output_paused:
        return
    self._output_paused = paused
    core = self.core
    if core is not None and core.is_open:
        core.pause_deliveries(paused)  # consumers without a prefetch take nothing meanwhile
    if paused:
        return
    held = self._held_out
    while held and not self._output_paused:
        self._write(held.popleft())
    if self._output_paused:
        return
    self.drain()  # the deliveries that waited in the core
    if not self._output_paused:
        self.resume_input()


def write_everything(self: ServerConnection) -> None:
    """Before closing the socket: what was held goes to the socket's buffer, which the
    driver flushes before it closes."""
    self._flush()
    held = self._held_out
    while held:
        self._write(held.popleft())
