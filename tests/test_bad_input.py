"""Broken and hostile input through the CLI: one clear line (exit 1) or a warning (exit 0), never a traceback.

Each case builds its own content folder. An error must be the only line on stderr, start with
`Error:` and name the file (and line where there is one); a failed build leaves the last good
deck, its lock file and the temp folder exactly as they were.
"""

from __future__ import annotations

import errno
import os
import re
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from ankitools import import_apkg
from flashmark import sources
from flashmark.anki import package
from flashmark.build import CACHE_DIR, build
from flashmark.cli import main
from pathological import CASES, Case, build_case, write_case

GOOD = "# 主题\n\n## 什么是卷积？\n\n卷积核在输入上滑动。\n"


def run(*args: str | Path) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run from the test's folder, so diagnostics name files as `notes/a.md`, the way a user would see them."""
    monkeypatch.chdir(tmp_path)


# GNU style: PATH:LINE: level: message [code]; the path as opened from the current folder.
DIAGNOSTIC = re.compile(r"^(?:(?P<where>.+?): )?(?P<level>error|warning): (?P<message>.*) \[(?P<code>[a-z]+)\]$")


def _old_shape(line: str, level: str) -> str:
    """A diagnostic line, checked for its GNU shape, in the words these tests compare: `Error: a.md:3: …`."""
    m = DIAGNOSTIC.match(line)
    assert m is not None and m.group("level") == level, line
    where = (m.group("where") or "").removeprefix("notes/")
    head = "Error" if level == "error" else "warning"
    return f"{head}: {where}: {m.group('message')}" if where else f"{head}: {m.group('message')}"


def folder(tmp_path: Path, files: dict[str, str | bytes], name: str = "notes") -> Path:
    content = tmp_path / name
    content.mkdir()
    for rel, data in files.items():
        path = content / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return content


def error_line(result: Result) -> str:
    """The one line a failed command prints (`PATH:LINE: error: … [code]`): exit 1, nothing else, no traceback."""
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    return _old_shape(lines[0], "error")


def built(result: Result) -> list[str]:
    """A build that succeeded: exit 0; returns its warning lines (each `PATH:LINE: warning: … [code]`)."""
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    return [_old_shape(line, "warning") for line in result.stderr.splitlines() if ": warning: " in line]


# --- encodings and bytes -----------------------------------------------------------------


def test_invalid_utf8_names_file_line_and_byte_offset(tmp_path: Path) -> None:
    content = folder(tmp_path, {"ok.md": GOOD, "bad.md": b"# T\n\n## Q\n\nab\xff\xfecd\n"})
    assert error_line(run("build", content, "-o", tmp_path / "out")) == (
        "Error: bad.md:5: not valid UTF-8 (byte offset 13); save the file as UTF-8"
    )


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        (GOOD.encode("utf-16"), "UTF-16"),  # with a byte-order mark
        (GOOD.encode("utf-16-le"), "UTF-16"),  # without one
        (GOOD.encode("utf-16-be"), "UTF-16"),
        (GOOD.encode("utf-32"), "UTF-32"),
    ],
)
def test_utf16_and_utf32_are_named(tmp_path: Path, data: bytes, encoding: str) -> None:
    content = folder(tmp_path, {"wide.md": data})
    assert (
        error_line(run("build", content, "-o", tmp_path / "out"))
        == f"Error: wide.md: file is {encoding}; save it as UTF-8"
    )


def test_nul_and_control_bytes_cost_a_warning_not_the_deck(tmp_path: Path) -> None:
    content = folder(tmp_path, {"bin.md": "# T\n\n## Q\n\na\x00b\x1fc\x07\n"})
    assert built(run("build", content, "-o", tmp_path / "out")) == [
        "warning: bin.md:5: control character \\x00 (and 2 more) replaced by \ufffd: cards cannot hold it"
    ]
    anki = import_apkg(tmp_path / "out" / "notes.apkg", tmp_path / "c.anki2")
    assert anki.by_title("Q").fields["Answer"] == "<p>a\ufffdb\ufffdc\ufffd</p>\n"


