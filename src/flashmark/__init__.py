"""flashmark: Markdown question-and-answer notes to Anki decks."""

from __future__ import annotations

__version__ = "0.1.0"
