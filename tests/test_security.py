"""No note can run script: known XSS payloads through every part of a note, checked as Anki stores the
fields after a real import and in the preview page; images are never read from outside the content
folder; a build never opens a network connection.
"""

from __future__ import annotations

import builtins
import html
import io
import json
import os
import re
import socket
import tempfile
from html.parser import HTMLParser
from pathlib import Path

import pytest

from ankitools import AnkiNote, import_apkg
from flashmark.anki.notetype import card_labels, template_text
from flashmark.build import build
from flashmark.preview import write_preview
from security_corpus import PAYLOADS, write_corpus

DANGEROUS_TAGS = frozenset(
    {
        "script",
        "iframe",
        "svg",
        "math",
        "object",
        "embed",
        "applet",
        "style",
        "link",
        "meta",
        "base",
        "form",
        "frame",
        "frameset",
        "input",
        "button",
        "textarea",
        "select",
        "video",
        "audio",
        "source",
        "noscript",
        "template",
        "body",
        "html",
        "head",
    }
)
URL_ATTRIBUTES = frozenset(
    {"href", "src", "action", "formaction", "background", "poster", "data", "xlink:href", "srcset", "cite"}
)
SAFE_DATA = ("data:image/png", "data:image/jpeg", "data:image/gif", "data:image/webp")
MATHJAX_OPENER = re.compile(r"\\[(\[]")
MATHJAX_HTML = re.compile(r"\\(?:class|cssId|style|data|require)(?![A-Za-z])|\\href\s*\{\s*(?!https?://|mailto:)")


class Audit(HTMLParser):
    """Everything in an HTML fragment that could run script or write HTML through MathJax."""

    def __init__(self, allowed: frozenset[str] = frozenset()) -> None:
        super().__init__(convert_charrefs=True)
        self.dangerous = DANGEROUS_TAGS - allowed
        self.problems: list[str] = []
        self.stack: list[str] = []  # "code", "math" (an element MathJax typesets) or "" for each open element
        self.text: list[str] = []  # text outside code and formulas: MathJax must find no formula in it
        self.math: list[str] = []  # text MathJax typesets
        self.code_text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.dangerous:
            self.problems.append(f"<{tag}> element")
        classes = " ".join(value or "" for name, value in attrs if name == "class").split()
        if tag not in VOID:
            kind = (
                "code"
                if tag in ("pre", "code")
                else "math"
                if {"mathjax_process", "tex2jax_process"} & set(classes)
                else ""
            )
            self.stack.append(kind)
        for name, value in attrs:
            plain = re.sub(r"[\x00-\x20]", "", html.unescape(value or "")).lower()
            if name.startswith("on"):
                self.problems.append(f"{name}= on <{tag}>")
            if name in URL_ATTRIBUTES and plain.startswith(("javascript:", "vbscript:", "livescript:")):
                self.problems.append(f"{name}={value!r} on <{tag}>")
            if (
                name in URL_ATTRIBUTES
                and plain.startswith("data:")
                and not (tag == "img" and name == "src" and plain.startswith(SAFE_DATA))
            ):
                self.problems.append(f"data URL {name}={value!r} on <{tag}>")
            if name == "style" and any(bad in plain for bad in ("javascript:", "expression(", "url(")):
                self.problems.append(f"style={value!r} on <{tag}>")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in VOID:
            self.stack.pop()

    def handle_endtag(self, tag: str) -> None:
        if self.stack and tag not in VOID:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        if "code" in self.stack:
            self.code_text.append(data)
        elif "math" in self.stack:
            self.math.append(data)
        else:
            self.text.append(data)


VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"})


def audit(fragment: str, allowed: frozenset[str] = frozenset()) -> list[str]:
    """What is wrong with an HTML fragment (empty when it is safe); `allowed` tags are not counted as such."""
    parser = Audit(allowed)
    parser.feed(fragment)
    parser.close()
    problems = parser.problems
    math = "".join(parser.math)
    if MATHJAX_HTML.search(math) or "\\mmlToken" in math or "\\bbox" in math:
        problems.append(f"a MathJax macro that writes HTML in a formula: {math!r}")
    text = "".join(parser.text)
    if MATHJAX_OPENER.search(text):
        problems.append(f"a formula MathJax could find in ordinary text: {text!r}")
    if ANKI_TAGS.search(fragment):  # Anki looks for these in the field's HTML as stored, entities undecoded
        problems.append(f"a tag Anki acts on (sound, LaTeX) in {fragment!r}")
    return problems


ANKI_TAGS = re.compile(r"\[(?:sound:|/?latex\]|/?\$\$?\])", re.I)


def code_text(fragment: str) -> str:
    parser = Audit()
    parser.feed(fragment)
    return "".join(parser.code_text)


