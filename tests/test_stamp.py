"""The build stamp: a build with nothing to do says "up to date" and writes nothing; every change is noticed."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from flashmark import cache as cache_module
from flashmark import stamp
from flashmark.build import CACHE_DIR, build
from flashmark.cli import main
from flashmark.report import BuildResult

PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000") + b"\x1f\x15\xc4\x89" * 4


def settle() -> None:
    """Wait until files just written are older than what the stamp distrusts as just changed."""
    time.sleep(stamp.RACY_NS / 1e9 + 0.02)


@pytest.fixture
def course(fixture_dir) -> Path:
    content: Path = fixture_dir("decks/course")
    (content / "img").mkdir()
    (content / "img" / "dot.png").write_bytes(PNG)
    with (content / "cnn.md").open("a", encoding="utf-8") as f:
        f.write("\n## 4. 什么是点？\n\n**答案：** ![点](img/dot.png)\n")
    settle()
    return content


def outputs(result: BuildResult, content: Path) -> dict[str, tuple[int, int]]:
    """The written files' modification times and inodes (a rewrite changes one or the other)."""
    paths = (result.output, result.report, content / "flashmark.lock")
    return {p.name: (p.stat().st_mtime_ns, p.stat().st_ino) for p in paths}


def built_twice(content: Path, out: Path, **options) -> tuple[BuildResult, BuildResult]:
    first = build(content, out, **options)
    settle()
    return first, build(content, out, **options)


def test_nothing_changed_writes_nothing(course: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    first = build(course, out)
    assert first.unchanged is None
    before = outputs(first, course)
    settle()
    again = build(course, out)
    assert again.unchanged is not None
    assert outputs(first, course) == before
    assert again.unchanged["notes"] == len(first.notes) and again.files == first.files
    assert again.questions == first.questions and again.skipped == first.skipped
    assert again.notices == first.notices and again.warnings == first.warnings == 1


def test_force_builds_anyway(course: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    first, _ = built_twice(course, out)
    before = outputs(first, course)
    forced = build(course, out, force=True)
    assert forced.unchanged is None and len(forced.notes) == len(first.notes)
    assert outputs(first, course)[first.output.name] != before[first.output.name]


def edit_answer(content: Path) -> None:
    path = content / "cnn.md"
    path.write_text(path.read_text(encoding="utf-8").replace("加权求和", "加权相加"), encoding="utf-8")


def same_size_same_mtime(content: Path) -> None:
    """An edit that keeps the file's size and modification time: only its change time tells."""
    path = content / "cnn.md"
    info = path.stat()
    path.write_text(path.read_text(encoding="utf-8").replace("最大值", "最小值"), encoding="utf-8")
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns))


def add_file(content: Path) -> None:
    (content / "new.md").write_text("# 新\n\n## 什么是步长？\n\n**答案：** 卷积核每次移动的距离。\n", encoding="utf-8")


def remove_file(content: Path) -> None:
    (content / "nlp" / "attention.md").unlink()


def rename_file(content: Path) -> None:
    (content / "nlp" / "attention.md").rename(content / "nlp" / "self-attention.md")


def change_settings(content: Path) -> None:
    (content / "flashmark.toml").write_text('deck = "课程笔记"\nreverse = true\n', encoding="utf-8")


def change_image(content: Path) -> None:
    """The same size and modification time, other bytes."""
    path = content / "img" / "dot.png"
    info = path.stat()
    path.write_bytes(PNG[:-1] + b"\x00")
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns))


def edit_lock(content: Path) -> None:
    path = content / "flashmark.lock"
    data = json.loads(path.read_text(encoding="utf-8"))
    data["notes"].pop()
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")


def delete_deck(content: Path) -> None:
    next((content.parent.parent / "out").glob("*.apkg")).unlink()


def touch_report(content: Path) -> None:
    report = next((content.parent.parent / "out").glob("*.report.json"))
    report.write_text(report.read_text(encoding="utf-8"), encoding="utf-8")


@pytest.mark.parametrize(
    "change",
    [
        edit_answer,
        same_size_same_mtime,
        add_file,
        remove_file,
        rename_file,
        change_settings,
        change_image,
        edit_lock,
        delete_deck,
        touch_report,
    ],
)
def test_any_change_builds(course: Path, tmp_path: Path, change) -> None:
    out = tmp_path / "out"
    built_twice(course, out)
    change(course)
    settle()
    rebuilt = build(course, out)
    assert rebuilt.unchanged is None
    assert rebuilt.output.is_file() and rebuilt.report.is_file()
    settle()
    assert build(course, out).unchanged is not None  # and then it is up to date again


