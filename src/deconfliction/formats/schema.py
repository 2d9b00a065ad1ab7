"""The JSON Schema of the scenario file (contract v1); `deconfliction schema` prints it."""
from __future__ import annotations

import copy

_ID = {"type": "string", "minLength": 1, "maxLength": 200, "pattern": r"^[^\s]+$",
       "description": "An identifier without spaces."}
_TIME = {"type": "string", "description": "RFC 3339 time, e.g. 2017-06-06T05:00:00Z (UTC offsets accepted)."}
_NUMBER = {"type": "number"}
_POSITION = {"type": "array", "minItems": 2, "maxItems": 3, "items": _NUMBER,
             "description": "[longitude, latitude] in WGS84 degrees (an optional third value is ignored)."}

_GEOMETRY = {
    "type": "object",
    "description": "GeoJSON geometry: Point (needs radius_m beside it), Polygon, MultiPolygon, "
                   "or LineString (needs width_m beside it).",
    "required": ["type", "coordinates"],
    "additionalProperties": False,
    "properties": {
        "type": {"enum": ["Point", "Polygon", "MultiPolygon", "LineString"]},
        "coordinates": {"type": "array"},
        "radius_m": {**_NUMBER, "description": "Circle radius in metres (may also stand beside geometry)."},
        "width_m": {**_NUMBER, "description": "Corridor width in metres (may also stand beside geometry)."},
    },
}
_ALTITUDE = {
    "type": "object",
    "description": "Closed altitude band in metres; above the WGS84 ellipsoid unless reference says AGL or AMSL.",
    "additionalProperties": False,
    "properties": {"lower_m": _NUMBER, "upper_m": _NUMBER, "reference": {"enum": ["WGS84", "AMSL", "AGL"]}},
}
_WINDOW = {
    "type": "object",
    "description": "Half-open time window [start, end).",
    "additionalProperties": False,
    "properties": {"start": _TIME, "end": _TIME},
}
_SHAPED = {
    "geometry": _GEOMETRY,
    "radius_m": {**_NUMBER, "description": "Circle radius in metres, for a Point geometry."},
    "width_m": {**_NUMBER, "description": "Corridor width in metres (total), for a LineString geometry."},
    "altitude": _ALTITUDE,
    "window": _WINDOW,
}
_NOTIFY = {"type": "array", "items": _ID,
           "description": "Parties to notify: each is sent a message of kind notification (relayed where there is "
                          "no direct line) carrying the item's geometry, altitude and window, to acknowledge by the "
                          "deadline; from delivery on it sees the item. Not the declaring party (nor, for a zone, "
                          "any of its parties), and each party once."}
_REPORT = {
    "type": "object",
    "required": ["t", "id", "party", "lon", "lat"],
    "additionalProperties": False,
    "properties": {
        "t": _TIME, "id": {**_ID, "description": "Track (unit) id."}, "party": _ID,
        "lon": _NUMBER, "lat": _NUMBER,
        "alt_m": {**_NUMBER, "description": "Altitude in metres above the WGS84 ellipsoid."},
        "speed_mps": {**_NUMBER, "description": "Ground speed in m/s."},
        "course_deg": {**_NUMBER, "description": "Course over ground, degrees true."},
        "climb_mps": {**_NUMBER, "description": "Vertical speed in m/s, positive up (optional)."},
    },
}
_TRACK_FILE = {
    "type": "object",
    "required": ["file"],
    "additionalProperties": False,
    "properties": {"file": {"type": "string", "minLength": 1,
                            "description": "CSV with columns t,id,party,lon,lat[,alt_m,speed_mps,course_deg,climb_mps], "
                                           "relative to the scenario file."}},
}

