"""Card kinds and question formats end to end: built decks imported into real Anki collections.

Cloze notes, reversed cards, heading attributes, `<details>` answers, `Q:`/`A:` label lines and list
questions, each checked as Anki renders the cards (`card.question()`, `card.answer()`); decks of the
previous version upgraded in place; reverse turned on and off on a note with reviews.
"""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path

import pytest
from anki.collection import Collection
from click.testing import CliRunner

from ankitools import (
    LEGACY_NOTETYPE,
    QA_NOTETYPE,
    AnkiNote,
    AnkiView,
    answer_cards,
    import_apkg,
    open_view,
)
from flashmark.anki.notetype import CLOZE, KINDS, QAR
from flashmark.anki.sync import sync
from flashmark.anki.sync_report import step_lines, sync_summary
from flashmark.build import build
from flashmark.cli import main
from flashmark.lock import LOCK_FILE, read_lock
from flashmark.report import BuildResult

FIXTURES = Path(__file__).parent / "fixtures"
CLOZE_NOTETYPE = KINDS[CLOZE].notetype_name
SEARCHES = ("tag:高频", "tag:字节跳动", "tag:python::functions", "tag:Python")


@pytest.fixture(scope="module")
def kinds(tmp_path_factory: pytest.TempPathFactory) -> tuple[BuildResult, AnkiView]:
    """The kinds fixture (one file per kind and format) built and imported into a fresh collection."""
    tmp = tmp_path_factory.mktemp("kinds")
    content = Path(shutil.copytree(FIXTURES / "kinds", tmp / "kinds"))
    result = build(content, tmp / "out")
    (tmp / "anki").mkdir()
    return result, import_apkg(result.output, tmp / "anki" / "collection.anki2", SEARCHES, render=True)


def titled(view: AnkiView, title: str) -> AnkiNote:
    """The one note whose title (Question, or a cloze note's Title) is `title`."""
    found = [n for n in view.notes.values() if title in (n.fields.get("Question"), n.fields.get("Title"))]
    assert len(found) == 1, f"{len(found)} notes titled {title!r}"
    return found[0]


def test_every_kind_imports_without_duplicates_or_copies(kinds: tuple[BuildResult, AnkiView]) -> None:
    result, view = kinds
    assert view.imported == {"new": len(result.notes), "updated": 0, "duplicate": 0, "conflicting": 0}
    ours = sorted(n for n in view.notetypes if n.startswith("flashmark"))
    assert ours == [CLOZE_NOTETYPE, QA_NOTETYPE]  # one type per kind, no "+" copies
    assert view.card_count == sum(len(n.card_ids) for n in view.notes.values()) == 34


# ---------------------------------------------------------------- cloze


def test_each_cloze_number_is_a_card_rendered_as_anki_shows_it(kinds: tuple[BuildResult, AnkiView]) -> None:
    _, view = kinds
    tcp = titled(view, "TCP 握手")
    assert tcp.notetype == CLOZE_NOTETYPE
    cards = view.cards(tcp)
    assert [o for o, _, _ in cards] == [0, 1]
    assert "TCP 建立连接需要 [...] 次握手，断开连接需要 四 次挥手" in cards[0][1]
    assert "需要 三 次握手，断开连接需要 [次数] 次挥手" in cards[1][1]  # the hint
    assert all("需要 三 次握手，断开连接需要 四 次挥手" in a for _, _, a in cards)
    cells = titled(view, "Cells")
    assert [o for o, _, _ in view.cards(cells)] == [0, 1, 2]  # c4 sits in a labelled section: no card
    assert "The [...] is the powerhouse of the cell" in view.cards(cells)[0][1]
    assert "{{c4::labelled sections}}" in view.cards(cells)[0][2]


