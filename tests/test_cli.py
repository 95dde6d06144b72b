"""The command line: every command and option, its output, exit codes and JSON shape."""

from __future__ import annotations

import json
import os
import pty
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from flashmark.build import build
from flashmark.cli import main

SUMMARY_KEYS = {"flashmark", "deck", "output", "report", "seconds", "counts", "filter", "up_to_date", "diagnostics"}
COUNT_KEYS = {
    "files",
    "questions",
    "notes",
    "merged",
    "skipped",
    "warnings",
    "left_out",
    "left_out_files",
    "left_out_notes",
    "removed",
    "remembered",
    "cards",
    "kinds",
}
WORKFLOW_NOTES = 12


def run(*args: str | Path) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run from the test's folder: diagnostics name files as a user sees them there (`content/messy/notes.md`)."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def workflow(fixture_dir) -> Path:
    return fixture_dir("workflow")


@pytest.fixture
def clean(tmp_path: Path) -> Path:
    folder = tmp_path / "clean"
    folder.mkdir()
    (folder / "a.md").write_text(
        "# 激活函数\n\n## 什么是 ReLU？\n\nmax(0, x)，计算简单且缓解梯度消失。\n", encoding="utf-8"
    )
    (folder / "b.md").write_text(
        "# Optimisers\n\n## What is momentum?\n\nA running average of past gradients added to each step.\n",
        encoding="utf-8",
    )
    return folder


# --- help -------------------------------------------------------------------


def test_every_command_has_help_with_an_example() -> None:
    top = run("--help")
    assert top.exit_code == 0 and "Example:" in top.output
    assert set(main.commands) == {"build", "check", "list", "tags", "watch", "preview", "removed", "sync"}
    for name in main.commands:
        result = run(name, "--help")
        assert result.exit_code == 0, name
        assert "Example:" in result.output, name
        assert f"flashmark {name} " in result.output, name


def test_version() -> None:
    result = run("--version")
    assert result.exit_code == 0 and "flashmark, version" in result.output


# --- build ------------------------------------------------------------------


def test_build_prints_one_summary_line(workflow: Path, tmp_path: Path) -> None:
    result = run("build", workflow, "-o", tmp_path / "out")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("6 files, 13 questions → 12 notes (1 repeat merged, 0 skipped, 0 warnings) → ")
    assert "left out" not in lines[0]
    assert (tmp_path / "out" / "workflow.apkg").is_file()
    assert (tmp_path / "out" / "workflow.report.json").is_file()
    assert result.stderr == ""


def test_build_json_summary_shape(workflow: Path, tmp_path: Path) -> None:
    result = run("build", workflow, "-o", tmp_path / "out", "--json")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert set(data) == SUMMARY_KEYS
    assert set(data["counts"]) == COUNT_KEYS
    assert data["counts"] == {
        "files": 6,
        "questions": 13,
        "notes": 12,
        "merged": 1,
        "skipped": 0,
        "warnings": 0,
        "left_out": 0,
        "left_out_files": 0,
        "left_out_notes": 0,
        "removed": 0,
        "remembered": 0,
        "cards": 12,
        "kinds": {"qa": 12},
    }
    assert data["deck"] == "workflow"
    assert Path(data["output"]) == tmp_path / "out" / "workflow.apkg"
    assert Path(data["report"]) == tmp_path / "out" / "workflow.report.json"
    assert data["filter"] == {"tags": [], "exclude_tags": []}
    assert data["diagnostics"] == [] and isinstance(data["seconds"], float)


def test_build_with_tags_says_how_many_were_left_out(workflow: Path, tmp_path: Path) -> None:
    result = run("build", workflow, "-o", tmp_path / "out", "--tag", "深度学习", "--exclude-tag", "论文", "--json")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["counts"]["notes"] == 4 and data["counts"]["left_out"] == WORKFLOW_NOTES - 4
    assert data["counts"]["merged"] == 1
    assert data["filter"] == {"tags": ["深度学习"], "exclude_tags": ["论文"]}
    text = run("build", workflow, "-o", tmp_path / "out", "--tag", "python", "--tag", "machine_learning")
    assert text.exit_code == 0
    assert (
        "13 questions → 6 notes (1 repeat merged, 0 skipped, 6 notes left out by tag filter, 0 warnings)" in text.stdout
    )
    report = json.loads((tmp_path / "out" / "workflow.report.json").read_text(encoding="utf-8"))
    assert len(report["notes"]) == 6 and report["counts"]["left_out"] == 6


