"""`flashmark watch`: rebuilds on change, survives failed builds, never rebuilds because of its own output."""

from __future__ import annotations

import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from watchfiles import Change

from ankitools import import_apkg
from flashmark.errors import SourceError
from flashmark.report import BuildResult
from flashmark.types import MergeResult
from flashmark.watch import Rebuild, change_filter, rebuild_line, watch, watched_paths

WAIT = 30.0  # seconds: the bound on every wait for a rebuild
FIRST = "# 优化器\n\n## 什么是动量？\n\n把过去梯度的滑动平均加到每一步更新里，减少震荡、加快收敛。\n"
SECOND = (
    FIRST
    + "\n## What is Adam?\n\nMomentum plus a per-parameter step size from a running average of squared gradients.\n"
)


def wait_for(condition: Callable[[], bool], what: str, timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {timeout:.0f} s waiting for {what}")
        time.sleep(0.05)


class Lines:
    """Lines a child process prints, collected by a thread so reads never block the test."""

    def __init__(self, stream) -> None:  # type: ignore[no-untyped-def]
        self.queue: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._pump, args=(stream,), daemon=True).start()

    def _pump(self, stream) -> None:  # type: ignore[no-untyped-def]
        for line in stream:
            self.queue.put(line.rstrip("\n"))

    def next(self, timeout: float = WAIT) -> str:
        try:
            line = self.queue.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no output within {timeout:.0f} s; so far: {self.seen}") from None
        self.seen.append(line)
        return line