def test_clozes_around_and_inside_formulas_keep_the_math(kinds: tuple[BuildResult, AnkiView]) -> None:
    _, view = kinds
    light = view.cards(titled(view, "光速"))
    assert len(light) == 2
    assert "光速约为 [...] m/s，精确值 \\(c = 299792458\\)" in light[0][1]
    assert "光速约为 \\(3 \\times 10^8\\) m/s，精确值 \\(c = [...]\\)" in light[1][1]  # a cloze inside the formula
    assert "\\(3 \\times 10^8\\) m/s，精确值 \\(c = 299792458\\)" in light[1][2]
    # A formula's own }} is spaced, so it cannot end a cloze early; TeX reads it the same.
    assert "\\sqrt{\\frac{1}{\\mu_0 \\varepsilon_0} }" in light[0][2]


def test_braces_in_code_and_unclosed_clozes_are_shown_as_written(kinds: tuple[BuildResult, AnkiView]) -> None:
    result, view = kinds
    gil = view.cards(titled(view, "GIL"))
    assert len(gil) == 1  # the c2 and c3 in code are code
    assert "threading 受 [...] 限制" in gil[0][1]
    assert "{\u2060{c2::x}\u2060}" in gil[0][1] and "{\u2060{c3::not a cloze}\u2060}" in gil[0][1]
    unclosed = view.cards(titled(view, "没写完的填空"))
    assert len(unclosed) == 1 and "这个 {\u2060{c2::没有闭合。" in unclosed[0][1]
    warnings = [(n.line, n.message) for n in result.notices if n.kind == "cloze"]
    assert (25, "cloze {{c2:: is never closed; end it with }} (shown as written)") in warnings
    assert any("'Note' section are shown as written" in m for _, m in warnings)


# ---------------------------------------------------------------- reverse and attributes


def test_reverse_from_front_matter_and_heading_adds_a_second_card(kinds: tuple[BuildResult, AnkiView]) -> None:
    _, view = kinds
    backprop = titled(view, "反向传播")
    assert backprop.notetype == QA_NOTETYPE and backprop.fields["Reverse"] == "y"
    (front_ord, front_q, _), (back_ord, back_q, back_a) = view.cards(backprop)
    assert (front_ord, back_ord) == (0, 1)
    assert "反向传播" in front_q and "链式法则" not in front_q
    assert "链式法则" in back_q and "反向传播" not in back_q and "反向传播" in back_a
    overfitting = titled(view, "Overfitting")  # {reverse=false} wins over the file's reverse: true
    assert overfitting.fields["Reverse"] == "" and len(overfitting.card_ids) == 1


def test_heading_attributes_set_id_tags_and_reverse(kinds: tuple[BuildResult, AnkiView]) -> None:
    result, view = kinds
    gil = titled(view, "什么是 GIL？")
    assert len(gil.card_ids) == 2 and set(gil.tags) >= {"Python", "高频", "字节跳动"}
    assert view.found_guids("tag:高频") == view.found_guids("tag:字节跳动") == {gil.guid}
    assert next(rn.key for rn in result.notes if rn.guid == gil.guid) == "#gil"
    decorator = titled(view, "What is a decorator?")
    assert view.found_guids("tag:python::functions") == {decorator.guid}
    assert len(view.found["tag:Python"]) == 3  # the file's topic tag is kept beside the heading's
    titled(view, "集合 {a, b} 的并集是什么？")  # braces that are no attributes stay in the title


# ---------------------------------------------------------------- question formats


def test_details_answers_with_code_and_options_on_the_front(kinds: tuple[BuildResult, AnkiView]) -> None:
    _, view = kinds
    outputs = [
        n for n in view.notes.values() if n.fields.get("Question") == "输出是什么？" and "typeof" in n.fields["Prompt"]
    ]
    assert len(outputs) == 1  # questions 1 and 3 ask the same (same code and options): one note, both answers
    ((_, question, answer),) = view.cards(outputs[0])
    assert "console.log(typeofnull)" in question.replace(" ", "")  # the code, highlighted
    assert 'A: "null"' in question and 'B: "object"' in question
    assert "答案：B" not in question and "答案：B" in answer and "遗留问题" in answer and "类型标签" in answer
    assert "<p>" not in answer  # the <p> lines around the answer are wrappers, not text
    floats = next(n for n in view.notes.values() if "0.1+0.2" in view.cards(n)[0][1].replace(" ", ""))
    assert "浮点数" in view.cards(floats)[0][2] and "浮点数" not in view.cards(floats)[0][1]
    english = view.cards(titled(view, "What's the output?"))[0]
    assert (
        "console.log([]+[])" in english[1].replace(" ", "")
        and "Answer: A" in english[2]
        and "Answer: A" not in english[1]
    )


