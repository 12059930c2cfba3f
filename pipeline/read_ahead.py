"""Read the next batches of a file on a thread while the caller works on this one.

Parsing CSV and decoding Parquet happen in pyarrow without the GIL, so reading the next
chunk overlaps with the policy work on the current one: the two cores of a small
server both work. Order is kept (one producer, a FIFO queue), so output never depends
on it; memory stays bounded by `depth` batches waiting plus the two in hand.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from contextlib import suppress
from typing import TypeVar

T = TypeVar("T")

_DONE = object()


class _Failed:
    def __init__(self, error: BaseException):
        self.error = error


def read_ahead(source: Iterator[T], depth: int = 1) -> Iterator[T]:
    """The items of `source`, produced on a background thread up to `depth` ahead.

    An exception raised by `source` is raised here, in order, as the same object.
    Closing this generator early stops the thread and closes `source`. (A consumer that
    abandons it without closing leaves the thread waiting, the file open, until the
    generator is collected.)
    """
    if depth < 1:
        raise ValueError("depth must be at least 1")
    ready: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def offer(item: object) -> bool:
        while not stop.is_set():
            try:
                ready.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in source:
                if not offer(item):
                    return
            offer(_DONE)
        except BaseException as error:  # handed to the consumer, raised there
            offer(_Failed(error))
        finally:
            close = getattr(source, "close", None)
            if close is not None:
                # An error here would escape the thread and be printed whole by
                # threading.excepthook, message included: the source is done with anyway.
                with suppress(BaseException):
                    close()

    thread = threading.Thread(target=produce, name="pseudolab-read-ahead", daemon=True)
    thread.start()
    try:
        while True:
            item = ready.get()
            if item is _DONE:
                return
            if isinstance(item, _Failed):
                raise item.error
            yield item
    finally:
        stop.set()
        if thread is not threading.current_thread():  # collected on the producer itself
            thread.join()
