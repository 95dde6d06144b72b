"""[Question] → [Note]: merge questions that repeat across the whole corpus."""

from __future__ import annotations

import hashlib
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

from rapidfuzz import fuzz

from flashmark.text import normalise
from flashmark.types import CLOZE, Clash, Conflict, KeyInput, MergeGroup, MergeResult, Note, Question, Section

SAME_TOPIC = "same title under the same topic"
SAME_ANSWER = "same title and same answer under another topic"
NEAR_TITLE = "similar title with the same answer"
KEPT_APART = "same title under different topics with different answers; kept as separate notes"
CLOZE_KEY = "[cloze] "  # no normalised title holds brackets or spaces, so no Q&A key can start like this
OTHER_PROMPTS = "same title with different prompts (code, options, 题目); kept as separate notes"
OTHER_KINDS = "same title, but one is a cloze and one a Q&A; kept as separate notes"

MIN_ANSWER_FOR_NEAR = 12  # a shorter answer ("见上文") is no evidence two titles mean the same
NEAR_RATIO = 85.0
MAX_BUCKET_PAIRS = 64  # beyond this many groups per answer, compare exact titles only


def _is_subsequence(short: str, long: str) -> bool:
    it = iter(long)
    return all(ch in it for ch in short)


_NUMBER = re.compile(r"[0-9]+")


def _markers(title: str) -> tuple[list[str], list[str]]:
    """The numbers in order, and the `+`, `#`, `-`: what names a different thing (v2/v3, 12/21, C/C#, DeepLabv3+)."""
    return _NUMBER.findall(title), sorted(ch for ch in title if ch in "+#-")


def near_titles(a: str, b: str) -> bool:
    """Whether two normalised titles read as the same question worded differently."""
    if a == b:
        return True
    if _markers(a) != _markers(b):
        return False
    short, long = sorted((a, b), key=len)
    if len(short) < 4:
        return False
    if len(short) * 2 >= len(long) and _is_subsequence(short, long):
        return True
    return bool(fuzz.ratio(a, b) >= NEAR_RATIO)


