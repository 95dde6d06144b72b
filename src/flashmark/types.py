"""Frozen records passed between the pipeline stages."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

# The two families of notes: question and answer (optionally with a reversed card), and cloze.
QA = "qa"
CLOZE = "cloze"

KeyInput = tuple[str | None, str, tuple[str, ...], str, str]  # anchor, normalised title, topic, prompt, kind


@dataclass(frozen=True, slots=True)
class MediaFile:
    """An image to ship in the package: its content-hash name in Anki's media folder and where it is read from."""

    name: str
    path: str


# An image whose bytes were checked against its media name: its name, and its figures (size, modification time,
# change time, inode) and the time they were taken, just before it was read.
Verified = tuple[str, tuple[int, int, int, int], int]


@dataclass(frozen=True, slots=True)
class Section:
    """A labelled extra section of a question body (应用, 举例, Example, …)."""

    label: str
    html: str
    norm: str


@dataclass(frozen=True, slots=True)
class Question:
    """One question heading with its parsed body."""

    title: str
    title_html: str
    title_norm: str
    topic: tuple[str, ...]
    prompt_html: str
    prompt_norm: str
    answer_html: str
    answer_norm: str
    extras: tuple[Section, ...]
    file: str
    line: int
    deck: str
    tags: tuple[str, ...]
    anchor: str | None = None
    media: tuple[MediaFile, ...] = ()
    kind: str = QA  # QA, or CLOZE when its text holds cloze markers
    reverse: bool = False  # a Q&A question that also wants the reversed card

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True, slots=True)
class Skipped:
    """A question that did not become a note, and why."""

    file: str
    line: int
    title: str
    reason: str

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True, slots=True)
class Notice:
    """A warning about the input that does not stop the build."""

    file: str
    line: int | None
    kind: str
    message: str

    @property
    def where(self) -> str:
        return self.file if self.line is None else f"{self.file}:{self.line}"


@dataclass(frozen=True, slots=True)
class Source:
    """One content file: where it is and its decoded text."""

    path: Path
    rel: str
    text: str
    notices: tuple[Notice, ...] = ()  # what decoding changed (control characters replaced)


@dataclass(frozen=True, slots=True)
class ParsedFile:
    """Everything one file contributes: its questions, skips and warnings."""

    rel: str
    questions: tuple[Question, ...]
    skipped: tuple[Skipped, ...] = ()
    notices: tuple[Notice, ...] = ()
    # Files besides the source that the parse read (e.g. images), relative to the content folder;
    # the parse cache re-parses the source when one of them changes.
    deps: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Note:
    """One Anki note: a question, or a group of repeats of it merged together."""

    key: str
    title: str
    title_html: str
    topic: tuple[str, ...]
    prompt_html: str
    answers: tuple[str, ...]
    extras: tuple[Section, ...]
    tags: tuple[str, ...]
    deck: str
    sources: tuple[str, ...]  # file:line of every question in the note, for the report, check and list
    anchor: str | None = None
    media: tuple[MediaFile, ...] = ()
    files: tuple[str, ...] = ()  # the files it comes from, once each: what the card's Source field names
    kind: str = QA
    reverse: bool = False


@dataclass(frozen=True, slots=True)
class MergeGroup:
    """A note made of more than one input question, for the report."""

    key: str
    title: str
    sources: tuple[str, ...]
    titles: tuple[str, ...]
    reason: str


@dataclass(frozen=True, slots=True)
class Conflict:
    """Questions with the same title kept apart because their answers differ."""

    title: str
    sources: tuple[str, ...]
    reason: str


@dataclass(frozen=True, slots=True)
class Clash:
    """One explicit id (`{#id}`) on questions that are different notes: identity would depend on file order."""

    anchor: str
    sources: tuple[str, ...]  # file:line of the first question of each note carrying it


@dataclass(frozen=True, slots=True)
class MergeResult:
    """The merge stage's output: notes plus what was merged or kept apart."""

    notes: tuple[Note, ...]
    groups: tuple[MergeGroup, ...] = ()
    conflicts: tuple[Conflict, ...] = ()
    clashes: tuple[Clash, ...] = ()
    members: tuple[tuple[int, ...], ...] = ()  # per note, the indices of its questions in merge()'s input
    key_inputs: tuple[KeyInput, ...] = ()  # per note, what its key is made of (merge.note_keys)


@dataclass(frozen=True, slots=True)
class RenderedNote:
    """A note's Anki fields (in note-type order) and tags, ready to package."""

    note: Note
    guid: str
    deck: str
    fields: tuple[str, ...]
    tags: tuple[str, ...]
    mod: int = 0  # Anki's modification time; 0 until the identity stage sets it
    notetype: str = "qar"  # which of flashmark's note types (anki.notetype.KINDS) the fields are for

    @property
    def key(self) -> str:
        return self.note.key

    @property
    def media(self) -> tuple[MediaFile, ...]:
        return self.note.media


@dataclass(frozen=True, slots=True)
class Match:
    """A note whose key changed since the last build, matched to its old GUID by similarity."""

    old_key: str
    new_key: str
    guid: str
    old_title: str
    new_title: str
    reason: str


@dataclass(frozen=True, slots=True)
class Removed:
    """A note whose question is gone from the content folder, with an Anki search that finds it."""

    key: str
    guid: str
    title: str
    search: str
    since: int = 0  # when a build first found it gone (seconds since the epoch)


@dataclass(frozen=True, slots=True)
class Moved:
    """A note whose deck changed since the last build: Anki's import leaves its cards where they are."""

    key: str
    guid: str
    title: str
    old_deck: str
    new_deck: str
