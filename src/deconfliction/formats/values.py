"""What every input document must be before any other check: Unicode text and a bounded nesting depth.

JSON can carry a lone UTF-16 surrogate (``"\\ud800"``), which Python decodes into a ``str`` that
no UTF-8 encoder accepts: such a text could be checked, applied and then fail to be logged or
answered. A document nested hundreds of levels deep makes recursive checks (the schema, the
encoder) run out of stack. Both are refused here, by path, with an iterative walk that itself
cannot run out of stack.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson

from ..errors import Problem

MAX_DEPTH = 32
"""The deepest nesting of lists and mappings any input may have (a MultiPolygon inside a zone
inside a scenario is 7 levels)."""

NOT_TEXT = "is not Unicode text: it holds a lone UTF-16 surrogate"


def format_path(parts: Iterable) -> str:
    """A problem path from keys and indices: ``zones[0].geometry.coordinates[1]``."""
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def is_text(s: str) -> bool:
    """Whether ``s`` is Unicode text (encodable as UTF-8): no lone surrogate."""
    if s.isascii():
        return True
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def value_problems(value: Any, path: tuple = (), max_depth: int = MAX_DEPTH, limit: int = 20) -> list[Problem]:
    """Texts (values and keys) that are not Unicode, and lists or mappings nested deeper than
    ``max_depth``, each named by its path; at most ``limit`` problems."""
    if _plain(value, max_depth):
        return []
    problems: list[Problem] = []
    stack: list[tuple[Any, tuple, int]] = [(value, path, 0)]
    while stack and len(problems) < limit:
        item, where, depth = stack.pop()
        kind = type(item)
        if kind is str:
            if not is_text(item):
                problems.append(Problem(format_path(where), NOT_TEXT))
        elif kind is dict or kind is list:
            if depth >= max_depth:
                problems.append(Problem(format_path(where), f"is nested more than {max_depth} levels deep"))
                continue
            if kind is dict:
                for key, v in item.items():
                    if isinstance(key, str) and not is_text(key):
                        problems.append(Problem(format_path((*where, ascii(key))), f"field name {NOT_TEXT}"))
                        continue
                    stack.append((v, (*where, key), depth + 1))
            else:
                stack.extend((v, (*where, i), depth + 1) for i, v in enumerate(item))
    problems.sort(key=lambda p: p.path)
    return problems


def _plain(value: Any, max_depth: int) -> bool:
    """The usual case, cheaply: every text encodes (orjson refuses a lone surrogate in a value or a
    key) and no list or mapping is nested ``max_depth`` deep (only containers are walked). False
    when in doubt (orjson refuses it for any reason): the full walk then names the problems."""
    try:
        orjson.dumps(value)
    except (orjson.JSONEncodeError, TypeError):
        return False
    if type(value) is not dict and type(value) is not list:
        return True
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if depth >= max_depth:
            return False
        for v in (item.values() if type(item) is dict else item):
            if type(v) is dict or type(v) is list:
                stack.append((v, depth + 1))
    return True