def test_a_binary_file_named_like_notes_is_refused(tmp_path: Path) -> None:
    content = folder(tmp_path, {"a.md": GOOD})
    (content / "image.md").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
    (content / "blob.md").write_bytes(b"# x\n" + b"\x00\x01" * 64)  # decodes as UTF-8, but is mostly NUL
    assert error_line(run("build", content, "-o", tmp_path / "out")).startswith("Error: blob.md:")
    result = run("check", content)
    assert "blob.md:2: error: file holds many NUL bytes: it is a binary file, not notes" in result.output
    assert "image.md:1: error: not valid UTF-8 (byte offset 0)" in result.output


def test_a_binary_file_costs_only_itself_with_keep_going(tmp_path: Path) -> None:
    content = folder(tmp_path, {"a.md": GOOD})
    (content / "blob.md").write_bytes(b"# x\n" + b"\x00\x01" * 64)
    result = run("build", content, "-o", tmp_path / "out", "--keep-going")
    assert result.exit_code == 1 and "blob.md:2: error: file holds many NUL bytes" in result.output
    assert import_apkg(tmp_path / "out" / "notes.apkg", tmp_path / "c.anki2").notes  # the other file's notes


def test_odd_code_points_never_crash_anything(tmp_path: Path) -> None:
    """A byte order mark in mid-file, non-characters, and surrogates encoded in UTF-8 (CESU-8, as some tools write)."""
    odd = "# T\n\n## Q\ufeff中\n\n答\ufffe\uffff\U0010ffff 和 \ufeff 结束。\n"
    content = folder(tmp_path, {"a.md": odd, "cesu.md": b"# T\n\n## Q\n\n\xed\xa0\x80\xed\xb0\x80\n"})
    result = run("build", content, "-o", tmp_path / "out", "--keep-going")
    assert "Traceback" not in result.output
    assert "cesu.md:5: error: not valid UTF-8" in result.output
    anki = import_apkg(tmp_path / "out" / "notes.apkg", tmp_path / "c.anki2")
    assert len(anki.notes) == 1 and "结束" in next(iter(anki.notes.values())).fields["Answer"]


def test_byte_order_mark_and_old_mac_line_ends_are_fine(tmp_path: Path) -> None:
    content = folder(
        tmp_path,
        {"a.md": "\ufeff" + GOOD.replace("\n", "\r"), "b.md": GOOD.replace("卷积", "池化").replace("\n", "\r\n")},
    )
    assert built(run("build", content, "-o", tmp_path / "out")) == []


# --- size and shape --------------------------------------------------------------------


def _big_notes(size: int) -> str:
    """About `size` bytes of notes: 1,000 distinct questions, each with a long answer, math and code."""
    sentence = "这是一个很长的答案，解释卷积、池化与归一化的作用。It explains the idea in English as well. "
    answer = sentence * (size // 1000 // len(sentence.encode()) + 1)
    return "# 大文件\n\n" + "".join(
        f"## 问题{n}：第{n}个概念是什么？\n\n**答案：** {answer}\n\n$x_{{{n}}}$ 与 `code {n}`\n\n" for n in range(1000)
    )


def test_a_10_mb_file_builds_without_hanging(tmp_path: Path) -> None:
    text = _big_notes(10_000_000)
    content = folder(tmp_path, {"big.md": text})
    assert (content / "big.md").stat().st_size >= 10_000_000
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "flashmark", "build", str(content), "-o", str(tmp_path / "out"), "--no-lock", "--json"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    seconds = time.perf_counter() - started
    assert done.returncode == 0, done.stderr
    assert '"notes": 1000' in done.stdout, done.stdout
    print(f"10 MB file: built in {seconds:.1f} s")


def test_a_file_over_the_size_limit_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sources, "MAX_FILE_BYTES", 1024 * 1024)
    content = folder(tmp_path, {"ok.md": GOOD, "dump.md": "# x\n\n" + "y" * (2 * 1024 * 1024)})
    assert error_line(run("build", content, "-o", tmp_path / "out")) == (
        "Error: dump.md: file is 2 MB, more than the 1 MB a notes file may have; split it, or leave it out with --exclude"
    )
    assert built(run("build", content, "-o", tmp_path / "out", "--exclude", "dump.md")) == []


