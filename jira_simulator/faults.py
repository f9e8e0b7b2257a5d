"""Faults injected on demand: rate limits, outages, slow answers and dropped connections.

A fault matches requests by site, method and path, fires on a chosen fraction of them (drawn
from a seeded RNG so a test run is repeatable) and, optionally, only a limited number of times.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Mapping
from dataclasses import asdict
from dataclasses import dataclass
from dataclasses import field
from dataclasses import replace
from typing import Any

KINDS = ("429", "503", "500", "delay", "drop", "413")


class FaultError(ValueError):
    """A fault description is not valid."""


@dataclass(frozen=True, slots=True)
class Fault:
    """One injected fault.

    :param kind: ``"429"``, ``"503"``, ``"500"``, ``"delay"``, ``"drop"`` or ``"413"``.
    :param site: a site name, or ``None`` for every site.
    :param fraction: share of the matching requests that get the fault (0 < fraction ≤ 1).
    :param retry_after: seconds sent in ``Retry-After`` (429 and 503 only; ``None`` sends none).
    :param delay: seconds to wait before answering (``delay`` only).
    :param above: the fault fires only for requests with more than this many entities
        (``413`` always uses it; defaults to 0 for the others).
    :param method: only requests with this method (``None`` for all).
    :param path: only requests whose path, relative to the site, starts with this.
    :param times: fire at most this many times (``None`` for no limit).
    """

    kind: str
    site: str | None = None
    fraction: float = 1.0
    retry_after: int | None = None
    delay: float = 0.0
    above: int = 0
    method: str | None = None
    path: str | None = None
    times: int | None = None
    id: int = 0
    fired: int = 0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise FaultError(f"kind must be one of {', '.join(KINDS)}")
        if not 0 < self.fraction <= 1:
            raise FaultError("fraction must be in (0, 1]")
        if self.retry_after is not None and (
            self.kind not in ("429", "503") or self.retry_after < 0
        ):
            raise FaultError("retry_after is for 429 and 503 faults and must be ≥ 0")
        if self.delay < 0 or self.delay > 300:
            raise FaultError("delay must be between 0 and 300 seconds")
        if self.above < 0:
            raise FaultError("above must be ≥ 0")
        if self.times is not None and self.times < 1:
            raise FaultError("times must be ≥ 1")

    def matches(self, site: str, method: str, path: str, entities: int) -> bool:
        if self.site is not None and self.site != site:
            return False
        if self.method is not None and self.method.upper() != method.upper():
            return False
        if self.path is not None and not path.startswith(self.path):
            return False
        if self.times is not None and self.fired >= self.times:
            return False
        if self.kind == "413" or self.above:
            return entities > self.above
        return True

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["retryAfter"] = data.pop("retry_after")
        return data

    @classmethod
    def from_json(cls, raw: object) -> Fault:
        """Build a fault from the JSON of ``POST /_sim/faults``.

        :raises FaultError: when the description is malformed.
        """
        if not isinstance(raw, Mapping):
            raise FaultError("the body must be a JSON object")
        names: dict[str, type | tuple[type, ...]] = {
            "kind": str,
            "site": str,
            "fraction": (int, float),
            "retryAfter": int,
            "delay": (int, float),
            "above": int,
            "method": str,
            "path": str,
            "times": int,
        }
        unknown = set(raw) - set(names)
        if unknown:
            raise FaultError(f"unknown fields: {', '.join(sorted(unknown))}")
        values: dict[str, Any] = {}
        for name, types in names.items():
            value = raw.get(name)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, types):
                raise FaultError(f"{name} has the wrong type")
            values["retry_after" if name == "retryAfter" else name] = value
        if "kind" not in values:
            raise FaultError("kind is required")
        values["kind"] = str(values["kind"])
        return cls(**values)


@dataclass(frozen=True, slots=True)
class Decision:
    """What to do with one request: wait ``delay`` seconds, then apply ``fault`` if any."""

    delay: float = 0.0
    fault: Fault | None = None
    fired: list[str] = field(default_factory=list)


class Faults:
    """The active faults of a simulator; thread-safe."""

    def __init__(self, seed: int = 0) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._rng = random.Random(seed)
        self._next_id = 1

    def add(
        self,
        kind: str | int,
        *,
        site: str | None = None,
        fraction: float = 1.0,
        retry_after: int | None = None,
        delay: float = 0.0,
        above: int = 0,
        method: str | None = None,
        path: str | None = None,
        times: int | None = None,
    ) -> Fault:
        """Add a fault (see :class:`Fault`) and return it.

        :raises FaultError: when the description is not valid.
        """
        fault = Fault(
            kind=str(kind),
            site=site,
            fraction=fraction,
            retry_after=retry_after,
            delay=delay,
            above=above,
            method=method,
            path=path,
            times=times,
        )
        return self.add_fault(fault)

    def add_fault(self, fault: Fault) -> Fault:
        with self._lock:
            fault = replace(fault, id=self._next_id, fired=0)
            self._next_id += 1
            self._faults.append(fault)
            return fault

    def remove(self, fault_id: int) -> bool:
        with self._lock:
            before = len(self._faults)
            self._faults = [f for f in self._faults if f.id != fault_id]
            return len(self._faults) != before

    def clear(self, site: str | None = None) -> None:
        """Remove every fault, or only those of one site."""
        with self._lock:
            if site is None:
                self._faults = []
            else:
                self._faults = [f for f in self._faults if f.site != site]

    def reseed(self, seed: int) -> None:
        with self._lock:
            self._rng = random.Random(seed)

    def list(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    def decide(self, site: str, method: str, path: str, entities: int) -> Decision:
        """Roll the dice for one request: every matching delay adds up; the first other wins."""
        delay = 0.0
        chosen: Fault | None = None
        fired: list[str] = []
        with self._lock:
            for index, fault in enumerate(self._faults):
                if fault.kind != "delay" and chosen is not None:
                    continue
                if not fault.matches(site, method, path, entities):
                    continue
                if fault.fraction < 1 and self._rng.random() >= fault.fraction:
                    continue
                self._faults[index] = replace(fault, fired=fault.fired + 1)
                fired.append(fault.kind)
                if fault.kind == "delay":
                    delay += fault.delay
                else:
                    chosen = fault
        return Decision(delay=delay, fault=chosen, fired=fired)
