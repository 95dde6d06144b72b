"""flashmark's Anki note types, one per kind of note: fields, templates and CSS (shipped under templates/).

A note type's fields and card types are frozen once shipped: adding one to a note type Anki already
has is a schema change, after which Anki's importer makes a "+" copy and stops updating the notes. So
each new kind of card came with a note type of its own:

- `qa`: the Q&A note type of earlier versions (one card). Notes first built by those versions
  keep it, so importing a newer deck over an older one updates them in place.
- `qar`: Q&A with an optional reversed card (the `Reverse` field turns card 2 on); every Q&A note
  since, so turning reverse on or off never changes a note's type, GUID or first card.
- `cloze`: a cloze note type (`{{c1::…}}` in Text), one card per cloze number.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib.resources import files

import genanki

from flashmark.anki.cloze import card_ords
from flashmark.identity import NOTETYPE_ID, schema_id
from flashmark.markdown.highlight import palette_css
from flashmark.types import CLOZE as CLOZE
from flashmark.types import QA as QA
from flashmark.types import RenderedNote

QAR = "qar"
NOTETYPE_NAME = "flashmark Q&A"
# Frozen once shipped: Anki matches note types by id and schema.
FIELDS = ("Question", "Prompt", "Answer", "Extra", "Topic", "Source")
TEMPLATE_NAME = "Card"
REVERSE_ON = "y"  # what the Reverse field holds when the reversed card is on


@dataclass(frozen=True, slots=True)
class Kind:
    """One of flashmark's note types: its id, name, fields and card templates (front and back files)."""

    name: str  # qa, qar or cloze
    family: str  # qa or cloze: notes change kind only within a family (qa → qar), never across
    notetype_id: int
    notetype_name: str
    fields: tuple[str, ...]
    templates: tuple[tuple[str, str, str], ...]  # card name, front file, back file under templates/
    cloze: bool = False
    title_field: str = "Question"  # what Anki sorts by and `dupe:` searches
    answer_field: str = "Answer"  # what continuity compares when a title changes
    topic_field: str = "Topic"

    def index(self, name: str) -> int:
        return self.fields.index(name)


KINDS: dict[str, Kind] = {
    QA: Kind(
        QA,
        QA,
        NOTETYPE_ID,
        NOTETYPE_NAME,
        FIELDS,
        ((TEMPLATE_NAME, "front.html", "back.html"),),
    ),
    QAR: Kind(
        QAR,
        QA,
        1_733_300_020_252,
        "flashmark Q&A (reversible)",
        (*FIELDS, "Reverse"),
        ((TEMPLATE_NAME, "front.html", "back.html"), ("Reverse", "reverse_front.html", "reverse_back.html")),
    ),
    CLOZE: Kind(
        CLOZE,
        CLOZE,
        1_733_300_020_253,
        "flashmark Cloze",
        ("Title", "Text", "Extra", "Topic", "Source"),
        (("Cloze", "cloze_front.html", "cloze_back.html"),),
        cloze=True,
        title_field="Title",
        answer_field="Text",
    ),
}
BY_NOTETYPE_ID = {k.notetype_id: k for k in KINDS.values()}


def template_text(name: str) -> str:
    """A file from the package's templates/ folder."""
    return files("flashmark").joinpath("templates").joinpath(name).read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def card_css() -> str:
    """The note types' CSS: templates/style.css plus the code-highlighting palettes."""
    return template_text("style.css").rstrip("\n") + "\n\n" + palette_css()


@cache
def note_type(kind: str = QA) -> genanki.Model:
    """The genanki model of one kind; its fields and templates carry fixed ids."""
    k = KINDS[kind]
    # The legacy Q&A type's field and template ids were derived without the note type's id in them.
    scope = None if kind == QA else k.notetype_id
    return genanki.Model(
        k.notetype_id,
        k.notetype_name,
        fields=[{"name": name, "id": schema_id("field", name, scope)} for name in k.fields],
        templates=[
            {
                "name": name,
                "id": schema_id("template", name, scope),
                "qfmt": template_text(front),
                "afmt": template_text(back),
            }
            for name, front, back in k.templates
        ],
        css=card_css(),
        model_type=genanki.Model.CLOZE if k.cloze else genanki.Model.FRONT_BACK,
        sort_field_index=0,
    )


@cache
def notetype_hash(kind: str = QA) -> str:
    """A hash of everything Anki shows from one note type: name, fields, templates and CSS."""
    model = note_type(kind)
    shape = {
        "name": model.name,
        "fields": [(f["name"], f["id"]) for f in model.fields],
        "templates": [(t["name"], t["id"], t["qfmt"], t["afmt"]) for t in model.templates],
        "css": model.css,
    }
    return hashlib.sha256(json.dumps(shape, ensure_ascii=False, sort_keys=True).encode()).hexdigest()[:16]


def kind_label(kind: str, reverse: bool) -> str:
    """How check, list, the report and the preview name a note's kind: Q&A, Q&A + reverse, or cloze."""
    if kind == CLOZE:
        return "cloze"
    return "Q&A + reverse" if reverse else "Q&A"


def kind_key(kind: str, reverse: bool) -> str:
    """The kind as JSON output names it: qa, qa+reverse or cloze."""
    if kind == CLOZE:
        return CLOZE
    return "qa+reverse" if reverse else QA


def rendered_kind(rn: RenderedNote) -> str:
    """A rendered note's kind as JSON output names it: on the one-card note type it has no reversed card."""
    if rn.notetype == QA:
        return QA
    return kind_key(rn.note.kind, rn.note.reverse)


def card_labels(rn: RenderedNote) -> list[tuple[int, str]]:
    """The cards Anki makes of a rendered note: (ordinal, name), e.g. (0, "Card"), (1, "Reverse"), (2, "Cloze 3")."""
    kind = KINDS[rn.notetype]
    if kind.cloze:
        return [(o, f"Cloze {o + 1}") for o in card_ords(rn.fields[kind.index(kind.answer_field)])]
    cards = [(0, kind.templates[0][0])]
    if rn.notetype == QAR and rn.fields[kind.index("Reverse")]:
        cards.append((1, kind.templates[1][0]))
    return cards