def test_a_100000_character_line(tmp_path: Path) -> None:
    long = "长" * 100_000
    content = folder(tmp_path, {"a.md": f"# 主题\n\n## 长问题\n\n{long}\n\n## {'标题' * 50_000}\n\n短答案。\n"})
    result = run("build", content, "-o", tmp_path / "out", "--json")
    assert built(result) == []
    assert '"notes": 2' in result.stdout


def test_six_levels_of_headings_and_a_seventh_that_is_not_one(tmp_path: Path) -> None:
    text = "# 一\n## 二\n### 三\n#### 四\n##### 五\n###### 六\n\n答案。\n\n####### 七\n"
    content = folder(tmp_path, {"deep.md": text})
    assert built(run("build", content, "-o", tmp_path / "out")) == []
    [note] = build(content, tmp_path / "out").notes
    assert (note.note.title, note.note.topic, note.tags) == (
        "六",
        ("一", "二", "三", "四", "五"),
        ("一::二::三::四::五",),
    )
    assert "七" in note.fields[2]  # part of 六's answer, not lost


def test_a_heading_of_only_punctuation_is_skipped_with_a_reason(tmp_path: Path) -> None:
    content = folder(tmp_path, {"a.md": GOOD + "\n## ？！……\n\n有答案。\n"})
    assert built(run("build", content, "-o", tmp_path / "out")) == [
        "warning: a.md:7: '？！……' skipped: heading has no words, only punctuation or numbering; give it a title"
    ]


@pytest.mark.parametrize(
    ("text", "warning"),
    [
        ("", "warning: empty.md: file is empty; it adds no questions"),
        ("\n  \n\t\n", "warning: empty.md: file is empty; it adds no questions"),
        ("---\ntopic: 卷积\ntags: [a]\n---\n", "warning: empty.md: file holds only front matter; it adds no questions"),
    ],
)
def test_empty_and_front_matter_only_files_warn(tmp_path: Path, text: str, warning: str) -> None:
    content = folder(tmp_path, {"empty.md": text, "ok.md": GOOD})
    result = run("build", content, "-o", tmp_path / "out")
    assert built(result) == [warning]
    assert "1 question → 1 note" in result.stdout


def test_front_matter_values_stay_text(tmp_path: Path) -> None:
    content = folder(tmp_path, {"a.md": "---\ndeck: 2024-01-01\ntopic: 3.10\ntags: [yes, 1e3]\n---\n" + GOOD})
    assert built(run("build", content, "-o", tmp_path / "out")) == []
    anki = import_apkg(tmp_path / "out" / "notes.apkg", tmp_path / "c.anki2")
    (note,) = anki.notes.values()
    assert note.decks == ("notes::2024-01-01",) and set(note.tags) >= {"yes", "1e3"}


@pytest.mark.parametrize(
    ("front", "message"),
    [
        ("---\ntopic: [unclosed\ntags: a\n---\n", "Error: a.md:3: front matter is not valid YAML"),
        ("---\n- just\n- a list\n---\n", "Error: a.md:2: front matter must be a mapping"),
        ("---\ntopic: " + "[" * 5000 + "\n---\n", "Error: a.md:2: front matter is not valid YAML (exceeded maximum"),
        ("---\ntopic: x\ndeck: '::::'\n---\n", "Error: a.md:3: front matter 'deck' has no name in it ('::::')"),
        ("---\ntopic: x\n\ntags: {a: 1}\n---\n", "Error: a.md:4: front matter 'tags' must be a list of words"),
        (
            "---\na: &a [x, x, x]\nb: [*a, *a, *a]\n---\n",
            "Error: a.md:2: front matter may not use YAML anchors or aliases",
        ),
        ("---\nnotes: '" + "x" * 70_000 + "'\n---\n", "Error: a.md:1: front matter is larger than 64 KB"),
    ],
)
def test_broken_front_matter_names_file_and_line(tmp_path: Path, front: str, message: str) -> None:
    content = folder(tmp_path, {"a.md": front + GOOD})
    assert error_line(run("build", content, "-o", tmp_path / "out")).startswith(message)