def test_build_tag_errors(workflow: Path, tmp_path: Path) -> None:
    nothing = run("build", workflow, "-o", tmp_path / "out", "--tag", "no-such-topic")
    assert nothing.exit_code == 1
    assert nothing.stderr.startswith("error: no note matches --tag no-such-topic; top-level tags here: ")
    assert len(nothing.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out" / "workflow.apkg").exists()
    empty = run("build", workflow, "-o", tmp_path / "out", "--exclude-tag", " ")
    assert empty.exit_code == 2 and "Invalid value for '--exclude-tag'" in empty.stderr


def test_build_deck_exclude_and_html_options(tmp_path: Path) -> None:
    folder = tmp_path / "notes"
    (folder / "drafts").mkdir(parents=True)
    (folder / "a.md").write_text("# 什么是张量？\n\n多维数组，<b>标量</b>是零阶张量。\n", encoding="utf-8")
    (folder / "drafts" / "b.md").write_text("# 草稿问题\n\n草稿答案。\n", encoding="utf-8")
    (folder / "flashmark.toml").write_text('deck = "文件里的名字"\n', encoding="utf-8")
    result = run(
        "build",
        folder,
        "-o",
        tmp_path / "out",
        "--deck",
        "Interview prep",
        "--exclude",
        "drafts/*",
        "--allow-html",
        "--json",
    )
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["deck"] == "Interview prep" and data["counts"]["files"] == 1
    report = json.loads((tmp_path / "out" / "Interview_prep.report.json").read_text(encoding="utf-8"))
    assert [n["title"] for n in report["notes"]] == ["什么是张量？"]
    from_file = run("build", folder, "-o", tmp_path / "out2", "--no-allow-html", "--json")
    assert json.loads(from_file.stdout)["deck"] == "文件里的名字"
    assert "moved: '什么是张量？' from deck Interview prep::a to 文件里的名字::a" in from_file.stderr
    assert json.loads(from_file.stdout)["counts"]["files"] == 2


def test_build_warnings_go_to_stderr_unless_quiet(fixture_dir, tmp_path: Path) -> None:
    messy = fixture_dir("messy")
    result = run("build", messy, "-o", tmp_path / "out")
    assert result.exit_code == 0
    warnings = result.stderr.splitlines()
    assert (
        "content/messy/notes.md:5: warning: '什么是梯度消失？' skipped: heading has no answer under it [skipped]"
        in warnings
    )
    assert any(w.startswith("content/messy/notes.md:1: warning: text before the first heading") for w in warnings)
    assert "3 warnings" in result.stdout
    quiet = run("build", messy, "-o", tmp_path / "out", "--quiet")
    assert quiet.exit_code == 0 and quiet.stdout == "" and quiet.stderr == ""
    quiet_json = run("build", messy, "-o", tmp_path / "out", "-q", "--json")
    assert quiet_json.stderr == ""
    diagnostics = json.loads(quiet_json.stdout)["diagnostics"]
    assert len(diagnostics) == 3
    assert diagnostics[0] == {
        "file": "content/messy/notes.md",
        "line": 1,
        "level": "warning",
        "code": "outside",
        "message": "text before the first heading is not part of any question; give it a heading",
    }


def test_build_errors_are_one_line_and_exit_1(tmp_path: Path) -> None:
    missing = run("build", tmp_path / "nowhere", "-o", tmp_path / "out")
    assert missing.exit_code == 1
    assert missing.stderr == "nowhere: error: content folder does not exist [unreadable]\n"
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "a.md").write_bytes("# 标题\n\n答案\n".encode("gbk"))
    bad = run("build", folder, "-o", tmp_path / "out")
    assert bad.exit_code == 1
    assert bad.stderr.startswith("bad/a.md:1: error: not valid UTF-8") and bad.stderr.count("\n") == 1