def test_label_lines_are_questions_under_their_heading(kinds: tuple[BuildResult, AnkiView]) -> None:
    _, view = kinds
    expected = {
        "什么是进程？": "资源分配的基本单位。",
        "什么是线程？": "CPU 调度的基本单位。",
        "进程间如何通信？": "管道、消息队列、共享内存、信号量和套接字。",
        "死锁的四个必要条件？": "互斥、占有并等待、不可抢占、循环等待。",
        "What does DNS do?": "It turns names into addresses.",
        "What is TCP?": "A reliable, connection-oriented transport protocol.",
        "What port does HTTPS use?": "443.",
    }
    for title, answer in expected.items():
        note = titled(view, title)
        ((_, question, back),) = view.cards(note)
        assert title in question and answer not in question and answer in back, title
    assert "破坏任意一个条件" in titled(view, "死锁的四个必要条件？").fields["Extra"]
    assert set(titled(view, "什么是进程？").tags) == {"操作系统"}
    single = titled(view, "单独一问")  # one Q/A pair under a heading: the heading is the question
    assert "这是题干" in single.fields["Prompt"] and "标题是问题" in single.fields["Answer"]


def test_list_questions_when_switched_on(kinds: tuple[BuildResult, AnkiView]) -> None:
    result, view = kinds
    assert "栈后进先出" in titled(view, "栈和队列的区别？").fields["Answer"]
    assert "平均 O(1) 查找" in titled(view, "什么是哈希表？").fields["Answer"]
    assert "complete binary tree" in titled(view, "What is a heap?").fields["Answer"]
    assert "prefix tree" in titled(view, "What is a trie?").fields["Answer"]
    assert [(s.file, s.line, s.title) for s in result.skipped] == [("lists.md", 12, "没有答案的列表项")]


def test_list_questions_are_off_by_default(tmp_path: Path) -> None:
    content = tmp_path / "notes"
    content.mkdir()
    (content / "a.md").write_text("# 数据结构\n\n1. 栈和队列的区别？\n   栈后进先出。\n", encoding="utf-8")
    result = build(content, tmp_path / "out", lock=False)
    assert [rn.note.title for rn in result.notes] == ["数据结构"]  # an ordinary answer that is a list
    (content / "flashmark.toml").write_text("[formats]\nlist_questions = true\n", encoding="utf-8")
    assert [rn.note.title for rn in build(content, tmp_path / "out", lock=False).notes] == ["栈和队列的区别？"]


def test_same_title_different_prompt_is_a_different_note(kinds: tuple[BuildResult, AnkiView]) -> None:
    result, view = kinds
    printed = [
        n for n in view.notes.values() if n.fields.get("Question") == "输出是什么？" and "print" in n.fields["Prompt"]
    ]
    assert len(printed) == 2 and len({n.guid for n in printed}) == 2
    by_code = {("&quot;1&quot;" in n.fields["Prompt"] or '"1"' in n.fields["Prompt"]): n for n in printed}
    assert "11" in by_code[True].fields["Answer"]
    both = by_code[False].fields["Answer"]  # the same code twice, with different answers: one note, both answers
    assert "2" in both and "两个整数相加" in both
    closure = titled(view, "什么是闭包？")  # no prompt, two answers: merged
    assert "词法环境" in closure.fields["Answer"] and "外层函数变量" in closure.fields["Answer"]
    keys = sorted(rn.key for rn in result.notes if rn.note.title == "输出是什么？")
    assert len(keys) == 4 and all("?" in k for k in keys)  # qualified by topic and prompt