# --- the content folder -------------------------------------------------------------------


def test_a_symlink_loop_in_the_content_folder(tmp_path: Path) -> None:
    content = folder(tmp_path, {"a.md": GOOD, "sub/b.md": GOOD.replace("卷积", "池化")})
    (content / "sub" / "up").symlink_to("..")
    (content / "self").symlink_to("self")  # a link to itself
    (content / "loop.md").symlink_to("loop.md")
    result = run("build", content, "-o", tmp_path / "out")
    # The folder loop is walked once; a *.md link that loops is skipped with a warning naming it.
    assert built(result) == [
        "warning: loop.md: is a symlink that leads nowhere (its target is missing, or it loops); skipped"
    ]
    assert result.stdout.startswith("2 files, 2 questions → 2 notes")


def test_a_content_path_that_is_a_file(tmp_path: Path) -> None:
    file = tmp_path / "notes.md"
    file.write_text(GOOD, encoding="utf-8")
    assert error_line(run("build", file, "-o", tmp_path / "out")) == (
        "Error: notes.md: content path is not a folder; pass the folder that holds your .md files"
    )


def test_a_pipe_named_like_a_note_is_refused_without_blocking(tmp_path: Path) -> None:
    content = folder(tmp_path, {"a.md": GOOD})
    os.mkfifo(content / "pipe.md")
    os.mkfifo(content / "picture.png")
    (content / "b.md").write_text("# 图\n\n## 图片\n\n![x](picture.png)\n", encoding="utf-8")
    command = [sys.executable, "-m", "flashmark", "build", str(content), "-o", str(tmp_path / "out")]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)  # a blocking read would time out
    assert done.returncode == 1
    assert (
        done.stderr
        == "notes/pipe.md: error: not a regular file (a pipe, socket or device); remove it or rename it [unreadable]\n"
    )
    (content / "pipe.md").unlink()
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0
    assert (
        "notes/b.md:5: warning: image 'picture.png' is not a file; its alt text is shown instead [image]" in done.stderr
    )


def test_a_dangling_symlink(tmp_path: Path) -> None:
    content = folder(tmp_path, {"a.md": GOOD})
    (content / "gone.md").symlink_to(content / "nowhere.md")
    assert built(run("build", content, "-o", tmp_path / "out")) == [
        "warning: gone.md: is a symlink that leads nowhere (its target is missing, or it loops); skipped"
    ]


# --- Markdown that used to hang, crash or lose questions -------------------------------------


