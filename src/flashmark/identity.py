"""Stable identities: note GUIDs from note keys, deck ids from deck names, note-type ids."""

from __future__ import annotations

import hashlib

# Fixed forever: Anki recognises the note type by this id (changing it makes a copy).
NOTETYPE_ID = 1_733_300_020_251

# Anki's own GUID alphabet (base 91), as genanki writes GUIDs.
_BASE91 = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&()*+,-./:;<=>?@[]^_`{|}~"


def guid_for(*values: str) -> str:
    """genanki.guid_for: the first 8 bytes of a SHA-256 of the values, in base 91 (without importing genanki)."""
    number = int.from_bytes(hashlib.sha256("__".join(values).encode()).digest()[:8], "big")
    digits: list[str] = []
    while number:
        number, rest = divmod(number, 91)
        digits.append(_BASE91[rest])
    return "".join(reversed(digits))


def namespace_for(root_deck: str) -> str:
    """The GUID namespace of a deck that has no lock file yet: derived from its root deck name."""
    return hashlib.blake2b(f"flashmark-namespace:{root_deck}".encode(), digest_size=8).hexdigest()


def note_guid(key: str, namespace: str = "") -> str:
    """The Anki GUID of a note: a hash of its deck's namespace and its key, never of its content or position.

    Two decks with different namespaces never share a GUID, so importing one never overwrites the
    other's notes. The empty namespace gives the GUIDs of flashmark 0.1, which lock files keep.
    """
    return guid_for("flashmark", namespace, key) if namespace else guid_for("flashmark", key)


def deck_id(name: str) -> int:
    """A deck id derived from the deck's full name (stable across builds, within 2**53)."""
    digest = hashlib.sha256(f"flashmark-deck:{name}".encode()).digest()
    return (1 << 50) + int.from_bytes(digest[:6], "big") % (1 << 50)


def schema_id(kind: str, name: str, notetype: int | None = None) -> int:
    """A fixed id for a note-type field or template (`kind` is "field" or "template"), within 2**53.

    `notetype` names the note type it belongs to; None: the Q&A note type of flashmark 0.1.
    """
    scope = NOTETYPE_ID if notetype is None else f"{notetype}:v2"
    digest = hashlib.sha256(f"flashmark-{kind}:{scope}:{name}".encode()).digest()
    return (1 << 50) + int.from_bytes(digest[:6], "big") % (1 << 50)
