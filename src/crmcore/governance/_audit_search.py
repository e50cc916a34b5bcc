"""Finding a person in the audit trail: subjects, record ids and payload text."""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping
from typing import Any

from crmcore.governance._audit_entries import AuditEntry
from crmcore.governance._identity import canonical_json
from crmcore.normalize import text_identifier_keys

_SEP = b"\x1e"
_FOLD = 4096  # pending payload texts scanned one by one before they join the big buffer


class AuditSearchIndex:
    """Where to find a person in the trail: subjects, record ids, and payload text.

    Payload texts (case-folded canonical JSON, UTF-8) are kept joined in one buffer, so looking
    a value up is one C-level ``bytearray.find`` pass instead of serialising every payload
    again. Erasing an entry overwrites its bytes in place (:meth:`clear`), so the index never
    keeps what the trail no longer holds. Identifier keys of the payloads (emails and phones
    written in free text, in any spelling the one identity normaliser reads) are indexed too.
    """

    def __init__(self, region: str | None = None) -> None:
        self.region = region
        self.texts: list[bytes] = []  # position = seq - 1; b"" once folded or erased
        self.subjects: dict[str, list[int]] = {}
        self.records: dict[str, list[int]] = {}
        self.keys: dict[str, set[int]] = {}
        self.cleared: set[int] = set()
        self._entry_keys: dict[int, list[str]] = {}
        self._joined = bytearray()
        self._starts: list[int] = []
        self._pending = 0

    def __len__(self) -> int:
        return len(self.texts)

    def add(self, entry: AuditEntry) -> None:
        if entry.payload is None:
            self.texts.append(b"")
            self.cleared.add(entry.seq)
        else:
            text = canonical_json(dict(entry.payload))
            self.texts.append(text.casefold().encode("utf-8"))
            keys = text_identifier_keys(payload_text(entry.payload), region=self.region)
            if keys:
                self._entry_keys[entry.seq] = keys
                for key in keys:
                    self.keys.setdefault(key, set()).add(entry.seq)
        for subject in entry.subjects:
            self.subjects.setdefault(subject, []).append(entry.seq)
        if entry.record_id is not None:
            self.records.setdefault(entry.record_id, []).append(entry.seq)
        self._pending += 1

    def clear(self, seq: int) -> None:
        """Forget the payload of entry ``seq``: its text bytes and identifier keys."""
        self.cleared.add(seq)
        i = seq - 1
        if not 0 <= i < len(self.texts):
            return
        self.texts[i] = b""
        if i < len(self._starts):
            start = self._starts[i]
            end = self._starts[i + 1] - 1 if i + 1 < len(self._starts) else len(self._joined) - 1
            self._joined[start:end] = _SEP * (end - start)
        for key in self._entry_keys.pop(seq, ()):
            bucket = self.keys.get(key)
            if bucket is not None:
                bucket.discard(seq)
                if not bucket:
                    del self.keys[key]

    def _sync(self) -> None:
        """Fold pending texts into the joined buffer once there are many (few are scanned alone)."""
        if self._pending < _FOLD:
            return
        first = len(self.texts) - self._pending
        for i in range(first, len(self.texts)):
            self._starts.append(len(self._joined))
            self._joined += self.texts[i]
            self._joined += _SEP
            self.texts[i] = b""
        self._pending = 0

    def search(self, needle: str) -> set[int]:
        """``seq`` of the entries whose payload text contains the (case-folded) needle."""
        self._sync()
        raw = needle.encode("utf-8")
        out: set[int] = set()
        joined, starts = self._joined, self._starts
        pos = joined.find(raw)
        while pos >= 0:
            i = bisect.bisect_right(starts, pos) - 1
            out.add(i + 1)
            nxt = starts[i + 1] if i + 1 < len(starts) else len(joined)
            pos = joined.find(raw, nxt)
        first = len(self.texts) - self._pending
        for i in range(first, len(self.texts)):
            if raw in self.texts[i]:
                out.add(i + 1)
        return out - self.cleared

    def search_keys(self, keys: Iterable[str]) -> set[int]:
        """``seq`` of the entries whose payload mentions one of the identifier keys."""
        out: set[int] = set()
        for key in keys:
            out.update(self.keys.get(key, ()))
        return out - self.cleared

    def memory_text(self) -> bytes:
        """Every payload byte the index holds (for tests that scan memory after erasure)."""
        return bytes(self._joined) + b"".join(self.texts) + "".join(self.keys).encode("utf-8")


def payload_text(payload: Mapping[str, Any]) -> str:
    """The free text of a payload, strings joined by newlines (JSON escapes undone)."""
    out: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, str):
            out.append(value)
        elif isinstance(value, Mapping):
            for k, v in value.items():
                if k != "salt":
                    walk(v)
        elif isinstance(value, (list, tuple)):
            for v in value:
                walk(v)
        elif value is not None and not isinstance(value, bool):
            out.append(str(value))

    walk(payload)
    return "\n".join(out)
