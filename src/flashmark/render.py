"""[Note] → Anki field HTML, in the note type's field order."""

from __future__ import annotations

from dataclasses import replace
from functools import lru_cache
from html import escape

from flashmark.anki.notetype import CLOZE, KINDS, QA, QAR, REVERSE_ON
from flashmark.identity import note_guid
from flashmark.markdown.sanitize import card_html
from flashmark.types import Note, RenderedNote

TOPIC_SEPARATOR = " › "
MAX_DECK_LEVELS = 11  # Anki refuses a whole package holding a deck nested deeper ("deck nesting level too deep")


def anki_deck(root: str, sub: str) -> str:
    """A note's full deck name: the root deck, then its own, at most MAX_DECK_LEVELS levels deep.

    Levels beyond the limit are joined into the last one with `/`, as a folder path reads.
    """
    levels = [level for level in (*root.split("::"), *sub.split("::")) if level.strip()] or ["flashmark"]
    if len(levels) > MAX_DECK_LEVELS:
        levels = [*levels[: MAX_DECK_LEVELS - 1], "/".join(levels[MAX_DECK_LEVELS - 1 :])]
    return "::".join(levels)


def answer_html(answers: tuple[str, ...]) -> str:
    """One answer as is; several differing answers each in their own block, in order."""
    if len(answers) == 1:
        return answers[0]
    return "".join(f'<div class="fm-alt">{a}</div>' for a in answers)


@lru_cache(maxsize=4096)
def _label_html(label: str) -> str:
    return f'<div class="fm-extra"><div class="fm-label">{escape(label)}</div>'


@lru_cache(maxsize=4096)
def _topic_html(topic: tuple[str, ...]) -> str:
    return escape(TOPIC_SEPARATOR.join(topic))


@lru_cache(maxsize=4096)
def source_html(files: tuple[str, ...]) -> str:
    """The Source field: the files a note comes from, never line numbers (they move whenever text above moves)."""
    return "<br>".join(escape(f) for f in files)


def extra_html(note: Note) -> str:
    """The extra labelled sections, each under its label."""
    return "".join(f"{_label_html(s.label)}{s.html}</div>" for s in note.extras)


def render_note(note: Note, root_deck: str) -> RenderedNote:
    """Fill the fields of the note's note type: Q&A (with its Reverse switch) or cloze."""
    if note.kind == CLOZE:
        values: tuple[str, ...] = (
            note.title_html,
            note.prompt_html + answer_html(note.answers),
            extra_html(note),
            _topic_html(note.topic),
            source_html(note.files),
        )
        notetype = CLOZE
    else:
        values = (
            note.title_html,
            note.prompt_html,
            answer_html(note.answers),
            extra_html(note),
            _topic_html(note.topic),
            source_html(note.files),
            REVERSE_ON if note.reverse else "",
        )
        notetype = QAR
    fields = tuple(card_html(field) for field in values)
    deck = anki_deck(root_deck, note.deck)
    return RenderedNote(
        note=note, guid=note_guid(note.key), deck=deck, fields=fields, tags=note.tags, notetype=notetype
    )


def as_notetype(rn: RenderedNote, notetype: str) -> RenderedNote:
    """A Q&A note's fields for the other Q&A note type: the one-card type of earlier versions (`qa`), or `qar`."""
    if notetype == rn.notetype:
        return rn
    if notetype == QAR and rn.notetype == QA:
        return replace(rn, fields=(*rn.fields, REVERSE_ON if rn.note.reverse else ""), notetype=QAR)
    if notetype == QA and rn.notetype == QAR:
        return replace(rn, fields=rn.fields[: len(KINDS[QA].fields)], notetype=QA)
    raise ValueError(f"a {rn.notetype} note cannot become a {notetype} note")


def render_notes(notes: tuple[Note, ...], root_deck: str) -> list[RenderedNote]:
    """Render every note."""
    return [render_note(n, root_deck) for n in notes]