def test_pathological_markdown_builds_in_linear_time(tmp_path: Path) -> None:
    """Inputs that took minutes when delimiter searches rescanned the rest of the file."""
    files = {
        "spaces.md": "# a" + " " * 100_000 + "b\n\n答案。\n",
        "parens.md": "# 括号\n\n" + "\\(a" * 50_000 + "\n",
        "dollars.md": "# 美元\n\n" + "$$a\n\n" * 20_000,
        "brackets.md": "# 方括号\n\n" + "\\[a\n\n" * 20_000,
        "links.md": "# 链接\n\n" + "![" * 20_000 + "\n",
    }
    content = folder(tmp_path, files)
    command = [sys.executable, "-m", "flashmark", "build", str(content), "-o", str(tmp_path / "out"), "--no-lock"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("5 files, 5 questions → 5 notes")


def test_an_unclosed_dollar_math_block_keeps_the_questions_after_it(tmp_path: Path) -> None:
    content = folder(
        tmp_path, {"a.md": "# T\n\n## 一\n\n$$ x = 1\n\n## 二\n\n答案 $$\n\n## 三\n\n\\[ y\n\n## 四\n\n四。\n"}
    )
    result = run("list", content)
    assert result.exit_code == 0
    assert [line.split("\t")[1] for line in result.stdout.splitlines()] == ["一", "二", "三", "四"]


def test_an_unclosed_fence_warns_about_the_headings_it_hides(tmp_path: Path) -> None:
    content = folder(tmp_path, {"a.md": "# T\n\n## 一\n\n```python\nx = 1\n\n## 二\n\n答案。\n\n## 三\n\n三。\n"})
    warnings = built(run("build", content, "-o", tmp_path / "out"))
    assert warnings == [
        "warning: a.md:5: code block opened with ``` is never closed, so 2 headings in it are not questions ('二', '三'); close it with ```"
    ]


def test_raw_html_that_runs_on_warns_about_the_headings_it_hides(tmp_path: Path) -> None:
    content = folder(tmp_path, {"a.md": "# T\n\n## 一\n\n<!-- 草稿\n\n## 二\n\n答案。\n"})
    warnings = built(run("build", content, "-o", tmp_path / "out", "--allow-html"))
    assert warnings == [
        "warning: a.md:5: raw HTML block runs on, so 1 heading in it is not a question ('二'); "
        "close the HTML tag, or end the HTML with a blank line"
    ]
    assert built(run("build", content, "-o", tmp_path / "out")) == []  # escaped as text, nothing hidden


def test_control_characters_never_reach_the_terminal(tmp_path: Path) -> None:
    content = folder(tmp_path, {"a.md": GOOD + "\n## 清屏\x1b[2J\x1b]0;pwned\x07\n", "b\x1b[31m.md": "\x00"})
    error = error_line(run("build", content, "-o", tmp_path / "out"))
    assert error == "Error: b\\x1b[31m.md: cannot be read: its name holds control characters; rename it"
    (content / "b\x1b[31m.md").unlink()
    warnings = built(run("build", content, "-o", tmp_path / "out"))
    assert warnings == [
        "warning: a.md:7: control character \\x1b (and 2 more) replaced by \ufffd: cards cannot hold it",
        "warning: a.md:7: '清屏\ufffd[2J\ufffd]0;pwned\ufffd' skipped: heading has no answer under it",
    ]


def test_image_names_that_are_no_file_names(tmp_path: Path) -> None:
    content = folder(tmp_path, {"a.md": "# T\n\n## Q\n\n![nul](a%00.png) ![long](" + "x" * 5000 + ".png)\n"})
    warnings = built(run("build", content, "-o", tmp_path / "out"))
    assert (
        warnings[0]
        == "warning: a.md:5: image 'a\\x00.png' cannot be used (not a usable file name); its alt text is shown instead"
    )
    assert warnings[1].startswith("warning: a.md:5: image 'xxxxxxxx") and warnings[1].endswith(
        "; its alt text is shown instead"
    )
    assert len(warnings) == 2


# --- settings and lock files ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("lock", "message"),
    [
        ("[" * 100_000, "not a lock file flashmark wrote (nested too deeply or a number too long)"),
        ('{"flashmark_lock": ' + "9" * 5000 + "}", "not a lock file flashmark wrote"),
        (
            '{"flashmark_lock": 1, "notes": [{"key": "k", "guid": "g", "hash": "h", "mod": 1' + "0" * 30 + "}]}",
            "'mod' must be a time in seconds",
        ),
    ],
)
def test_a_hostile_lock_file_is_one_line(tmp_path: Path, lock: str, message: str) -> None:
    content = folder(tmp_path, {"a.md": GOOD, "flashmark.lock": lock})
    assert message in error_line(run("build", content, "-o", tmp_path / "out"))


@pytest.mark.parametrize("toml", ["a = " + "[" * 5000, "deck = " + "9" * 5000])
def test_a_hostile_settings_file_is_one_line(tmp_path: Path, toml: str) -> None:
    content = folder(tmp_path, {"a.md": GOOD, "flashmark.toml": toml})
    assert error_line(run("build", content, "-o", tmp_path / "out")).endswith(
        "flashmark.toml: not readable TOML: nested too deeply or a number too long; simplify it"
    )


