"""A small in-process cache for results that take seconds (coverage, proposals)."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

T = TypeVar("T")


class TTLCache(Generic[T]):
    """At most ``max_items`` results, each kept ``ttl_s`` seconds.

    Requests for the same key while it is being computed wait for that one
    computation instead of starting their own (a page asks for several layers
    of one report at once).
    """

    def __init__(self, max_items: int = 8, ttl_s: float = 600.0) -> None:
        self.max_items = max_items
        self.ttl_s = ttl_s
        self._items: OrderedDict[Hashable, tuple[float, T]] = OrderedDict()
        self._lock = threading.Lock()
        self._key_locks: dict[Hashable, threading.Lock] = {}

    def get_or_compute(self, key: Hashable, compute: Callable[[], T]) -> T:
        """The cached value for ``key``, computing (once) when absent or stale."""
        with self._lock:
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:
            found = self._fresh(key)
            if found is not None:
                return found[1]
            value = compute()
            self.put(key, value)
            return value

    def get(self, key: Hashable) -> T | None:
        """The value kept for ``key``, or None when absent or stale."""
        found = self._fresh(key)
        return None if found is None else found[1]

    def put(self, key: Hashable, value: T) -> None:
        """Keep ``value`` for ``key`` (the oldest item goes when full)."""
        with self._lock:
            self._items[key] = (time.monotonic(), value)
            self._items.move_to_end(key)
            while len(self._items) > self.max_items:
                old, _ = self._items.popitem(last=False)
                self._key_locks.pop(old, None)

    def _fresh(self, key: Hashable) -> tuple[float, T] | None:
        with self._lock:
            found = self._items.get(key)
            if found is None or time.monotonic() - found[0] > self.ttl_s:
                self._items.pop(key, None)
                return None
            return found

    def clear(self) -> None:
        """Forget everything (after an edit changes what reports would say)."""
        with self._lock:
            self._items.clear()
