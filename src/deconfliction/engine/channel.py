"""The channel: messages routed over the parties' lines, acknowledgements, deadlines and escalation.

A message to a party without a direct line is relayed on the fewest hops (ties broken by the
parties' ids, so the log is deterministic); over suspended lines it waits, and where no line
could ever carry it, it is undeliverable. Warnings escalate through the policy's levels while
their cause persists and nobody acknowledges. Notification is not permission: nothing here
approves or clears anything.
"""
from __future__ import annotations

import heapq
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from .events import EventType
from .model import Party, Policy

Finding = tuple[EventType, dict]


class MessageState(StrEnum):
    """Where a message stands."""

    WAITING = "waiting"
    DELIVERED = "delivered"
    ACKNOWLEDGED = "acknowledged"
    UNANSWERED = "unanswered"
    RESOLVED = "resolved"
    DISOWNED = "disowned"
    UNDELIVERABLE = "undeliverable"


@dataclass(slots=True)
class Message:
    """A message and its record: route, delivery, deadline, level, acknowledgements."""

    id: str
    sender: str
    to: str
    kind: str
    text: str
    ref: Any
    sent_at: datetime
    cause: str | None = None
    extra: dict = field(default_factory=dict)
    route: list[str] = field(default_factory=list)
    delivered_at: datetime | None = None
    deadline: datetime | None = None
    level: int | None = None
    state: MessageState = MessageState.WAITING
    acknowledged_at: datetime | None = None
    relay_acks: dict[str, datetime] = field(default_factory=dict)
    disowned: tuple[str, datetime, str] | None = None
    """(party, time, reason) when a receiving party said the unit or activity is not theirs."""

    @property
    def open(self) -> bool:
        """Waiting for delivery or for an acknowledgement."""
        return self.state in (MessageState.WAITING, MessageState.DELIVERED)

    def header(self) -> dict:
        return {"message": self.id, "from": self.sender, "to": self.to, "kind": self.kind, "ref": self.ref}

    def concerns(self, party: str) -> bool:
        """The party sent it, is its addressee, or is on its route."""
        return party in (self.sender, self.to) or party in self.route

    def record(self) -> MessageRecord:
        """The message as it stands now, as a frozen copy."""
        return MessageRecord(self.id, self.sender, self.to, self.kind, self.text, self.ref, self.sent_at, self.state,
                             self.cause is not None, tuple(self.route), self.delivered_at, self.deadline,
                             self.acknowledged_at, self.disowned)


@dataclass(frozen=True, slots=True)
class MessageRecord:
    """A message and its record as they stood when it was read (see :meth:`Engine.message`)."""

    id: str
    sender: str
    to: str
    kind: str
    """Its kind; for an automatic warning, the escalation level it has reached."""
    text: str
    ref: Any
    """The zone or operation it is about, or None."""
    sent_at: datetime
    state: MessageState
    warning: bool
    """An automatic warning (from a detection or a plan conflict): it escalates while its cause persists."""
    route: tuple[str, ...]
    """The parties from sender to addressee inclusive once delivered; ``("waiting",)`` while every
    route is over a suspended line; empty before (or when undeliverable)."""
    delivered_at: datetime | None
    deadline: datetime | None
    """When the current level falls due without an acknowledgement."""
    acknowledged_at: datetime | None
    """When the addressee acknowledged it (intermediaries' acknowledgements are not here)."""
    disowned: tuple[str, datetime, str] | None
    """(party, time, reason) when a receiving party said the unit or activity is not theirs."""

    @property
    def open(self) -> bool:
        """Waiting for delivery or for an acknowledgement."""
        return self.state in (MessageState.WAITING, MessageState.DELIVERED)


def _unknown(message_id: str, by: str) -> Finding:
    """The rejection of an answer to a message that does not exist or does not concern ``by``: the
    same words for both, so that an id (``tanf/convoy-1/1`` says what happened) tells a party
    nothing about messages of others."""
    return EventType.MESSAGE_ACK_REJECTED, {"message": message_id, "by": by, "reason": "no such message"}


def _line(a: str, b: str) -> frozenset[str]:
    return frozenset((a, b))