def test_keys_of_same_titled_questions_stay_put_when_a_new_one_arrives(tmp_path: Path) -> None:
    content = tmp_path / "notes"
    content.mkdir()
    one = "## 输出是什么？\n\n```js\nconsole.log(1)\n```\n\n<details><summary>答案</summary>\n\n1\n\n</details>\n"
    two = one.replace("console.log(1)", "console.log(2)").replace("\n1\n", "\n2\n")
    (content / "js.md").write_text("# JS\n\n" + one + "\n" + two, encoding="utf-8")
    first = build(content, tmp_path / "out")
    (content / "js.md").write_text("# JS\n\n" + one + "\n" + two + "\n" + one.replace("(1)", "(3)"), encoding="utf-8")
    second = build(content, tmp_path / "out")
    assert {rn.key: rn.guid for rn in first.notes}.items() <= {rn.key: rn.guid for rn in second.notes}.items()
    assert len(second.notes) == 3 and second.matches == ()


# ---------------------------------------------------------------- check, list, report


def test_check_list_and_report_name_each_kind(tmp_path: Path) -> None:
    content = Path(shutil.copytree(FIXTURES / "kinds", tmp_path / "kinds"))
    runner = CliRunner()
    checked = runner.invoke(main, ["check", str(content)])
    assert "→ 28 notes (21 Q&A, 2 Q&A + reverse, 5 cloze):" in checked.output
    listed = {
        row.split("\t")[1]: row.split("\t")[-1]
        for row in runner.invoke(main, ["list", str(content)]).output.splitlines()
    }
    assert listed["TCP 握手"] == "cloze" and listed["反向传播"] == "Q&A + reverse" and listed["Overfitting"] == "Q&A"
    built = runner.invoke(main, ["build", str(content), "-o", str(tmp_path / "out")])
    assert "→ 28 notes, 34 cards (21 Q&A, 2 Q&A + reverse, 5 cloze)" in built.output
    result = build(content, tmp_path / "out")
    import json

    report = json.loads(result.report.read_text(encoding="utf-8"))
    assert report["counts"]["cards"] == 34 and report["counts"]["kinds"] == {"qa": 21, "qa+reverse": 2, "cloze": 5}
    cells = next(n for n in report["notes"] if n["title"] == "Cells")
    assert (cells["kind"], cells["cards"]) == ("cloze", 3)


# ---------------------------------------------------------------- continuity


