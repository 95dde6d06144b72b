"""What `flashmark sync` prints: a line per note it changes (or would), and one summary line."""

from __future__ import annotations

from typing import Any

from flashmark.anki.sync import (
    ADD,
    CONFLICT,
    DELETE,
    KEEP,
    PARK,
    REMOVED_TAG,
    RESTORE,
    RETIRE,
    UNCHANGED,
    UNPARK,
    UPDATE,
    SyncResult,
)

_COUNTED = ((ADD, "added"), (UPDATE, "updated"), (KEEP, "kept as edited in Anki"), (CONFLICT, "conflict"))


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def step_lines(result: SyncResult) -> list[str]:
    """One line for each note sync changes (or, dry, would change), and each conflict."""
    lines: list[str] = []
    for step in result.steps:
        title = f"'{step.title}'"
        if step.action == ADD:
            lines.append(f"add: {title} → {step.deck}")
        elif step.action == UPDATE:
            lines.append(f"update: {title}")
        elif step.action == KEEP:
            lines.append(f"keep: {title} (edited in Anki since the last sync; the sources did not change)")
        elif step.action == CONFLICT:
            side = "the sources' version" if step.applied else "your Anki edit (--prefer source takes the sources')"
            lines.append(f"conflict: {title} changed in Anki and in the sources; kept {side}: {step.detail}")
        elif step.action == RETIRE:
            lines.append(f"retire: {title} (its question is gone: tagged {REMOVED_TAG}, cards suspended)")
        elif step.action == RESTORE:
            lines.append(f"restore: {title} (its question is back: tag removed, cards unsuspended)")
        elif step.action == DELETE:
            lines.append(f"delete: {title} ({step.detail})")
        if step.move_from:
            lines.append(f"move: {title} from deck {step.move_from} to {step.deck}")
        if step.left_in:
            lines.append(
                f"left: {title} stays in {step.left_in}, where it was moved in Anki (flashmark's deck: {step.deck})"
            )
        if step.reverse_card == PARK:
            lines.append(f"reverse off: {title} (its reversed card is suspended, its history kept)")
        elif step.reverse_card == UNPARK:
            lines.append(f"reverse on: {title} (its reversed card is unsuspended)")
    if result.converted:
        what = "would move" if result.dry_run else "moved"
        lines.append(
            f"note type: {what} {_plural(result.converted, 'note')} of an earlier flashmark to the reversible "
            "Q&A note type, keeping their cards and reviews (AnkiWeb needs one full sync)"
        )
    return lines


def sync_counts(result: SyncResult) -> dict[str, int]:
    """How many notes each kind of step touched."""
    return {
        "added": result.count(ADD),
        "updated": result.count(UPDATE) + sum(1 for s in result.steps if s.action == CONFLICT and s.applied),
        "kept": result.count(KEEP),
        "conflicts": result.count(CONFLICT),
        "moved": result.moved,
        "left_in_place": result.left,
        "retired": result.count(RETIRE),
        "restored": result.count(RESTORE),
        "deleted": result.count(DELETE),
        "deleted_reviewed_cards": result.deleted_reviewed_cards,
        "unchanged": result.count(UNCHANGED),
        "reverse_suspended": result.parked,
        "reverse_unsuspended": result.unparked,
        "converted": result.converted,
    }


def sync_summary(result: SyncResult) -> str:
    """The last line: counts per kind, the collection, and the backup (or that nothing was written)."""
    counts = sync_counts(result)
    parts = [
        _plural(counts["added"], "note") + " added" if counts["added"] else "",
        f"{counts['updated']} updated" if counts["updated"] else "",
        f"{counts['kept']} kept as edited in Anki" if counts["kept"] else "",
        _plural(counts["conflicts"], "conflict") if counts["conflicts"] else "",
        f"{counts['moved']} moved" if counts["moved"] else "",
        f"{counts['left_in_place']} left where moved in Anki" if counts["left_in_place"] else "",
        f"{counts['retired']} retired" if counts["retired"] else "",
        f"{counts['restored']} restored" if counts["restored"] else "",
        f"{_plural(counts['reverse_suspended'], 'reversed card')} suspended" if counts["reverse_suspended"] else "",
        f"{_plural(counts['reverse_unsuspended'], 'reversed card')} back" if counts["reverse_unsuspended"] else "",
        f"{counts['converted']} moved to the reversible note type" if counts["converted"] else "",
        (
            f"{counts['deleted']} deleted ({_plural(counts['deleted_reviewed_cards'], 'card')} with reviews)"
            if counts["deleted"]
            else ""
        ),
    ]
    changes = ", ".join(p for p in parts if p)
    unchanged = f"{counts['unchanged']} unchanged"
    if result.dry_run:
        what = f"would change: {changes}; {unchanged}" if changes else f"nothing would change ({unchanged})"
        return f"sync (dry run, nothing written): {what} → {result.collection}"
    if not result.changed:
        return f"sync: nothing to change ({'; '.join(p for p in (changes, unchanged) if p)}) → {result.collection}"
    what = f"{changes}; {unchanged}"
    backup = f" (backup: {result.backup})" if result.backup else ""
    schema = "; note type updated in place" if result.notetype_updated else ""
    return f"sync: {what}{schema} → {result.collection}{backup}"


def sync_data(result: SyncResult) -> dict[str, Any]:
    """The JSON of `sync --json`: where, the backup, counts, and every note's step."""
    return {
        "collection": str(result.collection),
        "dry_run": result.dry_run,
        "backup": str(result.backup) if result.backup else None,
        "notetype_updated": result.notetype_updated,
        "counts": sync_counts(result),
        "steps": [s.data() for s in result.steps],
    }
