"""Stable identities: note GUIDs from note keys, deck ids from deck names, note-type ids."""

from __future__ import annotations

import hashlib

import genanki

# Fixed forever: Anki recognises the note type by this id (changing it makes a copy).
NOTETYPE_ID = 1_733_300_020_251


def note_guid(key: str) -> str:
    """The Anki GUID of a note: a hash of its key, never of its content or position."""
    return str(genanki.guid_for("flashmark", key))


def deck_id(name: str) -> int:
    """A deck id derived from the deck's full name (stable across builds, within 2**53)."""
    digest = hashlib.sha256(f"flashmark-deck:{name}".encode()).digest()
    return (1 << 50) + int.from_bytes(digest[:6], "big") % (1 << 50)


def schema_id(kind: str, name: str) -> int:
    """A fixed id for a note-type field or template (`kind` is "field" or "template"), within 2**53."""
    digest = hashlib.sha256(f"flashmark-{kind}:{NOTETYPE_ID}:{name}".encode()).digest()
    return (1 << 50) + int.from_bytes(digest[:6], "big") % (1 << 50)
