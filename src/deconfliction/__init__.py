"""deconfliction: parties declare zones, plans and positions; the engine detects where they meet.

The public API, all in WGS84 longitude/latitude degrees, metres, seconds and UTC datetimes:

- shapes: :class:`Circle` (geodesic), :class:`Area` (polygon/multipolygon), :class:`Corridor`;
  :class:`AltitudeBand`, :class:`TimeWindow`, :class:`Volume4D`;
- declarations: :class:`Policy`, :class:`Party`, :class:`Zone`, :class:`Operation`, :class:`Report`;
- the rules: :class:`Engine` (pure, deterministic, clock injected) and its :class:`Event` stream;
- scenarios: :func:`load_scenario`, :func:`replay`;
- errors: :class:`DeconflictionError`, :class:`ScenarioError`, :class:`GeometryError`, :class:`Problem`.
"""
from .engine.core import Engine
from .engine.events import Event, EventType
from .engine.model import Operation, Party, Policy, Report, Zone, ZoneKind
from .errors import DeconflictionError, GeometryError, Problem, ScenarioError
from .formats.scenario import Scenario, load_scenario, parse_scenario
from .geo.shapes import Area, Circle, Corridor, Shape
from .geo.volumes import AltitudeBand, AltitudeReference, TimeWindow, Volume4D
from .replay import replay

__all__ = [
    "AltitudeBand", "AltitudeReference", "Area", "Circle", "Corridor", "DeconflictionError", "Engine",
    "Event", "EventType", "GeometryError", "Operation", "Party", "Policy", "Problem", "Report",
    "Scenario", "ScenarioError", "Shape", "TimeWindow", "Volume4D", "Zone", "ZoneKind",
    "load_scenario", "parse_scenario", "replay",
]