def test_watch_command_rebuilds_after_an_edit_and_survives_errors(tmp_path: Path) -> None:
    content = tmp_path / "optim"
    content.mkdir()
    note = content / "optim.md"
    note.write_text(FIRST, encoding="utf-8")
    out = tmp_path / "out"
    apkg = out / "optim.apkg"
    proc = subprocess.Popen(
        [sys.executable, "-m", "flashmark", "watch", str(content), "-o", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        # A shell's background job starts with SIGINT ignored; give the child Ctrl+C back.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        lines = Lines(proc.stdout)
        first = lines.next()
        assert " built: 1 file, 1 question → 1 note " in first, first
        assert apkg.is_file()
        before = (apkg.stat().st_mtime_ns, apkg.read_bytes())

        note.write_text(SECOND, encoding="utf-8")
        second = lines.next()
        assert " built after optim.md changed: 1 file, 2 questions → 2 notes " in second, second
        assert apkg.stat().st_mtime_ns > before[0] and apkg.read_bytes() != before[1]
        anki = import_apkg(apkg, tmp_path / "anki.anki2")
        assert sorted(n.fields["Question"] for n in anki.notes.values()) == ["What is Adam?", "什么是动量？"]

        good = apkg.read_bytes()
        note.write_bytes(SECOND.encode("gbk", errors="replace"))
        failed = lines.next()
        assert failed.endswith(" build failed after optim.md changed (waiting for changes)"), failed
        assert apkg.read_bytes() == good

        note.write_text(FIRST, encoding="utf-8")
        assert lines.next().startswith("removed: 'What is Adam?'")
        assert lines.next().startswith("1 note removed since the last build")
        third = lines.next()
        assert " built after optim.md changed: 1 file, 1 question → 1 note " in third, third
        assert proc.poll() is None
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            code = proc.wait(timeout=WAIT)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert code == 0
    assert proc.stderr is not None
    err = proc.stderr.read()
    assert f"watching {content} (Ctrl+C to stop)" in err and "stopped" in err and "Traceback" not in err
    assert "optim/optim.md:1: error: not valid UTF-8 (byte offset" in err  # the failed build's diagnostic


def run_watch_thread(
    content: Path, out: Path, **options: object
) -> tuple[list[Rebuild], threading.Event, threading.Thread]:
    """Run the library's watch() on a thread; the list fills with its rebuilds."""
    seen: list[Rebuild] = []
    stop = threading.Event()
    thread = threading.Thread(
        target=watch, args=(content, out, seen.append), kwargs={"stop_event": stop, **options}, daemon=True
    )
    thread.start()
    wait_for(lambda: len(seen) == 1, "the first build")
    return seen, stop, thread


def test_output_and_lock_file_inside_the_folder_cause_no_rebuild(tmp_path: Path) -> None:
    content = tmp_path / "notes"
    content.mkdir()
    (content / "a.md").write_text(FIRST, encoding="utf-8")
    seen, stop, thread = run_watch_thread(content, content / "build", tags=("优化器",))
    try:
        assert seen[0].result is not None and (content / "build" / "notes.apkg").is_file()
        lock = content / "flashmark.lock"
        lock.write_text(lock.read_text(encoding="utf-8"), encoding="utf-8")
        (content / "build" / "other.txt").write_text("x", encoding="utf-8")
        (content / ".hidden.md").write_text("# x\n\ny\n", encoding="utf-8")
        (content / "a.md~").write_text("backup", encoding="utf-8")
        time.sleep(2.0)
        assert len(seen) == 1, [r.changed for r in seen]

        (content / "b.md").write_text("# 优化器\n\n## 什么是学习率？\n\n每一步沿梯度方向走多远。\n", encoding="utf-8")
        wait_for(lambda: len(seen) == 2, "a rebuild after adding b.md")
        time.sleep(2.0)
        assert len(seen) == 2, [r.changed for r in seen]
        assert seen[1].changed == ("b.md",)
        assert seen[1].result is not None and len(seen[1].result.notes) == 2
        assert seen[1].result.tags == ("优化器",)
    finally:
        stop.set()
        thread.join(timeout=WAIT)
    assert not thread.is_alive()


def test_settings_change_triggers_a_rebuild_with_the_new_settings(tmp_path: Path) -> None:
    content = tmp_path / "notes"
    content.mkdir()
    (content / "a.md").write_text(FIRST, encoding="utf-8")
    seen, stop, thread = run_watch_thread(content, tmp_path / "out")
    try:
        (content / "flashmark.toml").write_text('deck = "优化"\n', encoding="utf-8")
        wait_for(lambda: len(seen) >= 2, "a rebuild after adding flashmark.toml")
        assert seen[-1].result is not None and seen[-1].result.deck == "优化"
        (content / "flashmark.toml").write_text("deck = 1\n", encoding="utf-8")
        wait_for(lambda: seen[-1].error is not None, "a failed build after breaking flashmark.toml")
        assert "'deck' must be a non-empty string" in str(seen[-1].error)
    finally:
        stop.set()
        thread.join(timeout=WAIT)


def test_change_filter(tmp_path: Path) -> None:
    content = tmp_path / "notes"
    keep = change_filter(content, content / "build")
    assert keep(Change.modified, str(content / "a.md"))
    assert keep(Change.added, str(content / "sub" / "b.md"))
    assert keep(Change.modified, str(content / "img" / "plot.png"))
    assert keep(Change.modified, str(content / "flashmark.toml"))
    assert keep(Change.modified, str(content / "builder.md"))
    for ignored in (
        "build/notes.apkg",
        "build/x.txt",
        "flashmark.lock",
        "sub/flashmark.lock",
        ".a.md.swp",
        ".obsidian/workspace",
        "a.md~",
        "x.apkg",
        "x.report.json",
    ):
        assert not keep(Change.modified, str(content / ignored)), ignored
    everything = change_filter(content, tmp_path)  # output folder above the content: cannot ignore it whole
    assert everything(Change.modified, str(content / "a.md"))
    assert not everything(Change.modified, str(tmp_path / "notes.apkg"))


def test_settings_above_the_folder_are_watched_too(tmp_path: Path) -> None:
    content = tmp_path / "notes"
    content.mkdir()
    assert watched_paths(content) == [content]
    (tmp_path / "pyproject.toml").write_text('[tool.flashmark]\ndeck = "x"\n', encoding="utf-8")
    assert watched_paths(content) == [content, tmp_path / "pyproject.toml"]


def test_rebuild_line() -> None:
    error = Rebuild(("a.md",), error=SourceError("not valid UTF-8", "a.md", 3))
    assert (
        rebuild_line(error, 0)
        == "["
        + time.strftime("%H:%M:%S", time.localtime(0))
        + "] build failed after a.md changed (waiting for changes)"
    )
    many = Rebuild(("a.md", "b.md", "c.md", "d.md", "e.md"), error=SourceError("x"))
    assert "after a.md, b.md, c.md and 2 more changed" in rebuild_line(many, 0)
    result = BuildResult("d", 1, 1, (), MergeResult(()), (), (), Path("o.apkg"), Path("o.json"), 0.5)
    line = rebuild_line(Rebuild((), result=result), 0)
    assert line.startswith("[") and " built: 1 file, 1 question → 0 notes " in line
    assert os.linesep not in line


def test_watch_prints_warnings_matched_and_removed_lines_like_build(tmp_path: Path) -> None:
    content = tmp_path / "optim"
    content.mkdir()
    note = content / "optim.md"
    note.write_text(SECOND, encoding="utf-8")
    proc = subprocess.Popen(
        [sys.executable, "-m", "flashmark", "watch", str(content), "-o", str(tmp_path / "out")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        out, err = Lines(proc.stdout), Lines(proc.stderr)
        assert " built: 1 file, 2 questions → 2 notes " in out.next()
        assert err.next().startswith("watching ")

        # Reword one title (its answer stays), drop the other question, add a heading with no answer.
        note.write_text(
            "# 优化器\n\n## 动量是什么？\n\n把过去梯度的滑动平均加到每一步更新里，减少震荡、加快收敛。\n\n## 什么是学习率？\n",
            encoding="utf-8",
        )
        assert out.next() == "matched: '什么是动量？' → '动量是什么？' (same answer): the same Anki note, progress kept"
        assert out.next().startswith("removed: 'What is Adam?'; find it in Anki's browser with: ")
        assert out.next().startswith("1 note removed since the last build")
        summary = out.next()
        assert " built after optim.md changed: 1 file, 2 questions → 1 note " in summary
        assert "1 removed note remembered" in summary
        assert (
            err.next()
            == "optim/optim.md:7: warning: '什么是学习率？' skipped: heading has no answer under it [skipped]"
        )

        # The next rebuild no longer names the removed note, but still counts it.
        note.write_text(note.read_text(encoding="utf-8") + "\n每一步沿梯度方向走多远。\n", encoding="utf-8")
        again = out.next()
        assert (
            " built after optim.md changed: 1 file, 2 questions → 2 notes " in again
            and "1 removed note remembered" in again
        )
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=WAIT)
        finally:
            if proc.poll() is None:
                proc.kill()


def test_watch_picks_up_again_when_its_folder_comes_back(tmp_path: Path) -> None:
    content = tmp_path / "optim"
    content.mkdir()
    (content / "optim.md").write_text(FIRST, encoding="utf-8")
    proc = subprocess.Popen(
        [sys.executable, "-m", "flashmark", "watch", str(content), "-o", str(tmp_path / "out"), "-q"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=tmp_path,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        lines = Lines(proc.stdout)
        assert " built: 1 file, 1 question → 1 note " in lines.next()
        shutil.rmtree(content)  # a `git checkout` of another branch, or a folder moved away and back
        time.sleep(1.0)
        content.mkdir()
        (content / "optim.md").write_text(SECOND, encoding="utf-8")
        back = lines.next()
        while "questions" not in back:  # a build may start while the folder is still empty
            back = lines.next()
        assert "2 questions → 2 notes" in back, back
        (content / "optim.md").write_text(FIRST, encoding="utf-8")
        again = lines.next()
        while "1 question → 1 note" not in again and "changed" in again:
            again = lines.next()
        assert " built after optim.md changed: 1 file, 1 question → 1 note " in again, again
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=WAIT)
        finally:
            if proc.poll() is None:
                proc.kill()