def test_a_deck_of_the_previous_version_upgrades_in_place(tmp_path: Path) -> None:
    """Importing this version's deck over one built by the previous version: no duplicates, no "+" copy of a
    note type, every note's history kept; new notes come on the new note types beside the old one."""
    old = FIXTURES / "upgrade_v0_1"
    notes = Path(shutil.copytree(old / "notes", tmp_path / "notes"))
    col = tmp_path / "collection.anki2"
    before = import_apkg(old / "notes-0.1.0.apkg", col)
    studied = before.by_title("什么是过拟合？")
    answer_cards(col, studied.card_ids)
    reviews = open_view(col).revlog
    basics = notes / "basics.md"
    basics.write_text(
        basics.read_text(encoding="utf-8").replace("什么是过拟合？", "什么是过拟合？ {reverse}")
        + "\n## 学习率\n\n学习率决定每一步沿梯度走多远：太大 {{c1::发散}}，太小 {{c2::收敛慢}}。\n"
        + "\n## 什么是早停？ {reverse}\n\n验证集上的误差不再下降时停止训练。\n",
        encoding="utf-8",
    )
    result = build(notes, tmp_path / "out")
    warned = [n for n in result.notices if n.kind == "reverse"]
    assert [(n.file, n.line) for n in warned] == [("basics.md", 3)]
    assert "sync --allow-schema-change" in warned[0].message
    after = import_apkg(result.output, col, render=True)
    assert after.imported == {"new": 2, "updated": 10, "duplicate": 0, "conflicting": 0}
    ours = sorted(n for n in after.notetypes if n.startswith("flashmark"))
    assert ours == sorted([LEGACY_NOTETYPE, CLOZE_NOTETYPE, QA_NOTETYPE])
    for guid, note in before.notes.items():
        kept = after.notes[guid]
        assert (kept.id, kept.card_ids, kept.notetype) == (note.id, note.card_ids, LEGACY_NOTETYPE)
        assert all(after.revlog[c] == reviews[c] for c in note.card_ids)
    assert titled(after, "学习率").notetype == CLOZE_NOTETYPE and len(titled(after, "学习率").card_ids) == 2
    assert titled(after, "什么是早停？").notetype == QA_NOTETYPE and len(titled(after, "什么是早停？").card_ids) == 2
    again = import_apkg(build(notes, tmp_path / "out").output, col)
    assert again.imported == {"new": 0, "updated": 0, "duplicate": 12, "conflicting": 0}

    # Consent to a schema change moves the old notes to the reversible note type, keeping cards and reviews.
    moved = sync(notes, tmp_path / "out", collection=col, allow_schema_change=True)
    assert moved.converted == 10 and moved.backup is not None
    assert "10 moved to the reversible note type" in sync_summary(moved)
    view = open_view(col, render=True)
    assert LEGACY_NOTETYPE not in {n.notetype for n in view.notes.values()}
    overfit = view.notes[studied.guid]
    assert overfit.notetype == QA_NOTETYPE and overfit.card_ids[0] == studied.card_ids[0]
    assert view.revlog[studied.card_ids[0]] == reviews[studied.card_ids[0]]
    assert len(overfit.card_ids) == 2 and "什么是过拟合？" not in view.cards(overfit)[1][1]
    lock = read_lock(notes / LOCK_FILE)
    assert lock is not None and {e.kind for e in lock.notes} == {QAR, CLOZE}
    final = import_apkg(build(notes, tmp_path / "out").output, col)
    assert final.imported["conflicting"] == 0 and final.imported["new"] == 0
    assert sorted(n for n in final.notetypes if n.startswith("flashmark")) == ours


def test_turning_reverse_on_and_off_keeps_the_note_and_its_first_cards_history(tmp_path: Path) -> None:
    content = tmp_path / "notes"
    content.mkdir()
    page = content / "a.md"
    question = "# 网络\n\n## 什么是残差连接？{reverse}\n\n把一组层的输入直接加到输出上。\n"
    page.write_text(question.replace("{reverse}", ""), encoding="utf-8")
    col = tmp_path / "collection.anki2"
    first = import_apkg(build(content, tmp_path / "out").output, col)
    (note,) = first.notes.values()
    answer_cards(col, note.card_ids)
    history = open_view(col).revlog[note.card_ids[0]]
    assert len(history) == 1

    page.write_text(question, encoding="utf-8")
    on = import_apkg(build(content, tmp_path / "out").output, col, render=True)
    turned_on = on.notes[note.guid]
    assert (turned_on.id, turned_on.notetype) == (note.id, note.notetype)
    assert turned_on.card_ids[0] == note.card_ids[0] and len(turned_on.card_ids) == 2
    assert on.revlog[note.card_ids[0]] == history
    assert "把一组层的输入" in on.cards(turned_on)[1][1]

    page.write_text(question.replace("{reverse}", ""), encoding="utf-8")
    off = import_apkg(build(content, tmp_path / "out").output, col)
    turned_off = off.notes[note.guid]
    assert (turned_off.id, turned_off.notetype, turned_off.card_ids[0]) == (note.id, note.notetype, note.card_ids[0])
    assert off.revlog[note.card_ids[0]] == history and turned_off.fields["Reverse"] == ""

    # Through sync, the reversed card that lost its front is suspended, and comes back with reverse.
    synced = sync(content, tmp_path / "out", collection=col)
    assert synced.parked == 1 and "1 reversed card suspended" in sync_summary(synced)
    assert "reverse off: '什么是残差连接？' (its reversed card is suspended, its history kept)" in step_lines(synced)
    assert open_view(col).queues[turned_on.card_ids[1]] == -1
    page.write_text(question, encoding="utf-8")
    back = sync(content, tmp_path / "out", collection=col)
    assert back.unparked == 1 and back.count("update") == 1
    view = open_view(col)
    assert view.queues[turned_on.card_ids[1]] != -1 and view.revlog[note.card_ids[0]] == history


