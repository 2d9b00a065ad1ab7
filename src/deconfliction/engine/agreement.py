"""Agreement of zones: a zone that names other parties than its proposer is proposed until each agrees.

Until a party named in a zone agrees, the zone binds only the parties that did (its proposer
first): warnings about the zone go out in an agreed party's name, never in the name of one that
has not agreed, and only agreed parties follow the units in it. A named party agrees or declines
(with a reason) once; a zone declared without a proposer (a scenario zone without ``proposer``,
or a log written before zones had one) counts as agreed by all its parties when declared.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from ..errors import Refused
from .model import Zone

PROPOSED = "proposed"
"""No party named in the zone but its proposer has agreed yet."""
PARTLY_AGREED = "partly_agreed"
"""Some of the other parties have agreed, not all."""
AGREED = "agreed"
"""Every party named in the zone has agreed."""


@dataclass(frozen=True, slots=True)
class AgreementRecord:
    """Who agreed a zone and when, who declined and why, as they stood when read."""

    zone: str
    proposer: str | None
    agreed: tuple[tuple[str, datetime], ...]
    """(party, when), in the order they agreed (the proposer, at the declaration, first)."""
    declined: tuple[tuple[str, datetime, str], ...]
    """(party, when, reason), in the order they declined."""
    pending: tuple[str, ...]
    """Named parties that have neither agreed nor declined, in the zone's order."""
    status: str

    @property
    def bound(self) -> tuple[str, ...]:
        """The parties the zone binds: those that agreed, in the order they agreed."""
        return tuple(p for p, _ in self.agreed)


@dataclass(slots=True)
class _Agreement:
    parties: tuple[str, ...]
    proposer: str | None
    agreed: dict[str, datetime] = field(default_factory=dict)
    since: dict[str, int] = field(default_factory=dict)
    """The sequence number of the event with which each party agreed (its declaration's for the proposer)."""
    declined: dict[str, tuple[datetime, str]] = field(default_factory=dict)

    def status(self) -> str:
        if all(p in self.agreed for p in self.parties):
            return AGREED
        return PARTLY_AGREED if any(p != self.proposer for p in self.agreed) else PROPOSED


class Agreements:
    """The agreement of every zone; refusals (:class:`Refused`) change nothing."""

    def __init__(self) -> None:
        self._zones: dict[str, _Agreement] = {}

    def propose(self, zone: Zone, t: datetime, seq: int) -> None:
        """A zone is declared (with event ``seq``): agreed by its proposer, or by all its parties when it names none."""
        a = _Agreement(zone.parties, zone.proposer)
        for p in ([zone.proposer] if zone.proposer is not None else zone.parties):
            a.agreed[p] = t
            a.since[p] = seq
        self._zones[zone.id] = a

    def amend(self, zone: Zone) -> None:
        """A zone is amended: the parties it still names keep their answers, new ones are asked."""
        a = self._zones[zone.id]
        a.parties = zone.parties
        for answers in (a.agreed, a.since, a.declined):
            for p in [p for p in answers if p not in zone.parties and p != a.proposer]:
                del answers[p]

    def check(self, zone_id: str, by: str) -> None:
        """Refused unless ``by`` is named in the zone and has neither agreed nor declined."""
        a = self._zones.get(zone_id)
        if a is None:
            raise Refused(f"no such zone {zone_id!r}")
        if by not in a.parties:
            raise Refused(f"{by} is not named in zone {zone_id!r}: only the parties it names agree or decline it")
        if by in a.agreed:
            raise Refused(f"{by} has already agreed zone {zone_id!r}"
                          + (" (as its proposer)" if by == a.proposer else ""))
        if by in a.declined:
            raise Refused(f"{by} has already declined zone {zone_id!r}")

    def agree(self, zone_id: str, by: str, t: datetime, seq: int) -> None:
        """``by`` agrees, with event ``seq``."""
        self.check(zone_id, by)
        self._zones[zone_id].agreed[by] = t
        self._zones[zone_id].since[by] = seq

    def decline(self, zone_id: str, by: str, t: datetime, reason: str) -> None:
        if not isinstance(reason, str) or not reason.strip():
            raise Refused("a decline needs a reason: a non-empty text")
        self.check(zone_id, by)
        self._zones[zone_id].declined[by] = (t, reason)

    def record(self, zone_id: str) -> AgreementRecord | None:
        a = self._zones.get(zone_id)
        if a is None:
            return None
        pending = tuple(p for p in a.parties if p not in a.agreed and p not in a.declined)
        return AgreementRecord(zone_id, a.proposer, tuple(a.agreed.items()),
                               tuple((p, t, r) for p, (t, r) in a.declined.items()), pending, a.status())

    def bound(self, zone_id: str, before: int | None = None) -> tuple[str, ...]:
        """The parties that agreed the zone, in the order they agreed (empty for an unknown zone);
        with ``before``, those that had agreed before the event of that sequence number."""
        a = self._zones.get(zone_id)
        if a is None:
            return ()
        return tuple(p for p in a.agreed if before is None or a.since[p] < before)