class _Union:
    """Union-find over group indices that remembers why groups were joined."""

    def __init__(self, n: int) -> None:
        self.parent = list(range(n))
        self.reasons: dict[int, set[str]] = defaultdict(set)

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def join(self, a: int, b: int, reason: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return
        keep, drop = min(ra, rb), max(ra, rb)
        self.parent[drop] = keep
        self.reasons[keep] |= self.reasons.pop(drop, set()) | {reason}


@lru_cache(maxsize=8192)
def _normalise_short(text: str) -> str:
    """normalise() for strings that repeat across questions (topic titles, section labels)."""
    return normalise(text)


def _topic_key(q: Question) -> tuple[str, ...]:
    return tuple([_normalise_short(t) for t in q.topic])


def merge_signature(q: Question) -> tuple[str, str]:
    """What decides how `q` merges: all that makes its group (title, topic, id, prompt, kind), and its normalised
    answer ("" for none). Two questions are compared at all only when they share one of the two."""
    return f"{q.title_norm}\0{chr(1).join(_topic_key(q))}\0{q.anchor or ''}\0{q.prompt_norm}\0{q.kind}", q.answer_norm


def _anchor_of(group: list[Question]) -> str | None:
    return next((q.anchor for q in group if q.anchor), None)


def _extras(questions: list[Question]) -> tuple[Section, ...]:
    """Every distinct labelled section of the cluster, first seen first."""
    if len(questions) == 1:
        own = questions[0].extras
        if len(own) < 2 or len({s.norm for s in own}) == len(own):  # no two sections alike: nothing to drop
            return own
    extras: dict[tuple[str, str], Section] = {}
    for q in questions:
        for s in q.extras:
            extras.setdefault((_normalise_short(s.label), s.norm), s)
    return tuple(extras.values())


def _chosen(questions: list[Question]) -> Question:
    """The question whose title the note takes: the most frequent title variant, first seen on ties."""
    if len(questions) == 1:
        return questions[0]
    counts = Counter(q.title for q in questions)
    best = max(counts.values())
    return next(q for q in questions if counts[q.title] == best)


def _build_note(questions: list[Question], chosen: Question, key: str) -> Note:
    """One note from a cluster of questions, keeping every distinct answer and section."""
    if len(questions) == 1:  # most notes: the same values without the de-duplication
        prompt = chosen.prompt_html if chosen.prompt_norm else ""
        answers: tuple[str, ...] = (chosen.answer_html,)
        tags = tuple(dict.fromkeys(chosen.tags))
        media = tuple(dict.fromkeys(chosen.media)) if chosen.media else ()
        anchor = chosen.anchor or None
        reverse = chosen.reverse
    else:
        prompt = "".join(
            dict.fromkeys(q.prompt_html for q in _distinct(questions, lambda q: q.prompt_norm) if q.prompt_norm)
        )
        answers = tuple(q.answer_html for q in _distinct(questions, lambda q: q.answer_norm))
        tags = tuple(dict.fromkeys(t for q in questions for t in q.tags))
        media = tuple(dict.fromkeys(m for q in questions for m in q.media))
        anchor = _anchor_of(questions)
        reverse = any(q.reverse for q in questions)
    return Note(
        key=key,
        title=chosen.title,
        title_html=chosen.title_html,
        topic=chosen.topic,
        prompt_html=prompt,
        answers=answers,
        extras=_extras(questions),
        tags=tags,
        deck=chosen.deck,
        sources=tuple([q.where for q in questions]),
        anchor=anchor,
        media=media,
        files=(chosen.file,) if len(questions) == 1 else tuple(dict.fromkeys(q.file for q in questions)),
        kind=chosen.kind,
        reverse=reverse,
    )


def _distinct(questions: list[Question], norm: Callable[[Question], str]) -> list[Question]:
    seen: dict[str, Question] = {}
    for q in questions:
        seen.setdefault(norm(q), q)
    return list(seen.values())


def prompt_mark(prompt_norm: str) -> str:
    """What qualifies the key of a note whose title and topic another note shares: a hash of its prompt."""
    return hashlib.blake2b(prompt_norm.encode(), digest_size=4).hexdigest()


def note_keys(notes: Sequence[KeyInput]) -> list[str]:
    """Key each note (anchor, normalised title, topic, normalised prompt, kind) by its title, qualified by
    topic where titles collide, and by prompt where title and topic both do. Cloze notes' keys start CLOZE_KEY."""
    base = [
        (CLOZE_KEY if kind == CLOZE else "") + (("#" + anchor) if anchor else title_norm)
        for anchor, title_norm, _, _, kind in notes
    ]
    counts = Counter(base)
    topical = [
        f"{key}@{'/'.join(_normalise_short(t) for t in topic)}" if counts[key] > 1 and not anchor else key
        for (anchor, _, topic, _, _), key in zip(notes, base)
    ]
    counts = Counter(topical)
    keys: list[str] = []
    used: set[str] = set()
    for (anchor, _, _, prompt_norm, _), key in zip(notes, topical):
        if counts[key] > 1 and not anchor and prompt_norm:
            key = f"{key}?{prompt_mark(prompt_norm)}"
        unique, n = key, 2
        while unique in used:
            unique, n = f"{key}~{n}", n + 1
        used.add(unique)
        keys.append(unique)
    return keys


@dataclass(frozen=True, slots=True)
class Clusters:
    """Questions grouped into notes (in note order), before the notes get their keys."""

    members: tuple[tuple[int, ...], ...]  # per note, its questions' indices in the input, in order
    chosen: tuple[Question, ...]  # per note, the question whose title it takes
    reasons: tuple[str, ...]  # per note, why its questions merged ("" for one question)
    key_inputs: tuple[KeyInput, ...]  # per note, what its key is made of (see note_keys)


def bucket_size_limit() -> int:
    """Above how many groups an answer's groups are compared by exact title only (then the order of the groups counts)."""
    return MAX_BUCKET_PAIRS


def cluster(questions: Sequence[Question]) -> Clusters:
    """Which questions merge into which notes, and why."""
    # 1. Same normalised title and prompt under the same topic (and the same kind and explicit id, if any).
    index: dict[tuple[str, tuple[str, ...], str | None, str, str], int] = {}
    groups: list[list[int]] = []
    topic_keys: dict[tuple[str, ...], tuple[str, ...]] = {}
    for n, q in enumerate(questions):
        topic_key = topic_keys.get(q.topic)
        if topic_key is None:
            topic_key = topic_keys[q.topic] = _topic_key(q)
        i = index.setdefault((q.title_norm, topic_key, q.anchor, q.prompt_norm, q.kind), len(groups))
        if i == len(groups):
            groups.append([n])
        else:
            groups[i].append(n)
    qs = [[questions[n] for n in g] for g in groups]
    uf = _Union(len(groups))
    for i, g in enumerate(groups):
        if len(g) > 1:
            uf.reasons[i].add(SAME_TOPIC)

    # 2./3. Compare titles only among groups that share an identical normalised answer.
    by_answer: dict[str, list[int]] = defaultdict(list)
    for i, group in enumerate(qs):
        for norm in (group[0].answer_norm,) if len(group) == 1 else dict.fromkeys(q.answer_norm for q in group):
            if norm:
                by_answer[norm].append(i)
    for norm, members in by_answer.items():
        if len(members) < 2:
            continue
        if len(members) > MAX_BUCKET_PAIRS:
            by_title: dict[tuple[str, str, str], int] = {}
            for i in members:
                first = by_title.setdefault(_alike(qs[i][0]), i)
                if first != i and _anchors_agree(qs[first], qs[i]):
                    uf.join(first, i, SAME_ANSWER)
            continue
        for x, i in enumerate(members):
            for j in members[x + 1 :]:
                a, b = qs[i][0].title_norm, qs[j][0].title_norm
                if not _anchors_agree(qs[i], qs[j]) or _alike(qs[i][0])[1:] != _alike(qs[j][0])[1:]:
                    continue
                if a == b:
                    uf.join(i, j, SAME_ANSWER)
                elif len(norm) >= MIN_ANSWER_FOR_NEAR and near_titles(a, b):
                    uf.join(i, j, NEAR_TITLE)

    clusters: dict[int, list[int]] = {}
    for i, g in enumerate(groups):
        clusters.setdefault(uf.find(i), []).extend(g)
    for c in clusters.values():
        if len(c) > 1:
            c.sort()
    roots = list(clusters)
    chosen = [_chosen([questions[n] for n in clusters[r]]) for r in roots]
    # chosen.title_norm is normalise(chosen.title), the note's title
    anchors = [
        _anchor_of([questions[n] for n in clusters[r]]) if len(clusters[r]) > 1 else c.anchor or None
        for r, c in zip(roots, chosen)
    ]
    return Clusters(
        members=tuple(tuple(clusters[r]) for r in roots),
        chosen=tuple(chosen),
        reasons=tuple("; ".join(sorted(uf.reasons.get(r, set()))) for r in roots),
        key_inputs=tuple((anchor, c.title_norm, c.topic, c.prompt_norm, c.kind) for anchor, c in zip(anchors, chosen)),
    )


def build_notes(
    questions: Sequence[Question], clusters: Clusters, keys: Sequence[str]
) -> tuple[tuple[Note, ...], tuple[MergeGroup, ...]]:
    """The notes of clustered questions under their keys, and the records of those that merged several."""
    notes = []
    groups = []
    for members, chosen, reason, key in zip(clusters.members, clusters.chosen, clusters.reasons, keys):
        cluster_questions = [questions[n] for n in members]
        note = _build_note(cluster_questions, chosen, key)
        notes.append(note)
        if len(members) > 1:
            titles = tuple(dict.fromkeys(q.title for q in cluster_questions))
            groups.append(
                MergeGroup(key=note.key, title=note.title, sources=note.sources, titles=titles, reason=reason)
            )
    return tuple(notes), tuple(groups)


class Placed(Protocol):
    """What conflicts and clashes need of a note (a Note, or a note an incremental build kept)."""

    @property
    def title(self) -> str: ...
    @property
    def sources(self) -> tuple[str, ...]: ...
    @property
    def kind(self) -> str: ...
    @property
    def topic(self) -> tuple[str, ...]: ...
    @property
    def anchor(self) -> str | None: ...


def conflicts_of(notes: Sequence[Placed], title_norms: Sequence[str]) -> tuple[Conflict, ...]:
    """Notes of one normalised title kept apart (by topic, prompt or kind), in the order their first note comes."""
    by_title_norm: dict[str, list[Placed]] = defaultdict(list)
    for note, title_norm in zip(notes, title_norms):
        by_title_norm[title_norm].append(note)
    return tuple(
        Conflict(title=same[0].title, sources=tuple(s for n in same for s in n.sources), reason=_apart(same))
        for same in by_title_norm.values()
        if len(same) > 1
    )


def clashes_of(notes: Sequence[Placed]) -> tuple[Clash, ...]:
    """Explicit ids on more than one note."""
    by_anchor: dict[str, list[Placed]] = defaultdict(list)
    for note in notes:
        if note.anchor:
            by_anchor[note.anchor].append(note)
    return tuple(
        Clash(anchor, tuple(n.sources[0] for n in same)) for anchor, same in by_anchor.items() if len(same) > 1
    )


def merge(questions: Sequence[Question]) -> MergeResult:
    """Group repeated questions into notes; report what merged and what was kept apart."""
    clusters = cluster(questions)
    notes, groups = build_notes(questions, clusters, note_keys(clusters.key_inputs))
    return MergeResult(
        notes=notes,
        groups=groups,
        conflicts=conflicts_of(notes, [k[1] for k in clusters.key_inputs]),
        clashes=clashes_of(notes),
        members=clusters.members,
        key_inputs=clusters.key_inputs,
    )


def _apart(same: Sequence[Placed]) -> str:
    """Why notes of one title were kept apart: their kinds, their prompts (under one topic), or their topics."""
    if len({n.kind for n in same}) > 1:
        return OTHER_KINDS
    return OTHER_PROMPTS if len({n.topic for n in same}) < len(same) else KEPT_APART


def _alike(q: Question) -> tuple[str, str, str]:
    """What two questions must share to merge at all: title (for exact matches), prompt and kind."""
    return q.title_norm, q.prompt_norm, q.kind


def _anchors_agree(a: list[Question], b: list[Question]) -> bool:
    x, y = _anchor_of(a), _anchor_of(b)
    return x is None or y is None or x == y