def test_sync_adds_every_kind_to_a_fresh_collection(tmp_path: Path) -> None:
    content = Path(shutil.copytree(FIXTURES / "kinds", tmp_path / "kinds"))
    col = tmp_path / "collection.anki2"
    Collection(str(col)).close()
    result = sync(content, tmp_path / "out", collection=col)
    assert result.count("add") == 28 and result.backup is not None
    view = open_view(col)
    assert sorted(n for n in view.notetypes if n.startswith("flashmark")) == [CLOZE_NOTETYPE, QA_NOTETYPE]
    assert view.card_count == 34
    assert sync(content, tmp_path / "out", collection=col).changed is False  # nothing left to do
    lock = read_lock(content / LOCK_FILE)
    assert lock is not None and {e.kind for e in lock.notes} == {QAR, CLOZE}


def readme_examples() -> list[str]:
    """The Markdown examples of the README's sections on card kinds and question formats."""
    text = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## Card kinds") : text.index("## What cards can show")]
    blocks = re.findall(r"^(`{3,4})markdown\n(.*?)^\1$", section, flags=re.M | re.S)
    return [body for _, body in blocks]


@pytest.mark.parametrize("example", readme_examples())
def test_the_readme_examples_build_as_described(example: str, tmp_path: Path) -> None:
    content = tmp_path / "notes"
    content.mkdir()
    (content / "example.md").write_text(example, encoding="utf-8")
    result = build(content, tmp_path / "out", lock=False)
    assert result.notes and not result.skipped and not result.notices, [n.message for n in result.notices]
    kinds = {rn.note.kind for rn in result.notes}
    assert (CLOZE in kinds) == ("{{c1::" in example)
    assert all(rn.note.title for rn in result.notes)
    if "{reverse}" in example or "reverse: true" in example:
        assert any(rn.note.reverse for rn in result.notes)


def test_moving_old_notes_brings_the_reversible_note_type_when_the_collection_lacks_it(tmp_path: Path) -> None:
    old = FIXTURES / "upgrade_v0_1"
    notes = Path(shutil.copytree(old / "notes", tmp_path / "notes"))
    col = tmp_path / "collection.anki2"
    before = import_apkg(old / "notes-0.1.0.apkg", col)
    assert QA_NOTETYPE not in before.notetypes
    result = sync(notes, tmp_path / "out", collection=col, allow_schema_change=True)
    assert result.converted == 10
    view = open_view(col)
    assert {n.notetype for n in view.notes.values()} == {QA_NOTETYPE}
    assert set(view.notes) == set(before.notes)  # the stand-in that brought the note type is gone
    assert all(view.notes[g].card_ids == n.card_ids for g, n in before.notes.items())
    assert sync(notes, tmp_path / "out", collection=col).changed is False


def test_a_build_without_a_lock_keeps_the_one_card_type_so_earlier_imports_keep_updating(tmp_path: Path) -> None:
    content = tmp_path / "notes"
    content.mkdir()
    page = content / "a.md"
    page.write_text("# T\n\n## 一\n\n答一。\n\n## 二 {reverse}\n\n答二。\n", encoding="utf-8")
    col = tmp_path / "collection.anki2"
    first = import_apkg(build(content, tmp_path / "out", lock=False).output, col)
    types = {n.fields["Question"]: n.notetype for n in first.notes.values()}
    assert types == {"一": LEGACY_NOTETYPE, "二": QA_NOTETYPE}
    page.write_text(page.read_text(encoding="utf-8").replace("答一。", "答一，改过。"), encoding="utf-8")
    time.sleep(1.1)  # a build without a lock stamps its notes with the time: Anki takes only newer ones
    again = import_apkg(build(content, tmp_path / "out", lock=False).output, col)
    assert again.imported["conflicting"] == 0 and again.imported["updated"] >= 1
    assert "改过" in again.by_title("一").fields["Answer"]


