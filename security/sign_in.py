"""Throttling password sign-ins on the codec server: growing delays, never a lock-out an attacker can
trigger, and no record an attacker can flush.

Three kinds of record, each a count of recent failures:

- by client (the connecting address): one machine guessing many names;
- by name: many machines guessing one name (distributed guessing);
- by device: a browser that signed in as that name before holds a signed device cookie
  (`seller_codec_device`, HttpOnly, Path=/login); its attempts for that name count on its own record
  only, so nobody elsewhere can slow the operator's own browser down.

The first FREE_FAILURES failures cost nothing; each further one doubles the wait before the next attempt
is even checked (1 s, 2 s, 4 s, ...), up to a cap (15 minutes by client or device, 5 minutes by name: the
name's record is the one an attacker can raise for someone else, so it only slows, it never locks). A
record is forgotten FORGET_SECONDS after its last failure (a device's also at its next success).

Nothing an attacker can flush: the records of configured operator names live apart from everything else
and are never evicted; unknown names, clients and devices sit in bounded least-recently-used tables
(MAX_RECORDS each), so a flood of made-up names or addresses only evicts other made-up entries.
Unknown names are throttled exactly like known ones, so the answers do not tell which names exist.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

FREE_FAILURES = 3
CLIENT_CAP_SECONDS = 15 * 60.0
NAME_CAP_SECONDS = 5 * 60.0
FORGET_SECONDS = 60 * 60.0
MAX_RECORDS = 100_000
MAX_NAME = 128  # characters of a typed name that count: longer ones are the same record


@dataclass
class Failures:
    count: int = 0
    last: float = 0.0
    until: float = 0.0  # no attempt is checked before this


class SignInThrottle:
    def __init__(
        self,
        known_names: Iterable[str],
        *,
        free: int = FREE_FAILURES,
        client_cap: float = CLIENT_CAP_SECONDS,
        name_cap: float = NAME_CAP_SECONDS,
        forget: float = FORGET_SECONDS,
        max_records: int = MAX_RECORDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.clock = clock  # a test holds it still, so that a loaded machine cannot run a wait out
        self.free, self.client_cap, self.name_cap, self.forget = free, client_cap, name_cap, forget
        self.max_records = max_records
        # Configured operators: a fixed set of keys, never evicted.
        self._known: dict[str, Failures] = {n[:MAX_NAME]: Failures() for n in known_names}
        self._unknown: OrderedDict[str, Failures] = OrderedDict()
        self._clients: OrderedDict[str, Failures] = OrderedDict()
        self._devices: OrderedDict[str, Failures] = OrderedDict()

    def _record(self, table: OrderedDict[str, Failures], key: str, create: bool) -> Failures | None:
        record = table.get(key)
        if record is None and create:
            record = table[key] = Failures()
            while len(table) > self.max_records:
                table.popitem(last=False)
        if record is not None:
            table.move_to_end(key)
        return record

    def _name(self, name: str, create: bool) -> Failures | None:
        name = name[:MAX_NAME]
        if name in self._known:
            return self._known[name]
        return self._record(self._unknown, name, create)

    def _wait(self, record: Failures | None, now: float) -> float:
        if record is None or now - record.last > self.forget:
            return 0.0
        return max(0.0, record.until - now)

    def wait(self, client: str, name: str, device: str | None = None, now: float | None = None) -> float:
        """Seconds before an attempt for `name` from `client` (with a device cookie valid for that
        name, or None) is checked at all; 0 when it may be checked now."""
        now = self.clock() if now is None else now
        if device is not None:
            return self._wait(self._devices.get(device), now)
        return max(self._wait(self._clients.get(client), now), self._wait(self._name(name, False), now))

    def _fail(self, record: Failures, cap: float, now: float) -> None:
        if now - record.last > self.forget:
            record.count = 0
        record.count += 1
        record.last = now
        extra = record.count - self.free
        record.until = now + min(2.0 ** (extra - 1), cap) if extra > 0 else now

    def failed(self, client: str, name: str, device: str | None = None, now: float | None = None) -> None:
        now = self.clock() if now is None else now
        if device is not None:
            record = self._record(self._devices, device, True)
            assert record is not None
            self._fail(record, self.client_cap, now)
            return
        for record, cap in (
            (self._record(self._clients, client, True), self.client_cap),
            (self._name(name, True), self.name_cap),
        ):
            assert record is not None
            self._fail(record, cap, now)

    def succeeded(self, client: str, name: str, device: str | None = None) -> None:
        """The right password: the device's record starts again. The name's and the client's records
        stay until they are forgotten: a success by the real operator must not hand whoever is guessing
        their name fresh free tries, nor signing in to one's own account buy guesses at another's."""
        if device is not None:
            self._devices.pop(device, None)