def test_lock_rewritten_with_the_same_bytes_is_still_up_to_date(course: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    built_twice(course, out)
    lock = course / "flashmark.lock"
    data = lock.read_bytes()
    lock.unlink()
    lock.write_bytes(data)  # a checkout that writes the file again: new inode and times, same bytes
    assert build(course, out).unchanged is not None


@pytest.mark.parametrize(
    "options",
    [{"deck": "别的"}, {"tags": ["NLP"]}, {"exclude_tags": ["NLP"]}, {"exclude": ("nlp/*",)}, {"allow_html": True}],
)
def test_other_options_build(course: Path, tmp_path: Path, options) -> None:
    out = tmp_path / "out"
    built_twice(course, out)
    assert build(course, out, **options).unchanged is None


def test_another_version_builds(course: Path, tmp_path: Path, monkeypatch) -> None:
    out = tmp_path / "out"
    built_twice(course, out)
    monkeypatch.setattr(cache_module, "__version__", "99.0")
    cache_module.code_key.cache_clear()
    try:
        assert build(course, out).unchanged is None
    finally:
        cache_module.code_key.cache_clear()


def test_output_folder_copied_for_another_content_folder(course: Path, tmp_path: Path) -> None:
    """A stamp names its content folder and deck: a copied output folder is not taken for another folder's."""
    out = tmp_path / "out"
    built_twice(course, out)
    other = tmp_path / "other"
    shutil.copytree(course, other)
    copied = tmp_path / "copied"
    shutil.copytree(out, copied)
    os.chmod(copied, 0o700)
    settle()
    result = build(other, copied)
    assert result.unchanged is None and result.output.parent == copied


@pytest.mark.parametrize("garbage", [b"", b"{", b"[]", b'{"format": 1}', b'{"format": 1, "key": 3, "sources": 7}'])
def test_damaged_stamp_means_a_full_build(course: Path, tmp_path: Path, garbage: bytes) -> None:
    out = tmp_path / "out"
    built_twice(course, out)
    (path,) = (out / CACHE_DIR / "stamp").iterdir()
    path.write_bytes(garbage)
    assert build(course, out).unchanged is None


def test_stamp_with_wrong_shapes_is_not_trusted(course: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    built_twice(course, out)
    (path,) = (out / CACHE_DIR / "stamp").iterdir()
    data = json.loads(path.read_text(encoding="utf-8"))
    data["said"]["counts"]["notes"] = "many"
    path.write_text(json.dumps(data), encoding="utf-8")
    assert build(course, out).unchanged is None


def test_stamp_in_a_folder_others_may_write_is_ignored(course: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    built_twice(course, out)
    os.chmod(out / CACHE_DIR / "stamp", 0o777)
    assert build(course, out).unchanged is None
    settle()
    assert build(course, out).unchanged is None  # nor written to


def test_build_with_errors_leaves_no_stamp(course: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    (course / "bad.md").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 200)
    settle()
    first = build(course, out, keep_going=True)
    assert first.errors
    settle()
    assert build(course, out, keep_going=True).unchanged is None


def test_just_changed_files_are_not_trusted_by_their_figures() -> None:
    taken = 10_000_000_000_000
    assert stamp.racy((1, taken - 1_000, taken - 1_000, 1), taken)
    assert not stamp.racy((1, taken - 10 * stamp.RACY_NS, taken - 10 * stamp.RACY_NS, 1), taken)
    whole = 9_999_000_000_000  # a file system that keeps whole seconds: two seconds of doubt
    assert stamp.racy((1, whole, whole, 1), whole + 1_500_000_000)


class TestCli:
    def test_up_to_date_line_and_warnings_again(self, course: Path, tmp_path: Path) -> None:
        out = tmp_path / "out"
        runner = CliRunner()
        first = runner.invoke(main, ["build", str(course), "-o", str(out)])
        assert first.exit_code == 0, first.output
        settle()
        again = runner.invoke(main, ["build", str(course), "-o", str(out)])
        assert again.exit_code == 0, again.output
        assert "up to date: 2 files, 6 questions → 5 notes (1 warning)" in again.output
        assert "nothing written (--force builds anyway)" in again.output
        warning = next(line for line in first.output.splitlines() if "warning:" in line)
        assert warning in again.output

    def test_force_and_json(self, course: Path, tmp_path: Path) -> None:
        out = tmp_path / "out"
        runner = CliRunner()
        runner.invoke(main, ["build", str(course), "-o", str(out)])
        settle()
        data = json.loads(runner.invoke(main, ["build", str(course), "-o", str(out), "--json"]).stdout)
        assert data["up_to_date"] is True and data["counts"]["notes"] == 5 and data["counts"]["removed"] == 0
        forced = runner.invoke(main, ["build", str(course), "-o", str(out), "--force"])
        assert forced.exit_code == 0 and "up to date" not in forced.output
        assert "--force" in runner.invoke(main, ["build", "--help"]).output