def test_sync_takes_the_note_type_a_note_already_has_when_the_lock_is_lost(tmp_path: Path) -> None:
    content = tmp_path / "notes"
    content.mkdir()
    page = content / "a.md"
    page.write_text("# T\n\n## 一\n\n答一。\n", encoding="utf-8")
    col = tmp_path / "collection.anki2"
    import_apkg(build(content, tmp_path / "out", lock=False).output, col)  # on the one-card type
    page.write_text("# T\n\n## 一\n\n答一，改过。\n", encoding="utf-8")
    # No lock: the build alone would put the note on the reversible type, which Anki does not have it on.
    dry = sync(content, tmp_path / "out", collection=col, dry_run=True)
    assert [s.action for s in dry.steps] == ["conflict"]  # no lock vouches for Anki's copy: kept unless asked
    result = sync(content, tmp_path / "out", collection=col, prefer="source")
    assert [(s.action, s.applied) for s in result.steps] == [("conflict", True)]
    view = open_view(col)
    assert [(n.notetype, "改过" in n.fields["Answer"]) for n in view.notes.values()] == [(LEGACY_NOTETYPE, True)]
    lock = read_lock(content / LOCK_FILE)
    assert lock is not None and [e.kind for e in lock.notes] == ["qa"]
    deck = import_apkg(build(content, tmp_path / "out").output, col)
    assert deck.imported["conflicting"] == 0


def test_old_notes_asking_for_reverse_are_counted_as_they_are_and_warned_once(tmp_path: Path) -> None:
    old = FIXTURES / "upgrade_v0_1"
    notes = Path(shutil.copytree(old / "notes", tmp_path / "notes"))
    (notes / "flashmark.toml").write_text("reverse = true\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["build", str(notes), "-o", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    warned = [line for line in result.output.splitlines() if "[reverse]" in line]
    assert len(warned) == 1 and "10 questions have notes first built by an earlier flashmark" in warned[0]
    assert "10 notes (" in result.output and "reverse" not in result.output.split("→")[1]


def test_a_removed_cloze_paragraph_is_found_by_its_search(tmp_path: Path) -> None:
    content = tmp_path / "notes"
    content.mkdir()
    page = content / "a.md"
    page.write_text("TCP 建立连接需要 {{c1::三}} 次握手。\n\nUDP 是 {{c1::无连接}} 的。\n", encoding="utf-8")
    col = tmp_path / "collection.anki2"
    first = build(content, tmp_path / "out")
    import_apkg(first.output, col)
    page.write_text("UDP 是 {{c1::无连接}} 的。\n", encoding="utf-8")
    second = build(content, tmp_path / "out")
    (gone,) = second.removed
    view = open_view(col, (gone.search,))
    assert view.found_guids(gone.search) == {gone.guid}


def test_double_colons_in_code_inside_a_cloze_stay_code(tmp_path: Path) -> None:
    content = tmp_path / "notes"
    content.mkdir()
    (content / "a.md").write_text(
        "## C++\n\nThe dynamic array is {{c1::`std::vector`}}; a map is {{c2::`std::map<K, V>`::ordered}}.\n",
        encoding="utf-8",
    )
    view = import_apkg(build(content, tmp_path / "out").output, tmp_path / "c.anki2", render=True)
    (note,) = view.notes.values()
    (_, q1, a1), (_, q2, _) = view.cards(note)
    assert "The dynamic array is [...]" in q1 and "std:\u2060:map<K, V>" in q1
    assert "std:\u2060:vector" in a1 and "[ordered]" in q2
