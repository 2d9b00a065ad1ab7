"""Events: what the engine says happened. One stream, ordered by time then sequence number."""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from ..times import format_time


class EventType(StrEnum):
    """The kinds of event in the log (contract v1 names; later versions add, never rename)."""

    ZONE_DECLARED = "zone.declared"
    OPERATION_DECLARED = "operation.declared"
    ZONE_APPROACHING = "zone.approaching"
    ZONE_ENTERED = "zone.entered"
    ZONE_EXITED = "zone.exited"
    ZONE_CROSSED = "zone.crossed"
    PLAN_CONFLICT = "plan.conflict"
    PROXIMITY_PREDICTED = "proximity.predicted"
    SEPARATION_LOST = "separation.lost"
    MESSAGE_SENT = "message.sent"
    MESSAGE_RELAYED = "message.relayed"
    MESSAGE_DELIVERED = "message.delivered"
    MESSAGE_WAITING = "message.waiting"
    MESSAGE_UNDELIVERABLE = "message.undeliverable"
    MESSAGE_ACKNOWLEDGED = "message.acknowledged"
    MESSAGE_ACK_REJECTED = "message.ack_rejected"
    MESSAGE_ESCALATED = "message.escalated"
    MESSAGE_UNANSWERED = "message.unanswered"
    MESSAGE_RESOLVED = "message.resolved"
    MESSAGE_DISOWNED = "message.disowned"
    CHANNEL_SUSPENDED = "channel.suspended"
    CHANNEL_RESUMED = "channel.resumed"
    INCIDENT_REPORTED = "incident.reported"
    BROADCAST_SENT = "broadcast.sent"
    BROADCAST_REACHED = "broadcast.reached"
    ZONE_AGREED = "zone.agreed"
    ZONE_DECLINED = "zone.declined"
    ZONE_AMENDED = "zone.amended"
    ZONE_WITHDRAWN = "zone.withdrawn"
    OPERATION_AMENDED = "operation.amended"
    OPERATION_CANCELLED = "operation.cancelled"
    OPERATION_ACTIVATED = "operation.activated"
    OPERATION_ENDED = "operation.ended"
    PLAN_CONFLICT_ENDED = "plan.conflict_ended"
    PLAN_CONFLICT_BOUND = "plan.conflict_bound"
    DRAFT_CHECKED = "draft.checked"
    DRAFT_CONFLICT = "draft.conflict"


@dataclass(frozen=True, slots=True)
class Event:
    """One entry of the event log: ``seq`` (1, 2, ...), time ``t``, ``type`` and its fields."""

    seq: int
    t: datetime
    type: str
    fields: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"seq": self.seq, "t": format_time(self.t), "type": str(self.type), **_plain(self.fields)}

    def to_json(self) -> str:
        """One JSON line: keys in a fixed order, no NaN, so equal logs are equal bytes."""
        return json.dumps(self.to_dict(), ensure_ascii=False, separators=(", ", ": "), allow_nan=False)


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, datetime):
        return format_time(value)
    if isinstance(value, float):
        return None if math.isnan(value) else value
    if hasattr(value, "item"):  # numpy scalars
        return _plain(value.item())
    return value
