"""Injectable failures, so tests can exercise retries, timeouts and parsing errors.

Faults apply in the order they were added; the first matching fault that has
uses left wins. A fault without `path` matches every API request (`/api/...`) but
not the token endpoint: the token endpoint is only affected by faults with
`path="token"` or kind `token_down`, so adding a generic fault does not break
authentication before the request under test.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
import threading
from typing import Literal, cast, get_args

FaultKind = Literal["status", "slow", "malformed", "truncated", "reset", "token_down"]
FAULT_KINDS: tuple[str, ...] = get_args(FaultKind)

TOKEN_PATH = "token"  # noqa: S105 - a route name, not a credential
API_PATHS = ("/api/mandate", "/api/mandate/energy", "/api/mandate/mock")


@dataclass(slots=True)
class Fault:
    """One kind of failure and the requests it applies to.

    kind: `status` (answer with `status`, optional `Retry-After: retry_after`),
    `slow` (wait `delay` seconds, then answer normally), `malformed` (200 with a
    non-JSON body), `truncated` (200 with the real JSON cut in half), `reset`
    (close the connection without answering), `token_down` (token endpoint 503).
    `count=None` applies until the faults are cleared.
    """

    kind: FaultKind
    status: int = 500
    retry_after: str | None = None
    delay: float = 0.0
    path: str | None = None
    ean: str | None = None
    granularity: str | None = None
    count: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; expected one of {FAULT_KINDS}")
        if self.path is not None:
            self.path = self.path.rstrip("/").lower()
            if self.path != TOKEN_PATH and self.path not in API_PATHS:
                raise ValueError(f"unknown fault path {self.path!r}")
        if self.count is not None and self.count < 0:
            raise ValueError("count must not be negative")

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> Fault:
        """Build from JSON (snake_case or camelCase keys), for the HTTP control surface."""
        fields = {str(k).replace("_", "").casefold(): v for k, v in data.items()}
        unknown = set(fields) - _FIELD_KEYS
        if unknown:
            raise ValueError(f"unknown fault fields: {', '.join(sorted(unknown))}")
        kind = fields.get("kind")
        if not isinstance(kind, str) or kind not in FAULT_KINDS:
            raise ValueError(f"a fault needs a 'kind', one of {', '.join(FAULT_KINDS)}")
        return cls(
            kind=cast("FaultKind", kind),
            status=_typed(fields, "status", int, 500),
            retry_after=_optional(fields, "retryafter", str),
            delay=float(_typed(fields, "delay", (int, float), 0.0)),
            path=_optional(fields, "path", str),
            ean=_optional(fields, "ean", str),
            granularity=_optional(fields, "granularity", str),
            count=_optional(fields, "count", int),
        )

    def to_dict(self) -> dict[str, object]:
        """JSON-friendly form."""
        return asdict(self)

    def matches(self, path: str, ean: str | None, granularities: Iterable[str]) -> bool:
        """Whether this fault applies to a request (`path` is TOKEN_PATH or an API path)."""
        if self.kind == "token_down" or self.path == TOKEN_PATH:
            return path == TOKEN_PATH
        if path == TOKEN_PATH:
            return False
        if self.path is not None and self.path != path:
            return False
        if self.ean is not None and self.ean != ean:
            return False
        if self.granularity is not None:
            requested = {g.casefold() for g in granularities}
            # An omitted granularity asks for everything, so it matches any filter.
            if requested and self.granularity.casefold() not in requested:
                return False
        return True


_FIELD_KEYS = frozenset(
    {"kind", "status", "retryafter", "delay", "path", "ean", "granularity", "count"}
)


def _typed[T](
    fields: Mapping[str, object], name: str, kind: type[T] | tuple[type, ...], default: T
) -> T:
    value = fields.get(name, default)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise TypeError(f"fault field '{name}' has the wrong type")
    return cast("T", value)


def _optional[T](fields: Mapping[str, object], name: str, kind: type[T]) -> T | None:
    value = fields.get(name)
    if value is None:
        return None
    if not isinstance(value, kind) or isinstance(value, bool):
        raise TypeError(f"fault field '{name}' has the wrong type")
    return value


@dataclass
class FaultList:
    """The active faults and how many uses each has left."""

    _entries: list[tuple[Fault, list[int | None]]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, *faults: Fault) -> None:
        """Append faults; they apply after the ones already present."""
        with self._lock:
            self._entries.extend((f, [f.count]) for f in faults)

    def clear(self) -> None:
        """Remove every fault."""
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def __iter__(self) -> Iterator[Fault]:
        """Faults that still have uses left."""
        with self._lock:
            return iter([f for f, left in self._entries if left[0] is None or left[0] > 0])

    def take(self, path: str, ean: str | None, granularities: Iterable[str]) -> Fault | None:
        """The fault to apply to a request, using up one of its uses."""
        wanted = list(granularities)
        with self._lock:
            for fault, left in self._entries:
                if left[0] is not None and left[0] <= 0:
                    continue
                if fault.matches(path, ean, wanted):
                    if left[0] is not None:
                        left[0] -= 1
                    return fault
        return None