# --- progress bar -----------------------------------------------------------


def _build_on_a_terminal(args: list[str], cwd: Path, after: str | None = "0") -> tuple[int, str, str]:
    """Run `flashmark build` with stderr on a pseudo-terminal; return exit code, stdout, terminal output.

    `after`: how long a build runs before its progress bar shows (None: flashmark's own delay).
    """
    master, slave = pty.openpty()
    env = {**os.environ, "COLUMNS": "100", "TERM": "xterm"}
    if after is not None:
        env["FLASHMARK_PROGRESS_AFTER"] = after
    proc = subprocess.Popen(
        [sys.executable, "-m", "flashmark", "build", *args], cwd=cwd, stdout=subprocess.PIPE, stderr=slave, env=env
    )
    os.close(slave)
    chunks: list[bytes] = []
    while True:
        try:
            data = os.read(master, 4096)
        except OSError:  # the terminal closes once the child exits
            break
        if not data:
            break
        chunks.append(data)
    stdout, _ = proc.communicate(timeout=60)
    os.close(master)
    return proc.returncode, stdout.decode(), b"".join(chunks).decode(errors="replace")


def test_build_reports_progress_per_file_then_render_and_package(workflow: Path, tmp_path: Path) -> None:
    calls: list[tuple[int, int, str]] = []
    build(workflow, tmp_path / "out", progress=lambda done, total, what: calls.append((done, total, what)))
    assert [c[0] for c in calls] == list(range(9))
    assert {c[1] for c in calls} == {8}
    assert [c[2] for c in calls] == [
        "dl/cnn.md",
        "dl/resnet.md",
        "dl/review.md",
        "ml.md",
        "python/async.md",
        "python/basics.md",
        "rendering notes",
        "writing the deck",
        "done",
    ]


