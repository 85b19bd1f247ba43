"""Streaming writers: rows are written as they are produced, never gathered in memory first."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from zoneinfo import ZoneInfo


class _Echo:
    """A file-like object whose write returns the line, so csv.writer feeds a generator."""

    def write(self, value: str) -> str:
        return value


def csv_stream(header: list[str], rows: Iterable[Iterable]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(header)
    for row in rows:
        yield writer.writerow(row)


AUDIT_TRAIL_HEADER = [
    "timestamp_utc", "timestamp_site", "user", "model", "object_id", "action", "field", "old_value", "new_value",
    "reason",
]  # fmt: skip


def audit_trail_csv(events, site_timezone: str) -> Iterator[str]:
    zone = ZoneInfo(site_timezone)
    rows = (
        (
            event.when.astimezone(ZoneInfo("UTC")).isoformat(),
            event.when.astimezone(zone).isoformat(),
            event.user,
            event.model,
            event.object_id,
            event.action,
            event.field,
            event.old,
            event.new,
            event.reason,
        )
        for event in events
    )
    return csv_stream(AUDIT_TRAIL_HEADER, rows)
