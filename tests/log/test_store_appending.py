"""One log, several writers (the service and ``party add`` in other processes), on each backend:
an entry number that is taken is refused as a conflict, and a writer holding the log's write lock
keeps the others out until it has written."""
import threading

import pytest

from deconfliction.log.store import LogConflict, open_store
from tests.log.test_store import chain


@pytest.fixture
def two(store_url):
    """Two stores on one URL: two writers, as two processes have."""
    a, b = open_store(store_url), open_store(store_url)
    yield a, b
    a.close()
    b.close()


def test_an_entry_number_that_is_taken_is_a_conflict_and_nothing_is_written(two):
    a, b = two
    entries = chain(3)
    a.write(entries[:2])
    other = chain(2, start=2, prev=entries[0].hash)  # another writer's entries 2 and 3, after entry 1
    with pytest.raises(LogConflict, match="entry 2"):
        b.write(other)
    assert a.entries() == entries[:2]


def test_a_writer_holding_the_lock_keeps_the_others_out_until_it_has_written(two):
    a, b = two
    entries = chain(2)
    a.write(entries[:1])
    theirs = chain(1, start=2, prev=entries[0].hash)
    outcome = []

    def other_writer() -> None:
        try:
            b.write(theirs)
            outcome.append("written")
        except LogConflict as exc:
            outcome.append(exc)

    with a.appending():
        assert a.entries() == entries[:1]  # read under the lock: entry 2 is still free
        thread = threading.Thread(target=other_writer)
        thread.start()
        thread.join(0.5)
        assert thread.is_alive() and not outcome  # the other writer waits for the lock
        a.write(entries[1:])
    thread.join(30)
    assert len(outcome) == 1 and isinstance(outcome[0], LogConflict)  # then finds entry 2 taken
    assert b.entries() == entries