_MESSAGE = {
    "type": "object",
    "required": ["t", "from", "kind"],
    "additionalProperties": False,
    "properties": {
        "t": _TIME, "id": {**_ID, "pattern": r"^[^\s/]+$", "description": "Message id (no '/', which automatic "
                                                                          "warnings use); default msg-N."},
        "from": _ID, "to": {**_ID, "description": "The addressee (or give to_area instead)."},
        "to_area": {"type": "object", "required": ["geometry"], "additionalProperties": False,
                    "description": "An area broadcast instead of an addressee: every party with units inside "
                                   "the area when it is sent, or reported inside it within its window, receives "
                                   "it once. A shape as a zone's (geometry with radius_m or width_m) and an "
                                   "optional window (not already over).",
                    "properties": {k: _SHAPED[k] for k in ("geometry", "radius_m", "width_m", "window")}},
        "kind": {"type": "string", "minLength": 1,
                 "description": "advisory, warning, final_warning (the escalation levels) or any other word."},
        "text": {"type": "string"},
        "ref": {**_ID, "description": "Id of the zone or operation the message is about."},
    },
}
_ACK = {
    "type": "object",
    "required": ["t", "ack", "by"],
    "additionalProperties": False,
    "properties": {"t": _TIME, "ack": {**_ID, "description": "Id of the message acknowledged."}, "by": _ID},
}
_DISOWN = {
    "type": "object",
    "required": ["t", "disown", "by", "reason"],
    "additionalProperties": False,
    "properties": {"t": _TIME, "disown": {**_ID, "description": "Id of the message whose unit is disowned."},
                   "by": _ID, "reason": {"type": "string", "minLength": 1}},
}
_AGREE = {
    "type": "object",
    "required": ["t", "agree", "by"],
    "additionalProperties": False,
    "properties": {"t": _TIME, "agree": {**_ID, "description": "Id of the zone agreed."},
                   "by": {**_ID, "description": "The party that agrees: one the zone names, other than its proposer."}},
}
_DECLINE = {
    "type": "object",
    "required": ["t", "decline", "by", "reason"],
    "additionalProperties": False,
    "properties": {"t": _TIME, "decline": {**_ID, "description": "Id of the zone declined."},
                   "by": _ID, "reason": {"type": "string", "minLength": 1}},
}
_WITHDRAW = {
    "type": "object",
    "required": ["t", "withdraw", "by", "reason"],
    "additionalProperties": False,
    "properties": {"t": _TIME, "withdraw": {**_ID, "description": "Id of the zone withdrawn or operation cancelled."},
                   "by": _ID, "reason": {"type": "string", "minLength": 1}},
}
_INCIDENT = {
    "type": "object",
    "required": ["t", "id", "reporter", "kind", "geometry"],
    "additionalProperties": False,
    "properties": {"t": _TIME, "id": _ID, "reporter": _ID, "kind": {"type": "string", "minLength": 1},
                   "geometry": _GEOMETRY, "radius_m": _SHAPED["radius_m"], "width_m": _SHAPED["width_m"],
                   "text": {"type": "string"}},
}
_CHANNEL_EVENT = {
    "type": "object",
    "required": ["t", "between", "state"],
    "additionalProperties": False,
    "properties": {"t": _TIME, "between": {"type": "array", "items": _ID, "minItems": 2, "maxItems": 2},
                   "state": {"enum": ["suspended", "active"]}},
}

_AMEND_ZONE: dict = {}
_AMEND_OPERATION: dict = {}
"""Filled in below, from the zones and operations items of SCENARIO_SCHEMA."""


def _agreement_items(other: dict) -> dict:
    """The messages item schema: an agreement or a decline of a zone, else ``other``."""
    return {"if": {"type": "object", "required": ["agree"]}, "then": _AGREE,
            "else": {"if": {"type": "object", "required": ["decline"]}, "then": _DECLINE,
                     "else": {"if": {"type": "object", "required": ["withdraw"]}, "then": _WITHDRAW,
                              "else": {"if": {"type": "object", "required": ["amend_zone"]}, "then": _AMEND_ZONE,
                                       "else": {"if": {"type": "object", "required": ["amend_operation"]},
                                                "then": _AMEND_OPERATION, "else": other}}}}}