def test_the_audit_catches_what_it_looks_for() -> None:
    """The checks below are only worth something if the audit fails on unsafe HTML."""
    assert (
        audit(
            '<p>ok <a href="https://x">x</a> <img src="data:image/png;base64,AA=="> <code>\\(\\href{javascript:x}{y}\\)</code></p>'
        )
        == []
    )
    for unsafe in [
        "<script>x</script>",
        "<svg></svg>",
        "<iframe></iframe>",
        "<img src=x onerror=y>",
        '<a href=" jav&#x09;ascript:x">',
        '<a href="data:text/html,x">',
        '<span style="background:url(x)">',
        "<p>\\(\\href{javascript:x}{y}\\)</p>",
        "<p>\\(x\\)</p>",
        '<span class="fm-math mathjax_process">\\(\\class{a}{b}\\)</span>',
        '<span class="mathjax_process">\\(\\mmlToken{mi}[href=javascript:x]{x}\\)</span>',
        "<p>[sound:a.mp3]</p>",
        "<p>[latex]x[/latex]</p>",
    ]:
        assert audit(unsafe), unsafe


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_corpus(tmp_path_factory.mktemp("hostile") / "notes")


@pytest.mark.parametrize("allow_html", [False, True], ids=["html-escaped", "allow-html"])
def test_no_field_anki_stores_can_run_script(hostile: Path, tmp_path: Path, allow_html: bool) -> None:
    result = build(hostile, tmp_path / "out", allow_html=allow_html, lock=False)
    # Nothing merged or skipped: five questions per payload (four for payloads of several lines).
    assert len(result.notes) == result.questions == sum(4 if "\n" in p else 5 for p in PAYLOADS)
    (tmp_path / "anki").mkdir()
    view = import_apkg(result.output, tmp_path / "anki" / "collection.anki2")
    assert len(view.notes) == len(result.notes)
    problems = {
        f"{note.fields['Question']!r} {name}": found
        for note in view.notes.values()
        for name, value in note.fields.items()
        if (found := audit(value))
    }
    assert problems == {}


def _by_title(notes: dict[str, AnkiNote], title: str) -> AnkiNote:
    [note] = [n for n in notes.values() if html.unescape(re.sub("<[^>]+>", "", n.fields.get("Question", ""))) == title]
    return note


def test_payloads_in_code_blocks_stay_exactly_as_written(hostile: Path, tmp_path: Path) -> None:
    result = build(hostile, tmp_path / "out", allow_html=True, lock=False)
    (tmp_path / "anki").mkdir()
    view = import_apkg(result.output, tmp_path / "anki" / "collection.anki2")
    for n, payload in enumerate(PAYLOADS):
        answer = _by_title(view.notes, f"代码 {n}").fields["Answer"]
        assert code_text(answer) == payload + "\n", n