class Channel:
    """Routes, delivers and follows up messages between parties; returns findings, keeps the record."""

    def __init__(self, policy: Policy, parties: dict[str, Party]):
        self.policy = policy
        self.parties = parties
        self.lines = {_line(p.id, o) for p in parties.values() for o in p.channels if o in parties}
        self.suspended: set[frozenset[str]] = set()
        self.messages: dict[str, Message] = {}
        self.about: dict[str, list[str]] = {}
        """The ids of the messages whose ``ref`` is each zone or operation, in the order they were sent."""
        self.by_cause: dict[str, str] = {}
        self._timers: list[tuple[datetime, int, str, str]] = []
        self._timer_seq = 0

    def add_party(self, party: Party) -> None:
        """A party joins; its lines (two-way) to parties already known start active."""
        self.parties[party.id] = party
        self.lines |= {_line(party.id, o) for o in party.channels if o in self.parties}
        self.lines |= {_line(p.id, party.id) for p in self.parties.values() if party.id in p.channels}

    # -- routing ------------------------------------------------------------------------------
    def route(self, sender: str, to: str, include_suspended: bool = False) -> list[str] | None:
        """Parties from sender to addressee inclusive on the fewest hops, smallest ids first; None if none."""
        lines = self.lines if include_suspended else self.lines - self.suspended
        neighbours: dict[str, list[str]] = {}
        for line in lines:
            a, b = sorted(line)
            neighbours.setdefault(a, []).append(b)
            neighbours.setdefault(b, []).append(a)
        hops = {to: 0}
        queue = deque([to])
        while queue:
            here = queue.popleft()
            for there in neighbours.get(here, []):
                if there not in hops:
                    hops[there] = hops[here] + 1
                    queue.append(there)
        if sender not in hops:
            return None
        path = [sender]
        while path[-1] != to:
            path.append(min(n for n in neighbours[path[-1]] if hops.get(n) == hops[path[-1]] - 1))
        return path

    # -- sending ------------------------------------------------------------------------------
    def send(self, t: datetime, message: Message) -> list[Finding]:
        """Send a message now: sent, then relayed hop by hop and delivered (or waiting / undeliverable)."""
        if message.kind in self.policy.escalation:
            message.level = self.policy.escalation.index(message.kind)
        elif message.level is not None and message.cause is None:
            message.level = None  # only an automatic message escalates
        self.messages[message.id] = message
        if isinstance(message.ref, str):
            self.about.setdefault(message.ref, []).append(message.id)
        if message.cause is not None:
            self.by_cause[message.cause] = message.id
        sent = {**message.header(), "text": message.text, **message.extra}
        return [(EventType.MESSAGE_SENT, sent), *self._deliver(t, message)]

    def _deliver(self, t: datetime, m: Message) -> list[Finding]:
        path = self.route(m.sender, m.to)
        if path is None:
            if self.route(m.sender, m.to, include_suspended=True) is None:
                m.state = MessageState.UNDELIVERABLE
                reason = f"no line, direct or relayed, connects {m.sender} to {m.to}"
                return [(EventType.MESSAGE_UNDELIVERABLE, {**m.header(), "reason": reason})]
            if m.state == MessageState.WAITING and m.route == []:
                m.route = ["waiting"]
                reason = "every route is over a suspended line; it waits until a line resumes"
                return [(EventType.MESSAGE_WAITING, {**m.header(), "reason": reason})]
            return []
        m.route = path
        m.state = MessageState.DELIVERED
        m.delivered_at = t
        m.deadline = t + timedelta(seconds=self.policy.ack_deadline_s)
        self._schedule(m.deadline, "deadline", m.id)
        found = [(EventType.MESSAGE_RELAYED, {**m.header(), "via": via}) for via in path[1:-1]]
        found.append((EventType.MESSAGE_DELIVERED, {**m.header(), "route": path, "deadline": m.deadline}))
        return found

    def set_line(self, t: datetime, a: str, b: str, active: bool) -> list[Finding]:
        """Suspend or resume the line between two parties; waiting messages then try again."""
        line = _line(a, b)
        kind = EventType.CHANNEL_RESUMED if active else EventType.CHANNEL_SUSPENDED
        if (line in self.suspended) != active:
            return []  # already in that state: nothing changes, nothing to record
        if active:
            self.suspended.discard(line)
        else:
            self.suspended.add(line)
        found: list[Finding] = [(kind, {"between": sorted(line)})]
        if active:
            for m in list(self.messages.values()):
                if m.state == MessageState.WAITING:
                    found += self._deliver(t, m)
        return found

    # -- answers ------------------------------------------------------------------------------
    def acknowledge(self, t: datetime, message_id: str, by: str) -> list[Finding]:
        """Record an acknowledgement by the addressee, or of receipt by an intermediary; reject others."""
        m = self.messages.get(message_id)
        if m is None or not m.concerns(by):
            return [_unknown(message_id, by)]
        relays = m.route[1:-1] if m.delivered_at else []
        if by != m.to and by not in relays:
            # the sender: told only that it cannot
            reason = "only the addressee or a party that relayed the message can acknowledge it"
            return [(EventType.MESSAGE_ACK_REJECTED, {"message": m.id, "by": by, "reason": reason})]
        if m.delivered_at is None:
            return [(EventType.MESSAGE_ACK_REJECTED, {**m.header(), "by": by, "reason": "not delivered yet"})]
        if by != m.to:
            if by in m.relay_acks:
                return []
            m.relay_acks[by] = t
            return [(EventType.MESSAGE_ACKNOWLEDGED, {**m.header(), "by": by, "as": "intermediary"})]
        if m.acknowledged_at is not None:
            return []
        m.acknowledged_at = t
        first_deadline = m.delivered_at + timedelta(seconds=self.policy.ack_deadline_s)
        fields = {**m.header(), "by": by, "as": "addressee", "late": t > first_deadline}
        if m.state != MessageState.DELIVERED:
            fields["after"] = str(m.state)  # e.g. acknowledged only after it went unanswered
        else:
            m.state = MessageState.ACKNOWLEDGED
        return [(EventType.MESSAGE_ACKNOWLEDGED, fields)]

    def disown(self, t: datetime, message_id: str, by: str, reason: str) -> list[Finding]:
        """An addressee or intermediary says the unit or activity is not theirs; the sender is told."""
        m = self.messages.get(message_id)
        if m is None or not m.concerns(by):
            return [_unknown(message_id, by)]
        if m.delivered_at is None or (by != m.to and by not in m.route[1:-1]):
            why = "not delivered yet" if m.delivered_at is None else f"{by} neither received nor relayed it"
            return [(EventType.MESSAGE_ACK_REJECTED, {"message": message_id, "by": by, "reason": why})]
        if m.open:
            m.state = MessageState.DISOWNED
        m.disowned = (by, t, reason)
        return [(EventType.MESSAGE_DISOWNED, {**m.header(), "by": by, "reason": reason})]

    def cause_ended(self, t: datetime, cause: str, reason: str) -> list[Finding]:
        """The situation behind a warning is over: close it, with no further escalation."""
        message_id = self.by_cause.pop(cause, None)
        m = self.messages.get(message_id) if message_id else None
        if m is None or not m.open:
            return []
        m.state = MessageState.RESOLVED
        return [(EventType.MESSAGE_RESOLVED, {**m.header(), "reason": reason})]

    def open_cause(self, cause: str) -> bool:
        return cause in self.by_cause

    def end_cause_at(self, due: datetime, cause: str) -> None:
        """Close the warning for ``cause`` at ``due`` if it is still open then."""
        self._schedule(due, "end", cause)

    # -- time ---------------------------------------------------------------------------------
    def _schedule(self, due: datetime, what: str, key: str) -> None:
        self._timer_seq += 1
        heapq.heappush(self._timers, (due, self._timer_seq, what, key))

    def next_due(self) -> datetime | None:
        return self._timers[0][0] if self._timers else None

    def fire(self, until: datetime) -> list[tuple[datetime, Finding]]:
        """Deadlines falling due up to ``until`` (inclusive), in time order, with their own times."""
        out: list[tuple[datetime, Finding]] = []
        while self._timers and self._timers[0][0] <= until:
            due, _, what, key = heapq.heappop(self._timers)
            if what == "end":
                out += [(due, f) for f in self.cause_ended(due, key, "the conflicting window is over")]
                continue
            m = self.messages[key]
            if m.state != MessageState.DELIVERED or m.deadline != due:
                continue
            levels = self.policy.escalation
            if m.level is not None and m.cause is not None and m.level + 1 < len(levels):
                m.level += 1
                if m.kind in levels:  # a warning's kind is its level; a notification stays one
                    m.kind = levels[m.level]
                m.deadline = due + timedelta(seconds=self.policy.ack_deadline_s)
                self._schedule(m.deadline, "deadline", m.id)
                out.append((due, (EventType.MESSAGE_ESCALATED, {**m.header(), "level": levels[m.level], "deadline": m.deadline})))
            else:
                m.state = MessageState.UNANSWERED
                self.by_cause.pop(m.cause, None) if m.cause else None
                out.append((due, (EventType.MESSAGE_UNANSWERED, {
                    **m.header(), "deadline": due, "last_level": m.level is not None and m.cause is not None})))
        return out