SCENARIO_SCHEMA: dict = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://deconfliction.invalid/schema/scenario-1.json",
    "title": "deconfliction scenario (contract v1)",
    "type": "object",
    "required": ["scenario", "start"],
    "additionalProperties": False,
    "properties": {
        "scenario": {"const": 1, "description": "Format version; 1."},
        "name": {"type": "string"},
        "description": {"type": "string"},
        "start": {**_TIME, "description": "When the scenario starts; declarations take effect then."},
        "end": _TIME,
        "policy": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "perimeter_m": {**_NUMBER, "description": "Default warning band outside zones, metres."},
                "separation_m": {**_NUMBER, "description": "Horizontal minimum between units of different parties, metres."},
                "vertical_m": {**_NUMBER, "description": "Vertical minimum, metres."},
                "lookahead_s": {**_NUMBER, "description": "Prediction horizon, seconds."},
                "ack_deadline_s": {**_NUMBER, "description": "Time to acknowledge a warning, seconds."},
                "escalation": {"type": "array", "items": {"type": "string", "minLength": 1},
                               "description": "Ordered warning levels."},
                "track_timeout_s": {**_NUMBER, "description": "A unit silent this long is no longer compared, seconds."},
                "encounter_gap_s": {**_NUMBER, "description": "Two units are a new encounter only after being clear "
                                                              "of each other this long, seconds."},
                "max_speed_mps": {**_NUMBER, "description": "Largest plausible horizontal speed, m/s: reports above it "
                                                            "are refused, and no faster motion is predicted."},
                "position_noise_m": {**_NUMBER, "description": "How far a unit's position may wander beyond what "
                                                               "max_speed_mps allows before a report counts as a "
                                                               "jump and is held back, metres."},
                "max_climb_mps": {**_NUMBER, "description": "Largest plausible vertical speed up or down, m/s: "
                                                            "reports beyond it are refused, and no faster motion is "
                                                            "predicted."},
                "min_alt_m": {**_NUMBER, "description": "Lowest plausible altitude above the WGS84 ellipsoid, metres; "
                                                        "reports below it are refused."},
                "max_alt_m": {**_NUMBER, "description": "Highest plausible altitude above the WGS84 ellipsoid, metres; "
                                                        "reports above it are refused."},
            },
        },
        "parties": {
            "type": "array",
            "items": {
                "type": "object", "required": ["id"], "additionalProperties": False,
                "properties": {"id": _ID, "name": {"type": "string"},
                               "channels": {"type": "array", "items": _ID}},
            },
        },
        "zones": {
            "type": "array",
            "items": {
                "type": "object", "required": ["id", "geometry"], "additionalProperties": False,
                "properties": {
                    "id": _ID, "name": {"type": "string"},
                    "kind": {"enum": ["deconfliction", "protected_site", "restricted", "corridor"]},
                    "parties": {"type": "array", "items": _ID, "description": "Who agreed the zone (with "
                                "``proposer``: who is asked to agree it)."},
                    "proposer": {**_ID, "description": "The party that proposes the zone (one of parties); the "
                                 "others agree or decline it in messages. Without it, all parties agreed it."},
                    "allowed": {"type": "array", "items": _ID,
                                "description": "Parties that may be inside without a warning (default: parties)."},
                    "perimeter_m": {**_NUMBER, "description": "Warning band for this zone, metres."},
                    "notify": _NOTIFY,
                    **_SHAPED,
                },
            },
        },
        "operations": {
            "type": "array",
            "items": {
                "type": "object", "required": ["id", "party", "volumes"], "additionalProperties": False,
                "properties": {
                    "id": _ID, "name": {"type": "string"}, "party": _ID,
                    "priority": {"type": "integer", "description": "Higher wins."},
                    "notify": _NOTIFY,
                    "volumes": {"type": "array", "minItems": 1, "items": {
                        "type": "object", "required": ["geometry"], "additionalProperties": False,
                        "properties": copy.deepcopy(_SHAPED)}},
                },
            },
        },
        "tracks": {"type": "array", "description": "Position reports inline, or {file: CSV}.",
                   "items": {"if": {"type": "object", "required": ["file"]}, "then": _TRACK_FILE, "else": _REPORT}},
        "messages": {"type": "array", "description": "Scripted messages, acknowledgements and disowning, "
                                                     "agreements and declines of zones, by time.",
                     "items": {"if": {"type": "object", "required": ["ack"]}, "then": _ACK,
                               "else": {"if": {"type": "object", "required": ["disown"]}, "then": _DISOWN,
                                        "else": _agreement_items(_MESSAGE)}}},
        "incidents": {"type": "array", "items": _INCIDENT},
        "channel_events": {"type": "array", "items": _CHANNEL_EVENT},
    },
}


_AMEND_ZONE.update({
    "type": "object", "required": ["t", "amend_zone"], "additionalProperties": False,
    "properties": {"t": _TIME, "amend_zone": {**SCENARIO_SCHEMA["properties"]["zones"]["items"],
                                              "description": "The zone whole, as amended by its proposer."}},
})
_AMEND_OPERATION.update({
    "type": "object", "required": ["t", "amend_operation"], "additionalProperties": False,
    "properties": {"t": _TIME, "amend_operation": {**SCENARIO_SCHEMA["properties"]["operations"]["items"],
                                                   "description": "The operation whole, as amended by its party."}},
})


def scenario_schema() -> dict:
    """A copy of the scenario JSON Schema."""
    return copy.deepcopy(SCENARIO_SCHEMA)
