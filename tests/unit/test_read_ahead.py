"""read_ahead: a file's batches produced on a thread, in order, bounded, closable."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from pipeline.read_ahead import read_ahead


class Source:
    """An iterator that records how far it was pulled and whether it was closed."""

    def __init__(self, count: int, fail_at: int | None = None):
        self.count = count
        self.fail_at = fail_at
        self.produced = 0
        self.closed = threading.Event()
        self.threads: set[str] = set()

    def __iter__(self) -> Iterator[int]:
        return self._items()

    def _items(self) -> Iterator[int]:
        try:
            for i in range(self.count):
                self.threads.add(threading.current_thread().name)
                if i == self.fail_at:
                    raise ValueError("bad chunk")
                self.produced += 1
                yield i
        finally:
            self.closed.set()


def test_items_come_in_order_from_another_thread() -> None:
    source = Source(500)
    assert list(read_ahead(iter(source), depth=2)) == list(range(500))
    assert threading.current_thread().name not in source.threads
    assert source.closed.is_set()


def test_an_error_is_raised_after_the_items_before_it() -> None:
    source = Source(10, fail_at=4)
    got = []
    with pytest.raises(ValueError, match="bad chunk"):
        for item in read_ahead(iter(source)):
            got.append(item)
    assert got == [0, 1, 2, 3]


def test_the_producer_stays_within_depth() -> None:
    source = Source(1000)
    items = read_ahead(iter(source), depth=3)
    assert next(items) == 0
    threading.Event().wait(0.3)  # time for the producer to run ahead if it could
    # one handed out, three queued, one more made and waiting for room
    assert source.produced <= 5
    items.close()


def test_closing_early_stops_the_thread_and_closes_the_source() -> None:
    source = Source(1000)
    items = read_ahead(iter(source))
    assert [next(items), next(items)] == [0, 1]
    items.close()
    assert source.closed.wait(5)
    assert source.produced < 10
    assert not any(t.name == "pseudolab-read-ahead" and t.is_alive() for t in threading.enumerate())


def test_an_empty_source() -> None:
    assert list(read_ahead(iter(Source(0)))) == []


def test_depth_must_be_positive() -> None:
    with pytest.raises(ValueError, match="depth"):
        list(read_ahead(iter(Source(1)), depth=0))


class ClosingFails:
    """An iterator whose close() raises with a value in its message."""

    def __init__(self, count: int):
        self._items = iter(range(count))

    def __iter__(self):
        return self

    def __next__(self) -> int:
        return next(self._items)

    def close(self) -> None:
        raise RuntimeError("CANARY-DUPONT")


def test_a_source_that_fails_to_close_neither_raises_nor_prints(monkeypatch) -> None:
    escaped = []
    monkeypatch.setattr(threading, "excepthook", escaped.append)
    assert list(read_ahead(ClosingFails(5))) == [0, 1, 2, 3, 4]
    items = read_ahead(ClosingFails(50))
    assert next(items) == 0
    items.close()
    assert escaped == []