@pytest.mark.parametrize("allow_html", [False, True], ids=["html-escaped", "allow-html"])
def test_the_preview_page_holds_no_script_but_its_own(hostile: Path, tmp_path: Path, allow_html: bool) -> None:
    page = write_preview(hostile, tmp_path / "preview.html", allow_html=allow_html).output.read_text(encoding="utf-8")

    class Scripts(HTMLParser):
        """Every <script> of the page: its attributes and its text."""

        def __init__(self) -> None:
            super().__init__(convert_charrefs=False)
            self.scripts: list[tuple[dict[str, str | None], str]] = []
            self.in_script = False

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            self.in_script = tag == "script"
            if tag == "script":
                self.scripts.append((dict(attrs), ""))

        def handle_endtag(self, tag: str) -> None:
            self.in_script = False

        def handle_data(self, data: str) -> None:
            if self.in_script:
                attrs, text = self.scripts[-1]
                self.scripts[-1] = (attrs, text + data)

    parsed = Scripts()
    parsed.feed(page)
    # Two scripts: the cards as data (a type browsers never run), and the page's own script.
    [(data_attrs, data_text), (code_attrs, code_text)] = parsed.scripts
    assert data_attrs == {"type": "application/json", "id": "pv-data"} and code_attrs == {}
    assert code_text == template_text("preview.js")
    assert "<" not in data_text  # nothing in the data can close its <script> or open a comment
    cards = json.loads(data_text)["cards"]
    built = build(hostile, tmp_path / "out", allow_html=allow_html, lock=False).notes
    assert len(cards) == sum(len(card_labels(rn)) for rn in built)  # one per card: each cloze, each reversed card
    # The page draws math as MathML (through its own allowlist) and has no MathJax: <math> is expected there.
    problems = {
        i: found
        for i, card in enumerate(cards)
        for side in ("front", "back")
        if (found := [p for p in audit(card[side], frozenset({"math"})) if "MathJax" not in p])
    }
    assert problems == {}

    class Handlers(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.found: list[str] = []

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            self.found += [f"<{tag} {name}=…>" for name, _ in attrs if name.startswith("on")]

    handlers = Handlers()
    handlers.feed(page)
    assert handlers.found == []  # no element anywhere on the page has an event handler attribute


# --- files outside the content folder and the network ------------------------------------------


def test_images_are_never_read_from_outside_the_content_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = tmp_path / "secret.png"
    secret.write_bytes(b"\x89PNG\r\n\x1a\nSECRET")
    content = tmp_path / "notes"
    (content / "sub").mkdir(parents=True)
    (content / "inside.png").write_bytes(b"\x89PNG\r\n\x1a\ninside")
    (content / "link.png").symlink_to(secret)
    (content / "sub" / "up").symlink_to(tmp_path)
    refs = [
        "../secret.png",
        str(secret),
        "link.png",
        "%2e%2e/secret.png",
        "sub/../../secret.png",
        "sub/up/secret.png",
        f"file://{secret}",
        "..%5Csecret.png",
        "inside.png",
    ]
    answers = "\n\n".join(f"![图{n}]({ref})" for n, ref in enumerate(refs))
    (content / "a.md").write_text(f'# 图\n\n## 图片\n\n{answers}\n\n<img src="../secret.png">\n', encoding="utf-8")
    staging = tmp_path / "tmp"  # where the build copies the images it packs
    staging.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(staging))

    opened: list[str] = []
    real_open, real_os_open = builtins.open, os.open

    def spy_open(file: object, *args: object, **kwargs: object) -> object:
        if isinstance(file, (str, bytes, os.PathLike)):
            opened.append(os.path.realpath(file))  # type: ignore[arg-type]
        return real_open(file, *args, **kwargs)  # type: ignore[call-overload]

    def spy_os_open(path: object, *args: object, **kwargs: object) -> int:
        opened.append(os.path.realpath(path))  # type: ignore[arg-type]
        return real_os_open(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(builtins, "open", spy_open)
    monkeypatch.setattr(io, "open", spy_open)  # what pathlib's read_bytes calls
    monkeypatch.setattr(os, "open", spy_os_open)
    for allow_html in (False, True):
        result = build(content, tmp_path / "out", allow_html=allow_html)
        write_preview(content, tmp_path / "preview.html", allow_html=allow_html)
        assert [Path(m.path) for m in result.notes[0].note.media] == [(content / "inside.png").resolve()]
    monkeypatch.undo()

    assert str(secret.resolve()) not in opened
    assert str((content / "inside.png").resolve()) in opened  # the spy does see image reads
    images = [Path(p) for p in opened if p.endswith(".png")]
    assert [p for p in images if not (p.is_relative_to(content.resolve()) or p.is_relative_to(staging.resolve()))] == []
    refused = [
        n.message
        for n in result.notices
        if n.kind == "image" and ("outside the content folder" in n.message or "not a relative path" in n.message)
    ]
    # Six references are refused; two of them ('../secret.png' and '%2e%2e/secret.png') in the same words,
    # which are said once.
    assert len(refused) == 5, [n.message for n in result.notices]
    walked = [(n.file, n.message) for n in result.notices if n.kind == "outside"]
    assert walked == [("sub/up", "is a symlink to a place outside the content folder; skipped")]


def test_a_build_never_opens_a_network_connection(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    content = tmp_path / "notes"
    content.mkdir()
    (content / "a.md").write_text(
        "# 网络\n\n## 远程图片\n\n![远程](https://example.com/a.png) ![协议相对](//example.com/b.png) "
        "![http](http://example.com/c.png)\n\n[链接](https://example.com/) <https://example.com/auto>\n\n"
        '<img src="https://example.com/raw.png"> <link rel="stylesheet" href="https://example.com/s.css">\n\n'
        "$\\require{https://example.com/ext.js}$\n",
        encoding="utf-8",
    )
    calls: list[str] = []

    def refuse(*args: object, **kwargs: object) -> None:
        calls.append(repr(args))
        raise OSError("the network is not to be used")

    for name in ("connect", "connect_ex", "sendto"):
        monkeypatch.setattr(socket.socket, name, refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    for allow_html in (False, True):
        result = build(content, tmp_path / "out", allow_html=allow_html)
        write_preview(content, tmp_path / "preview.html", allow_html=allow_html)
    assert calls == []
    assert 'src="https://example.com/a.png"' in result.notes[0].fields[2]  # kept as a link, not fetched
    assert sum("remote URL" in n.message for n in result.notices) == 3


def test_only_pictures_are_packed_and_no_link_opens_a_local_file(tmp_path: Path) -> None:
    content = tmp_path / "notes"
    content.mkdir()
    (content / "page.html").write_text("<script>alert(1)</script>", encoding="utf-8")
    (content / "ok.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 16)
    (content / "big.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * (2 * 1024 * 1024))
    (content / "flashmark.toml").write_text("max_image_mb = 1\n", encoding="utf-8")
    (content / "a.md").write_text(
        "# 图\n\n## 页面\n\n![页](page.html) ![好](ok.png) ![大](big.png) [链接](page.html) [网](https://example.com)\n",
        encoding="utf-8",
    )
    result = build(content, tmp_path / "out")
    messages = [n.message for n in result.notices]
    assert "'page.html' is not a picture (.png, .jpg, .svg, …); not included, its alt text is shown" in messages
    assert "image 'big.png' is 2 MB, over the 1 MB limit (max_image_mb); not included" in messages
    anki = import_apkg(result.output, tmp_path / "collection.anki2")
    assert len(anki.media_files) == 1 and anki.media_files[0].endswith(".png")
    answer = next(iter(anki.notes.values())).fields["Answer"]
    assert '<a rel="noopener noreferrer">链接</a>' in answer and '<a href="https://example.com"' in answer