# --- the output folder ----------------------------------------------------------------------


def test_an_output_folder_inside_a_file(tmp_path: Path) -> None:
    content = folder(tmp_path, {"a.md": GOOD})
    (tmp_path / "plain").write_text("not a folder", encoding="utf-8")
    out = tmp_path / "plain" / "out"
    in_the_way = (
        "cannot write to the output folder: a file is in its way; give a folder, or a file name ending in .apkg"
    )
    assert error_line(run("build", content, "-o", out)) == f"Error: plain/out: {in_the_way}"
    assert error_line(run("build", content, "-o", tmp_path / "plain")) == f"Error: plain: {in_the_way}"


def test_an_output_folder_that_refuses_writes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """As root, chmod cannot stop a write: the file system's refusal is simulated where the temp file is made."""
    content = folder(tmp_path, {"a.md": GOOD})
    out = tmp_path / "out"
    out.mkdir()

    real_mkdir = Path.mkdir

    def refuse(self: Path, *args: object, **kwargs: object) -> None:
        if self == out:
            raise PermissionError(errno.EACCES, "Permission denied")
        real_mkdir(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Path, "mkdir", refuse)
    assert (
        error_line(run("build", content, "-o", out))
        == "Error: out: cannot write to the output folder: Permission denied; fix the folder's permissions"
    )
    assert [p.name for p in out.iterdir()] == [".cache"]  # the parse cache, made before the deck is written


@pytest.fixture
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A temp folder of our own, so a test can see that a build leaves nothing in it."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def _half_written_zip(self: object, *args: object, **kwargs: object) -> None:
    raise OSError(errno.ENOSPC, "No space left on device")  # the database is already in the zip


def _full_database(*args: object, **kwargs: object) -> None:
    raise sqlite3.OperationalError("database or disk is full")


@pytest.mark.parametrize(
    ("target", "name", "broken", "message"),
    [
        (package.zipfile.ZipFile, "writestr", _half_written_zip, "cannot write: the disk is full"),
        (package.BulkPackage, "write_to_db", _full_database, "cannot write the deck: database or disk is full"),
    ],
)
def test_a_write_that_fails_half_way_keeps_the_last_good_deck(
    tmp_path: Path,
    private_tmp: Path,
    monkeypatch: pytest.MonkeyPatch,
    target: type,
    name: str,
    broken: object,
    message: str,
) -> None:
    content = folder(tmp_path, {"a.md": GOOD})
    out = tmp_path / "out"
    assert built(run("build", content, "-o", out)) == []
    before = {p.name: p.read_bytes() for p in [*out.iterdir(), content / "flashmark.lock"] if p.name != CACHE_DIR}
    assert list(private_tmp.iterdir()) == []  # a good build leaves nothing behind either

    (content / "a.md").write_text(GOOD + "\n## 新问题\n\n新答案。\n", encoding="utf-8")
    monkeypatch.setattr(target, name, broken)
    line = error_line(run("build", content, "-o", out))
    assert line == f"Error: out/notes.apkg: {message}"
    after = {p.name: p.read_bytes() for p in [*out.iterdir(), content / "flashmark.lock"] if p.name != CACHE_DIR}
    assert after == before  # the deck, its report and the lock file are untouched; no temp file is left
    assert list(private_tmp.iterdir()) == []
    assert sorted(p.name for p in content.iterdir()) == ["a.md", "flashmark.lock"]


# --- the pathological corpus (bench/pathological.py measures it at 5 MB) -------------------------


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_pathological_input_is_refused_or_built_quickly(case: Case, tmp_path: Path) -> None:
    """Each input builds, or fails with one line naming file and line, well inside a generous guard."""
    folder = write_case(case, tmp_path / "notes", 1_000_000)
    seconds, peak, code, output = build_case(folder, tmp_path / "out", timeout=60)
    assert "Traceback" not in output
    outcome = "error" if code else ("warning" if "warning:" in output else "ok")
    assert outcome == case.expect, output[-500:]
    assert case.says in output
    if code:
        assert code == 1 and [line for line in output.splitlines() if DIAGNOSTIC.match(line)] != []
    assert seconds < 30 and peak < 1024, (seconds, peak)


