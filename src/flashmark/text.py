"""Small text helpers shared by the stages: title clean-up, normalisation, tags."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

_NUMBERING = re.compile(
    r"""^\s*(?:
        (?:面试题|问题|题目|习题|例题|练习题|Question|Problem|Exercise|Q)\s*\d+(?:\.\d+)*\s*[:：.．、)）\-–—]?\s*
      | 第\s*[\d一二三四五六七八九十百千]+\s*[题问章节部]\s*[:：.．、]?\s*
      | [(（]\s*\d+\s*[)）]\s*
      | \d+(?:\.\d+)+\.?\s+
      | \d+\s*[.．、:：)）](?!\d)\s*
      | [一二三四五六七八九十百]+\s*[、．]\s*
    )""",
    re.X | re.I,
)
_COLONS = re.compile(r"[:：]+")
_SPACE = re.compile(r"\s+")
_KEEP = frozenset("+#")
_MATH = re.compile(r"\$\$?([^$]+)\$\$?")


def numbering_prefix(title: str) -> int:
    """Length of the leading numbering (面试题 12：, Q3., 3.1.1 …) in `title`, 0 if none."""
    m = _NUMBERING.match(title)
    if m is None or m.end() >= len(title.rstrip()):
        return 0
    return m.end()


def clean_title(title: str) -> str:
    """Remove leading numbering and surrounding whitespace from a heading title."""
    title = title.strip()
    return title[numbering_prefix(title) :].strip()


@dataclass(frozen=True, slots=True)
class Attributes:
    """What `{#id tags="a b" reverse}` at the end of a question's title says."""

    anchor: str | None = None
    tags: tuple[str, ...] = ()
    reverse: bool | None = None
    unknown: tuple[str, ...] = ()  # items that are none of these (reported, then ignored)
    unreadable: bool = False  # braces meant as attributes that could not be read (reported, then ignored)


# Regexes on one title string: the attribute block at its end, and the items inside it.
_ATTR_BLOCK = re.compile(r"\{([^{}\n]*)\}\s*$")
_ATTR_ITEM = re.compile(
    r"""\s*(?:\#([A-Za-z0-9][\w\-:.]*)|([A-Za-z_][\w-]*)"""
    r"""(?:=(?:["“]([^"”]*)["”]|['‘]([^'’]*)['’]|([^\s"'“”‘’]+)))?)(?=\s|$)"""
)
# What only an attribute block starts with: braces holding these but unreadable are reported, not kept.
_ATTR_INTENT = re.compile(r"(?:^|\s)(?:#[A-Za-z0-9]|tags?\s*=|reverse\b)")
_TRUE, _FALSE = frozenset({"true", "yes", "on", "1"}), frozenset({"false", "no", "off", "0"})
ATTRIBUTE_NAMES = ("reverse", "tags")


def split_attributes(title: str) -> tuple[str, Attributes | None]:
    """Split `{#id tags="高频 字节跳动" reverse}` off the end of a title; (title, None) when there is none.

    The braces count as attributes only when every item in them reads as one (`#id`, `name`,
    `name=value`, `name="a b"`) and at least one is `#id`, `tags` or `reverse`, so a title ending
    in `{a, b}` stays as it is.
    """
    m = _ATTR_BLOCK.search(title)
    if m is None:
        return title, None
    inner = m.group(1)
    anchor: str | None = None
    tags: list[str] = []
    reverse: bool | None = None
    unknown: list[str] = []
    known = False
    pos = 0
    while pos < len(inner):
        if not inner[pos:].strip():
            break
        item = _ATTR_ITEM.match(inner, pos)
        if item is None:
            if _ATTR_INTENT.search(inner):  # meant as attributes, but not written as they are read
                return title[: m.start()].rstrip(), Attributes(unknown=(inner.strip(),), unreadable=True)
            return title, None
        pos = item.end()
        if item.group(1) is not None:
            anchor, known = item.group(1), True
            continue
        name = item.group(2)
        value = next((v for v in item.group(3, 4, 5) if v is not None), None)
        if name == "tags" and value is not None:
            tags.extend(value.replace(",", " ").split())
            known = True
        elif name == "reverse" and (value is None or value.lower() in _TRUE | _FALSE):
            reverse, known = value is None or value.lower() in _TRUE, True
        else:
            unknown.append(item.group(0).strip())
    if not known:
        if unknown and _ATTR_INTENT.search(inner):
            return title[: m.start()].rstrip(), Attributes(unknown=(inner.strip(),), unreadable=True)
        return title, None
    cleaned = tuple(dict.fromkeys(t for t in (user_tag(tag) for tag in tags) if t))
    return title[: m.start()].rstrip(), Attributes(anchor, cleaned, reverse, tuple(unknown))


# Punctuation that carries meaning stays in a normalised title: `-`, `.`, `/`, `,` and `:` between two
# letters or digits ("1-10" ≠ "11-0", "a.b" ≠ "ab", "1,000", "TCP/IP"), and a minus before a number
# ("-1" ≠ "1"). Elsewhere punctuation is dropped, as before.
_MEANING = re.compile(r"((?<=[0-9a-z])[-./,:](?=[0-9a-z])|(?<![0-9a-z])-(?=[0-9]))")


def _plain(text: str, keep_meaning: bool = True) -> str:
    text = text.casefold()
    if keep_meaning and _MEANING.search(text):
        return "".join(part if n % 2 else part.translate(_DROP) for n, part in enumerate(_MEANING.split(text)))
    return text.translate(_DROP)


class _DropTable(dict[int, int | None]):
    """str.translate table that drops whitespace, punctuation and control characters, filled lazily."""

    def __missing__(self, code: int) -> int | None:
        ch = chr(code)
        keep = ch in _KEEP or (unicodedata.category(ch)[0] not in "PZC" and not ch.isspace())
        self[code] = code if keep else None
        return self[code]


_DROP = _DropTable()


def normalise(text: str, keep_meaning: bool = True) -> str:
    """NFKC, case-fold, drop whitespace and punctuation but what carries meaning; `$TeX$` keeps all but spaces.

    `keep_meaning=False` drops that punctuation too, as flashmark 0.1 did (to read its lock files).
    """
    text = unicodedata.normalize("NFKC", text)
    if "$" not in text:
        return _plain(text, keep_meaning)
    parts: list[str] = []
    pos = 0
    for m in _MATH.finditer(text):
        parts.append(_plain(text[pos : m.start()], keep_meaning))
        parts.append("$" + "".join(m.group(1).split()) + "$")
        pos = m.end()
    parts.append(_plain(text[pos:], keep_meaning))
    return "".join(parts)


def prompt_key(text: str) -> str:
    """A prompt as merging compares it: NFKC, case-folded, without white space, but with every other
    character (code and options differ by their punctuation: `print(1 + 1)` ≠ `print("1" + "1")`)."""
    return "".join(unicodedata.normalize("NFKC", text).casefold().split())


def tag_part(text: str) -> str:
    """One tag or tag level: whitespace becomes `_`, Anki's separators are trimmed."""
    return _SPACE.sub("_", text.strip()).strip(":")


def topic_tag(topic: tuple[str, ...]) -> str:
    """The hierarchical tag for a topic path; colons inside a title split it into levels."""
    levels: list[str] = []
    for title in topic:
        for part in _COLONS.split(title):
            part = tag_part(clean_title(part))
            if part:
                levels.append(part)
    return "::".join(levels)


def user_tag(tag: str) -> str:
    """A tag given by the user (front matter): whitespace becomes `_`, empty levels are dropped."""
    return "::".join(p for p in (tag_part(level) for level in tag.split("::")) if p)