def test_progress_bar_on_a_terminal_only(workflow: Path, tmp_path: Path) -> None:
    code, stdout, terminal = _build_on_a_terminal([str(workflow), "-o", str(tmp_path / "out")], tmp_path)
    assert code == 0, terminal
    assert "Building" in terminal and "100%" in terminal and "#" * 10 in terminal
    assert terminal.endswith("\x1b[1A\r\x1b[2K")  # wiped once the build is done
    assert "12 notes" in stdout and "Building" not in stdout
    # A quick build, with flashmark's own delay, prints no bar at all.
    code, stdout, terminal = _build_on_a_terminal([str(workflow), "-o", str(tmp_path / "out")], tmp_path, after=None)
    assert code == 0 and terminal == "" and "12 notes" in stdout
    code, stdout, terminal = _build_on_a_terminal([str(workflow), "-o", str(tmp_path / "out"), "--quiet"], tmp_path)
    assert code == 0 and terminal == "" and stdout == ""
    piped = subprocess.run(
        [sys.executable, "-m", "flashmark", "build", str(workflow), "-o", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert piped.returncode == 0 and piped.stderr == ""


# --- check ------------------------------------------------------------------


def test_check_clean_folder_exits_0_even_when_strict(clean: Path) -> None:
    result = run("check", clean, "--strict")
    assert result.exit_code == 0
    assert result.stdout == "2 files, 2 questions → 2 notes: 0 errors, 0 warnings, 0 merged groups\n"


def test_check_reports_each_finding_with_file_and_line(fixture_dir) -> None:
    messy = fixture_dir("messy")
    result = run("check", messy)
    assert result.exit_code == 0  # warnings only
    lines = result.stdout.splitlines()
    assert (
        lines[0]
        == "content/messy/notes.md:1: warning: text before the first heading is not part of any question; give it a heading [outside]"
    )
    assert (
        "content/messy/notes.md:5: warning: '什么是梯度消失？' skipped: heading has no answer under it [skipped]"
        in lines
    )
    assert any(line.startswith("content/messy/notes.md:11: warning: 'What is a tensor?' skipped:") for line in lines)
    merged = lines.index(
        "content/messy/repeats.md:3: info: 2 questions merged into one note '什么是深度学习中的深度可分离卷积？' (similar title with the same answer) [merged]"
    )
    assert lines[merged + 1 : merged + 3] == [
        "    content/messy/repeats.md:3  什么是深度学习中的深度可分离卷积？",
        "    content/messy/repeats.md:7  什么是深度可分离卷积？",
    ]
    conflict = next(
        i
        for i, line in enumerate(lines)
        if line.startswith("content/messy/repeats.md:13: warning: '模型结构' has different answers")
    )
    assert lines[conflict + 1 : conflict + 3] == [
        "    content/messy/repeats.md:13  模型结构  (LeNet)",
        "    content/messy/repeats.md:19  模型结构  (AlexNet)",
    ]
    assert lines[-1] == "2 files, 7 questions → 4 notes: 0 errors, 4 warnings, 1 merged group"
    assert run("check", messy, "--strict").exit_code == 1


def test_check_keeps_going_past_unreadable_files(clean: Path) -> None:
    (clean / "gbk.md").write_bytes("# 标题\n\n答案是\n".encode("gbk"))
    (clean / "utf16.md").write_bytes("# Title\n\nanswer\n".encode("utf-16"))
    (clean / "gone.md").symlink_to(clean / "nowhere.md")
    (clean / "front.md").write_text("---\ntags: [a\n---\n# Q\n\nA\n", encoding="utf-8")
    result = run("check", clean)
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert any(
        line.startswith("clean/front.md:2: error: front matter is not valid YAML") and line.endswith("[invalid]")
        for line in lines
    )
    assert any(
        line.startswith("clean/gbk.md:1: error: not valid UTF-8") and line.endswith("[unreadable]") for line in lines
    )
    assert "clean/utf16.md: error: file is UTF-16; save it as UTF-8 [unreadable]" in lines
    assert (
        "clean/gone.md: warning: is a symlink that leads nowhere (its target is missing, or it loops); skipped [outside]"
        in lines
    )
    assert lines[-1] == "5 files, 2 questions → 2 notes: 3 errors, 1 warning, 0 merged groups"


def test_check_json_shape(fixture_dir, clean: Path) -> None:
    messy = fixture_dir("messy")
    result = run("check", messy, "--format", "json")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert set(data) == {"ok", "strict", "counts", "findings"}
    assert data["ok"] is True and data["strict"] is False
    assert data["counts"] == {
        "files": 2,
        "questions": 7,
        "notes": 4,
        "errors": 0,
        "warnings": 4,
        "merged": 1,
        "conflicts": 1,
        "kinds": {"qa": 4, "qa+reverse": 0, "cloze": 0},
    }
    for f in data["findings"]:
        assert set(f) == {"level", "code", "file", "line", "message", "places"}
        assert f["level"] in ("error", "warning", "info") and isinstance(f["line"], int)
    kinds = sorted(f["code"] for f in data["findings"])
    assert kinds == ["conflict", "merged", "outside", "skipped", "skipped"]
    conflict = next(f for f in data["findings"] if f["code"] == "conflict")
    assert conflict["places"] == [
        {"where": "content/messy/repeats.md:13", "title": "模型结构", "topic": ["LeNet"]},
        {"where": "content/messy/repeats.md:19", "title": "模型结构", "topic": ["AlexNet"]},
    ]
    strict = run("check", messy, "--format", "json", "--strict")
    assert strict.exit_code == 1 and json.loads(strict.stdout)["ok"] is False
    (clean / "bad.md").write_bytes(b"# x\n\n\xff\n")
    broken = json.loads(run("check", clean, "--format", "json").stdout)
    assert broken["ok"] is False and broken["counts"]["errors"] == 1
    assert broken["findings"][0] | {"message": ""} == {
        "level": "error",
        "code": "unreadable",
        "file": "clean/bad.md",
        "line": 3,
        "message": "",
        "places": [],
    }


def test_check_options_and_usage_errors(clean: Path, tmp_path: Path) -> None:
    (clean / "skip.md").write_text("# 没有答案的问题\n", encoding="utf-8")
    assert run("check", clean, "--strict").exit_code == 1
    assert run("check", clean, "--strict", "--exclude", "skip.md").exit_code == 0
    assert run("check", clean, "--format", "yaml").exit_code == 2
    missing = run("check", tmp_path / "nowhere")
    assert missing.exit_code == 1 and "content folder does not exist" in missing.stderr
    (clean / "flashmark.toml").write_text("decks = 1\n", encoding="utf-8")
    config = run("check", clean)
    assert config.exit_code == 1
    assert (
        config.stderr
        == "clean/flashmark.toml:1: error: unknown setting 'decks' (known: allow_html, deck, exclude, formats, labels, markdown, max_image_mb, reverse, skip_headings); did you mean 'deck'? [config]\n"
    )


# --- list and tags ----------------------------------------------------------


def test_list_one_line_per_note(workflow: Path) -> None:
    result = run("list", workflow)
    assert result.exit_code == 0
    rows = [line.split("\t") for line in result.stdout.splitlines()]
    assert len(rows) == WORKFLOW_NOTES and all(len(r) == 5 for r in rows)
    by_title = {r[1]: r for r in rows}
    assert by_title["什么是卷积层？"] == [
        "什么是卷积层",
        "什么是卷积层？",
        "深度学习::CNN",
        "dl/cnn.md:5 dl/review.md:5",
        "Q&A",
    ]
    assert by_title["What does the GIL do?"][0] == "#py-gil"
    assert by_title["什么是残差连接？"][2] == "深度学习::ResNet 论文"


def test_list_filters_by_tag(workflow: Path) -> None:
    python = run("list", workflow, "--tag", "PYTHON")
    titles = [line.split("\t")[1] for line in python.stdout.splitlines()]
    assert titles == [
        "What is an event loop?",
        "What does await do?",
        "What does the GIL do?",
        "What is a list comprehension?",
    ]
    basics = run("list", workflow, "--tag", "python", "--exclude-tag", "concurrency")
    assert len(basics.stdout.splitlines()) == 2
    assert run("list", workflow, "--tag", "nothing").stdout == ""


def test_list_json_shape(workflow: Path) -> None:
    data = json.loads(run("list", workflow, "--format", "json", "--tag", "深度学习::ResNet").stdout)
    assert data == [
        {
            "key": "什么是残差连接",
            "title": "什么是残差连接？",
            "kind": "qa",
            "topic": ["深度学习：ResNet"],
            "tags": ["深度学习::ResNet", "论文"],
            "sources": ["dl/resnet.md:7"],
        },
        {
            "key": "为什么resnet能训练上百层",
            "title": "为什么 ResNet 能训练上百层？",
            "kind": "qa",
            "topic": ["深度学习：ResNet"],
            "tags": ["深度学习::ResNet", "论文"],
            "sources": ["dl/resnet.md:11"],
        },
    ]


def test_tags_tree_with_counts(workflow: Path) -> None:
    result = run("tags", workflow)
    assert result.exit_code == 0
    assert result.stdout.splitlines() == [
        "concurrency (2)",
        "Machine_Learning (2)",
        "Python (4)",
        "  Async (2)",
        "  Basics (2)",
        "深度学习 (6)",
        "  AlexNet (1)",
        "  CNN (2)",
        "  LeNet (1)",
        "  ResNet (2)",
        "论文 (2)",
    ]


def test_tags_json_shape(workflow: Path) -> None:
    data = json.loads(run("tags", workflow, "--format", "json").stdout)
    python = next(n for n in data if n["name"] == "Python")
    assert python == {
        "name": "Python",
        "tag": "Python",
        "notes": 4,
        "children": [
            {"name": "Async", "tag": "Python::Async", "notes": 2, "children": []},
            {"name": "Basics", "tag": "Python::Basics", "notes": 2, "children": []},
        ],
    }


def test_list_and_tags_errors(tmp_path: Path) -> None:
    for command in ("list", "tags"):
        result = run(command, tmp_path / "nowhere")
        assert result.exit_code == 1 and "content folder does not exist" in result.stderr


def test_watch_needs_an_existing_folder(tmp_path: Path) -> None:
    result = run("watch", tmp_path / "nowhere")
    assert result.exit_code == 2 and "does not exist" in result.stderr


HEAVY_MODULES = ("genanki", "markdown_it", "latex2mathml", "asyncio", "yaml", "watchfiles", "rapidfuzz", "pygments")


@pytest.mark.parametrize("argv", [["--help"], ["--version"], ["build", "--help"], ["watch", "--help"]])
def test_help_and_version_load_click_alone(argv: list[str]) -> None:
    code = (
        "import sys\n"
        "from flashmark.cli import main\n"
        f"try:\n    main({argv!r})\nexcept SystemExit:\n    pass\n"
        f"print(sorted(m for m in {HEAVY_MODULES!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"


def test_ctrl_c_while_the_command_starts_is_one_line(monkeypatch: pytest.MonkeyPatch, capsys) -> None:  # type: ignore[no-untyped-def]
    """Ctrl+C while flashmark's modules load (before click has anything to catch) exits 130, no traceback."""
    import flashmark.__main__ as entry

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("flashmark.cli.main", interrupted)
    with pytest.raises(SystemExit) as exit_info:
        entry.run()
    assert exit_info.value.code == 130 and capsys.readouterr().err == "\ninterrupted\n"


def test_ctrl_c_during_a_build_prints_no_traceback(workflow: Path, tmp_path: Path) -> None:
    for delay in (0.1, 0.2, 0.3):
        proc = subprocess.Popen(
            [sys.executable, "-m", "flashmark", "build", str(workflow), "-o", str(tmp_path / "out")],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        time.sleep(delay)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
        assert "Traceback" not in out + err, (delay, err)


def test_every_command_reports_a_finding_in_the_same_words(tmp_path: Path) -> None:
    notes = tmp_path / "dl"
    (notes / "cnn").mkdir(parents=True)
    (notes / "cnn" / "pool.md").write_text(
        "# 卷积\n\n## 什么是池化？\n\n![图](pool.png)\n\n## 什么是步幅？\n", encoding="utf-8"
    )
    expected = [
        "dl/cnn/pool.md:5: warning: image 'pool.png' not found; its alt text is shown instead [image]",
        "dl/cnn/pool.md:7: warning: '什么是步幅？' skipped: heading has no answer under it [skipped]",
    ]
    build = run("build", "dl", "-o", "out")
    check = run("check", "dl")
    preview = run("preview", "dl", "-o", "out/preview.html")
    assert build.stderr.splitlines() == expected
    assert check.stdout.splitlines()[:-1] == expected
    assert preview.stderr.splitlines() == expected
    # The same from another folder: the path is what opens the file from there.
    inner = notes / "cnn"
    os.chdir(inner)
    assert run("check", "..").stdout.splitlines()[:-1] == [line.replace("dl/cnn/", "") for line in expected]


def test_out_ending_in_apkg_names_the_deck_file(workflow: Path, tmp_path: Path) -> None:
    result = run("build", workflow, "-o", "decks/interview.apkg")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "decks").iterdir()) == [
        ".cache",
        "interview.apkg",
        "interview.report.json",
    ]
    assert "→ decks/interview.apkg in " in result.stdout
    assert json.loads((tmp_path / "decks" / "interview.report.json").read_text(encoding="utf-8"))["deck"] == "workflow"


def test_read_only_commands_reuse_the_builds_parse_cache(workflow: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from flashmark import parallel

    assert run("build", workflow, "-o", "out").exit_code == 0
    parsed: list[str] = []
    real = parallel.parse_source
    monkeypatch.setattr(parallel, "parse_source", lambda source, *a: (parsed.append(source.rel), real(source, *a))[1])
    for command in (["check", workflow], ["list", workflow], ["tags", workflow]):
        assert run(*command, "-o", "out").exit_code == 0
    assert run("preview", workflow, "-o", "out/preview.html").exit_code == 0
    assert parsed == []  # everything came from out/.cache
    assert run("check", workflow).exit_code == 0  # the default output folder, build/, has no cache yet
    assert len(parsed) == 6