def test_decks_deeper_than_anki_allows_are_joined_with_a_warning(tmp_path: Path) -> None:
    content = folder(tmp_path, {"/".join(f"l{n}" for n in range(11)) + "/deep.md": GOOD})
    (content / "front.md").write_text(
        "---\ndeck: " + "::".join(f"F{n}" for n in range(12)) + "\n---\n" + GOOD.replace("卷积", "池化"),
        encoding="utf-8",
    )
    warnings = built(run("build", content, "-o", tmp_path / "out"))
    assert [w.split(": deck ")[0] for w in warnings] == [
        "warning: front.md",
        "warning: l0/l1/l2/l3/l4/l5/l6/l7/l8/l9/l10/deep.md",
    ]
    anki = import_apkg(tmp_path / "out" / "notes.apkg", tmp_path / "c.anki2")  # Anki takes the whole package
    decks = sorted(d for n in anki.notes.values() for d in n.decks)
    assert decks == [
        "notes::F0::F1::F2::F3::F4::F5::F6::F7::F8::F9/F10/F11",
        "notes::l0::l1::l2::l3::l4::l5::l6::l7::l8::l9/l10/deep",
    ]


def test_keep_going_builds_the_good_files_and_keeps_the_broken_ones_notes(tmp_path: Path) -> None:
    content = folder(tmp_path, {"a.md": GOOD, "b.md": GOOD.replace("卷积", "池化"), "c.md": "# 杂\n\n## 问\n\n答。\n"})
    first = build(content, tmp_path / "out")
    (content / "b.md").write_bytes("# 标题\n\n答案\n".encode("gbk"))
    (content / "c.md").write_text("# Q\n\n" + "[" * 30_000 + "\n", encoding="utf-8")
    assert error_line(run("build", content, "-o", tmp_path / "out")).startswith("Error: b.md:1: not valid UTF-8")
    result = run("build", content, "-o", tmp_path / "out", "--keep-going")
    assert result.exit_code == 1
    errors = [line for line in result.stderr.splitlines() if ": error: " in line]
    assert [e.split(":")[0] for e in errors] == ["notes/b.md", "notes/c.md"]
    assert (
        "3 files, 1 question → 1 note" in result.stdout
        and "2 errors" in result.stdout
        and "removed" not in result.stdout
    )
    anki = import_apkg(tmp_path / "out" / "notes.apkg", tmp_path / "c.anki2")
    assert [n.guid for n in anki.notes.values()] == [rn.guid for rn in first.notes if rn.note.files == ("a.md",)]
    assert build(content.parent / "notes", tmp_path / "out2", keep_going=True).removed == ()


def test_a_file_name_that_is_not_utf8_is_one_line(tmp_path: Path) -> None:
    content = folder(tmp_path, {"a.md": GOOD})
    name = "笔记.md".encode("gbk")  # as a zip made on a Chinese Windows stores it
    with open(os.path.join(os.fsencode(content), name), "wb") as f:
        f.write(GOOD.encode())
    line = error_line(run("build", content, "-o", tmp_path / "out"))
    assert line.startswith("Error: \\xb1")  # the undecodable bytes shown as codes
    assert line.endswith(
        ".md: cannot be read: its name is not valid UTF-8 (saved by another system's encoding, such as a GBK zip); rename it"
    )


def test_a_symlink_to_a_device_is_skipped(tmp_path: Path) -> None:
    content = folder(tmp_path, {"a.md": GOOD})
    (content / "zero.md").symlink_to("/dev/zero")
    (content / "tty").symlink_to("/dev")
    assert built(run("build", content, "-o", tmp_path / "out")) == [
        "warning: tty: is a symlink to a place outside the content folder; skipped",
        "warning: zero.md: is a symlink to a place outside the content folder; skipped",
    ]
