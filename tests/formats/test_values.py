"""The cheap check of a document (orjson encodes it, containers only walked for depth) agrees with
the full walk on every document: both find nothing, or the full walk names the problems."""
from hypothesis import given, settings
from hypothesis import strategies as st

from deconfliction.formats import values

TEXT = st.text(st.characters(min_codepoint=0, max_codepoint=0xFFFF), max_size=4)  # surrogates included
SCALARS = st.none() | st.booleans() | st.integers(-2**63, 2**63 - 1) | st.floats(allow_nan=False) | TEXT


def deep(leaf, levels: int):
    for _ in range(levels):
        leaf = [leaf]
    return leaf


DOCS = st.recursive(SCALARS, lambda kids: st.lists(kids, max_size=3) | st.dictionaries(TEXT, kids, max_size=3),
                    max_leaves=12)


@settings(max_examples=400, deadline=None)
@given(DOCS, st.integers(0, 40), st.integers(1, 8))
def test_the_cheap_check_passes_exactly_the_documents_without_problems(doc, levels, max_depth):
    doc = deep(doc, levels % 12) if levels > 20 else doc
    full = _full(doc, max_depth)
    assert values._plain(doc, max_depth) == (full == [])
    assert values.value_problems(doc, max_depth=max_depth) == full


def _full(doc, max_depth):
    """The full walk alone: the cheap check switched off."""
    plain, values._plain = values._plain, lambda *_: False
    try:
        return values.value_problems(doc, max_depth=max_depth)
    finally:
        values._plain = plain
