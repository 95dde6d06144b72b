"""The fixed Anki note type: fields, templates and CSS (shipped under templates/)."""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from importlib.resources import files

import genanki

from flashmark.identity import NOTETYPE_ID, schema_id
from flashmark.markdown.highlight import palette_css

NOTETYPE_NAME = "flashmark Q&A"
# Frozen once shipped: Anki matches note types by id and schema.
FIELDS = ("Question", "Prompt", "Answer", "Extra", "Topic", "Source")
TEMPLATE_NAME = "Card"


def template_text(name: str) -> str:
    """A file from the package's templates/ folder."""
    return files("flashmark").joinpath("templates").joinpath(name).read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def card_css() -> str:
    """The note type's CSS: templates/style.css plus the code-highlighting palettes."""
    return template_text("style.css").rstrip("\n") + "\n\n" + palette_css()


@lru_cache(maxsize=1)
def note_type() -> genanki.Model:
    """The genanki model every flashmark note uses; fields and template carry fixed ids."""
    return genanki.Model(
        NOTETYPE_ID,
        NOTETYPE_NAME,
        fields=[{"name": name, "id": schema_id("field", name)} for name in FIELDS],
        templates=[
            {
                "name": TEMPLATE_NAME,
                "id": schema_id("template", TEMPLATE_NAME),
                "qfmt": template_text("front.html"),
                "afmt": template_text("back.html"),
            },
        ],
        css=card_css(),
        sort_field_index=0,
    )


@lru_cache(maxsize=1)
def notetype_hash() -> str:
    """A hash of everything Anki shows from the note type: name, fields, templates and CSS."""
    model = note_type()
    shape = {
        "name": model.name,
        "fields": [(f["name"], f["id"]) for f in model.fields],
        "templates": [(t["name"], t["id"], t["qfmt"], t["afmt"]) for t in model.templates],
        "css": model.css,
    }
    return hashlib.sha256(json.dumps(shape, ensure_ascii=False, sort_keys=True).encode()).hexdigest()[:16]
