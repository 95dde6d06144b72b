"""Identity across builds: GUIDs, modification times, the lock file and the note type's fixed ids."""

from __future__ import annotations

import hashlib
import json
import os
import stat
from dataclasses import replace
from pathlib import Path

import pytest

from ankitools import import_apkg
from flashmark.anki.notetype import FIELDS, KINDS, QA, QAR, note_type, notetype_hash
from flashmark.build import build, load_corpus
from flashmark.errors import LockError, ParseError
from flashmark.identity import NOTETYPE_ID, note_guid, schema_id
from flashmark.lock import (
    LOCK_FILE,
    Lock,
    LockEntry,
    NoteTypeMark,
    _read_as_written,
    anki_search,
    answer_sketch,
    assign_identities,
    content_hash,
    lock_text,
    parse_lock,
    read_lock,
    sketch_similarity,
    write_lock,
)
from flashmark.render import render_notes
from flashmark.types import RenderedNote

NOW = 1_800_000_000.0


def kinds(h: str) -> dict[str, str]:
    """Every note type given the same (made-up) hash."""
    return dict.fromkeys(KINDS, h)


LONG_ANSWER = "残差连接把一组层的输入直接加到输出上。这样这组层只需学习残差。深层网络因此容易训练。"


def notes_of(tmp_path: Path, files: dict[str, str], name: str = "c") -> list[RenderedNote]:
    """Parse, merge and render a content folder made of `files`."""
    folder = tmp_path / name
    folder.mkdir(exist_ok=True)
    for old in folder.glob("*.md"):
        old.unlink()
    for rel, text in files.items():
        (folder / rel).write_text(text, encoding="utf-8")
    return render_notes(load_corpus(folder).merge.notes, "Deck")


ENTRY_FIELDS = ("key", "guid", "kind", "hash", "mod", "title", "answer", "search", "files", "deck")


def entry_json(e: LockEntry) -> str:
    """A lock line as json.dumps writes the entry (its `removed` time only when it is removed)."""
    data = {f: list(v) if isinstance(v := getattr(e, f), tuple) else v for f in ENTRY_FIELDS}
    if e.removed:
        data["removed"] = e.removed
    return json.dumps(data, ensure_ascii=False)


def guid_of(result: object, title: str) -> str:
    notes = [rn for rn in result.notes if rn.note.title == title]  # type: ignore[attr-defined]
    assert len(notes) == 1, [rn.note.title for rn in result.notes]  # type: ignore[attr-defined]
    return notes[0].guid


# ---------------------------------------------------------------- fixed ids


def test_note_type_fields_and_template_carry_fixed_ids() -> None:
    model = note_type()
    assert model.model_id == NOTETYPE_ID == 1_733_300_020_251
    assert [f["name"] for f in model.fields] == list(FIELDS)
    ids = [f["id"] for f in model.fields] + [t["id"] for t in model.templates]
    assert ids == [schema_id("field", n) for n in FIELDS] + [schema_id("template", "Card")]
    assert len(set(ids)) == len(ids) and all(0 < i < 2**53 for i in ids)
    # Frozen once shipped: a changed id would make Anki treat the field as another one.
    assert schema_id("field", "Question") == 1_324_458_089_925_640
    assert schema_id("template", "Card") == 1_141_313_184_783_827


def test_note_type_hash_follows_templates_and_css() -> None:
    assert notetype_hash() == notetype_hash() and len(notetype_hash()) == 16


# ---------------------------------------------------------------- explicit ids on headings


def test_explicit_id_pins_the_guid_without_a_lock(tmp_path: Path) -> None:
    before = notes_of(tmp_path, {"a.md": f"# 网络\n\n## 什么是残差连接？ {{#residual}}\n\n{LONG_ANSWER}\n"})
    after = notes_of(tmp_path, {"a.md": "# 网络\n\n## 残差网络为什么好训练？ {#residual}\n\n完全不同的答案。\n"})
    assert before[0].note.title == "什么是残差连接？" and before[0].note.anchor == "residual"
    assert before[0].fields[0] == "什么是残差连接？"
    first = assign_identities(before, None, kinds("h"), NOW).notes[0]
    second = assign_identities(after, None, kinds("h"), NOW).notes[0]
    assert first.key == second.key == "#residual"
    assert first.guid == second.guid == note_guid("#residual")


def test_explicit_id_after_inline_code_is_taken_from_the_heading(tmp_path: Path) -> None:
    notes = notes_of(tmp_path, {"a.md": "# T\n\n## 什么是 `__init__`？{#init}\n\n构造方法。\n"})
    assert notes[0].note.anchor == "init"
    assert notes[0].fields[0] == "什么是 <code>__init__</code>？"


# ---------------------------------------------------------------- fingerprints


def test_content_hash_changes_with_fields_and_tags_only() -> None:
    base = content_hash(("Q", "A"), ("t1", "t2"))
    assert base == content_hash(("Q", "A"), ("t2", "t1"))
    assert base != content_hash(("Q", "B"), ("t1", "t2"))
    assert base != content_hash(("Q", "A"), ("t1",))


def test_answer_sketch_ignores_markup_and_measures_shared_sentences() -> None:
    a = answer_sketch("<p>第一句。第二句！</p><p>Third sentence. Fourth</p>")
    assert a == answer_sketch("<div>第一句</div>\n<p>第二句</p><ul><li>third SENTENCE</li><li>fourth.</li></ul>")
    assert len(a.split()) == 4
    b = answer_sketch("<p>第一句。第二句！</p><p>Third sentence. 改过的第四句</p>")
    share, shared = sketch_similarity(a, b)
    assert shared == 3 and share == pytest.approx(3 / 5)
    assert sketch_similarity(a, answer_sketch("<p>毫不相干。</p>")) == (0.0, 0)
    inline = answer_sketch("<p>使用 <code>relu</code> 激活。再接 <strong>池化</strong>。</p>")
    assert len(inline.split()) == 2  # inline markup does not split a sentence
    assert inline == answer_sketch("<p>使用 relu 激活。</p><p>再接池化</p>")
    long = answer_sketch("".join(f"<p>句子{i}。</p>" for i in range(30)))
    assert len(long.split()) == 8  # bounded, whatever the answer's length


# ---------------------------------------------------------------- GUIDs and mods


def test_without_a_lock_guids_come_from_keys_and_mod_is_now(tmp_path: Path) -> None:
    notes = notes_of(tmp_path, {"a.md": f"# T\n\n## Q1\n\n{LONG_ANSWER}\n\n## Q2\n\n另一个答案。\n"})
    out = assign_identities(notes, None, kinds("h"), NOW)
    assert [rn.guid for rn in out.notes] == [note_guid("q1"), note_guid("q2")]
    assert {rn.mod for rn in out.notes} == {int(NOW)} == {out.notetype_mods[QAR]}
    assert out.matches == () and out.removed == ()
    assert [e.key for e in out.lock.notes] == ["q1", "q2"]


def rebuild(tmp_path: Path, v1: dict[str, str], v2: dict[str, str], now2: float = NOW):
    """Identities of v1 (no lock), then of v2 with v1's lock."""
    first = assign_identities(notes_of(tmp_path, v1, "v1"), None, kinds("h"), NOW)
    second = assign_identities(notes_of(tmp_path, v2, "v2"), first.lock, kinds("h"), now2)
    return first, second


def by_title(result, title: str) -> RenderedNote:  # type: ignore[no-untyped-def]
    found = [rn for rn in result.notes if rn.note.title == title]
    assert len(found) == 1
    return found[0]


def test_unchanged_notes_keep_mod_and_changed_ones_get_a_newer_one_even_in_the_same_second(tmp_path: Path) -> None:
    v1 = {"a.md": "# T\n\n## 甲\n\n甲的答案。\n\n## 乙\n\n乙的答案。\n"}
    v2 = {"a.md": "# T\n\n## 甲\n\n甲的答案。\n\n## 乙\n\n乙的新答案。\n"}
    first, second = rebuild(tmp_path, v1, v2, now2=NOW)  # a rebuild within the same second
    assert by_title(second, "甲").mod == by_title(first, "甲").mod == int(NOW)
    assert by_title(second, "乙").mod == int(NOW) + 1
    assert by_title(second, "乙").guid == by_title(first, "乙").guid
    later = assign_identities(notes_of(tmp_path, v2, "v3"), second.lock, kinds("h"), NOW + 100)
    assert [rn.mod for rn in later.notes] == [rn.mod for rn in second.notes]  # nothing changed since
    assert later.lock == second.lock


def test_an_unchanged_note_takes_its_sketch_from_the_lock_and_a_changed_one_gets_a_fresh_one(tmp_path: Path) -> None:
    v1 = {"a.md": f"# T\n\n## 甲\n\n{LONG_ANSWER}\n\n## 乙\n\n乙的答案。\n"}
    v2 = {"a.md": f"# T\n\n## 甲\n\n{LONG_ANSWER}\n\n## 乙\n\n乙的新答案。\n"}
    first = assign_identities(notes_of(tmp_path, v1), None, kinds("h"), NOW)
    marked = replace(first.lock, notes=tuple(replace(e, answer="00000000") for e in first.lock.notes))
    second = assign_identities(notes_of(tmp_path, v2, "v2"), marked, kinds("h"), NOW + 1)
    sketches = {e.title: e.answer for e in second.lock.notes}
    assert sketches["甲"] == "00000000"  # same key, same hash: the lock's sketch, not recomputed
    assert sketches["乙"] == answer_sketch(by_title(second, "乙").fields[KINDS[QAR].index("Answer")]) != "00000000"
    again = assign_identities(notes_of(tmp_path, v2, "v3"), first.lock, kinds("h"), NOW + 1)
    assert {e.title: e.answer for e in again.lock.notes}["甲"] == answer_sketch(
        by_title(again, "甲").fields[KINDS[QAR].index("Answer")]
    )


def test_reworded_title_with_the_same_answer_keeps_the_guid(tmp_path: Path) -> None:
    v1 = {"a.md": f"# T\n\n## What is a residual connection?\n\n{LONG_ANSWER}\n"}
    v2 = {"a.md": f"# T\n\n## Why do skip connections help?\n\n{LONG_ANSWER}\n"}
    first, second = rebuild(tmp_path, v1, v2)
    assert second.notes[0].guid == first.notes[0].guid
    assert [(m.old_title, m.new_title, m.reason) for m in second.matches] == [
        ("What is a residual connection?", "Why do skip connections help?", "same answer")
    ]
    assert second.removed == ()


def test_slightly_reworded_title_with_a_new_answer_keeps_the_guid(tmp_path: Path) -> None:
    v1 = {"a.md": "# T\n\n## 什么是残差连接？\n\n旧答案。\n"}
    v2 = {"a.md": "# T\n\n## 什么是残差连接结构？\n\n全新的答案。\n"}
    first, second = rebuild(tmp_path, v1, v2)
    assert second.notes[0].guid == first.notes[0].guid
    assert second.matches[0].reason == "similar title"


def test_new_title_and_lightly_edited_answer_keep_the_guid(tmp_path: Path) -> None:
    answer = "第一句讲定义。第二句讲动机。第三句讲做法。第四句讲效果。"
    edited = "第一句讲定义。第二句讲动机。第三句讲做法。第四句讲改进后的效果。"
    first, second = rebuild(
        tmp_path, {"a.md": f"# T\n\n## 残差连接\n\n{answer}\n"}, {"a.md": f"# T\n\n## 捷径为何有用\n\n{edited}\n"}
    )
    assert second.notes[0].guid == first.notes[0].guid
    assert second.matches[0].reason == "similar answer"


def test_a_different_question_is_not_matched_to_a_removed_one(tmp_path: Path) -> None:
    v1 = {"a.md": f"# T\n\n## 什么是残差连接？\n\n{LONG_ANSWER}\n"}
    v2 = {"a.md": "# T\n\n## 什么是注意力机制？\n\n按相似度给值加权求和，聚焦最相关的输入。\n"}
    first, second = rebuild(tmp_path, v1, v2)
    assert second.notes[0].guid == note_guid("什么是注意力机制")
    assert second.matches == ()
    assert [(r.title, r.guid) for r in second.removed] == [("什么是残差连接？", first.notes[0].guid)]
    assert second.removed[0].search == anki_search("什么是残差连接？", "T", KINDS[QAR].notetype_id)


def test_short_identical_answers_are_no_evidence(tmp_path: Path) -> None:
    first, second = rebuild(
        tmp_path, {"a.md": "# T\n\n## 会用到吗\n\n是。\n"}, {"a.md": "# T\n\n## 能否并行\n\n是。\n"}
    )
    assert second.matches == () and len(second.removed) == 1
    assert second.notes[0].guid != first.notes[0].guid


def test_moving_a_question_between_colliding_topics_keeps_its_guid(tmp_path: Path) -> None:
    lenet = "LeNet 由两个卷积层和三个全连接层组成。卷积层之后接平均池化。"
    alex = "AlexNet 有五个卷积层和三个全连接层。使用 ReLU 和 Dropout。"
    v1 = {"a.md": f"# LeNet\n\n## 模型结构\n\n{lenet}\n"}
    # A second question with the same title appears under another topic: both keys get qualified.
    v2 = {"a.md": f"# LeNet\n\n## 模型结构\n\n{lenet}\n\n# AlexNet\n\n## 模型结构\n\n{alex}\n"}
    # The LeNet one moves under a new topic; the AlexNet one goes away, so the key is unqualified again.
    v3 = {"a.md": f"# 经典网络\n\n## 模型结构\n\n{lenet}\n"}
    first, second = rebuild(tmp_path, v1, v2)
    assert sorted(rn.key for rn in second.notes) == ["模型结构@alexnet", "模型结构@lenet"]
    kept = next(rn for rn in second.notes if rn.fields[4] == "LeNet")
    assert kept.guid == first.notes[0].guid
    third = assign_identities(notes_of(tmp_path, v3, "v3"), second.lock, kinds("h"), NOW)
    assert third.notes[0].key == "模型结构" and third.notes[0].guid == first.notes[0].guid
    assert [r.search for r in third.removed] == [anki_search("模型结构", "AlexNet", KINDS[QAR].notetype_id)]


def test_a_new_note_never_takes_a_guid_already_in_use(tmp_path: Path) -> None:
    # v2 rewords "A" to "B" (same answer, so B keeps A's key-derived GUID); v3 adds a new "A".
    v1 = {"a.md": f"# T\n\n## Alpha question\n\n{LONG_ANSWER}\n"}
    v2 = {"a.md": f"# T\n\n## Completely different wording\n\n{LONG_ANSWER}\n"}
    _first, second = rebuild(tmp_path, v1, v2)
    assert second.notes[0].guid == note_guid("alphaquestion")
    v3 = {"a.md": f"# T\n\n## Completely different wording\n\n{LONG_ANSWER}\n\n## Alpha question\n\n另一个答案。\n"}
    third = assign_identities(notes_of(tmp_path, v3, "v3"), second.lock, kinds("h"), NOW)
    guids = [rn.guid for rn in third.notes]
    assert guids[0] == note_guid("alphaquestion") and guids[1] == note_guid("alphaquestion~2")
    assert len(set(guids)) == 2


def test_note_type_mod_changes_only_with_its_hash(tmp_path: Path) -> None:
    notes = notes_of(tmp_path, {"a.md": "# T\n\n## Q\n\n答案。\n"})
    first = assign_identities(notes, None, kinds("hash-1"), NOW)
    same = assign_identities(notes, first.lock, kinds("hash-1"), NOW + 50)
    changed = assign_identities(notes, first.lock, kinds("hash-2"), NOW)
    assert same.notetype_mods[QAR] == first.notetype_mods[QAR] == int(NOW)
    assert changed.notetype_mods[QAR] == int(NOW) + 1
    assert changed.notes[0].mod == first.notes[0].mod  # the notes themselves did not change


# ---------------------------------------------------------------- the lock file


def test_lock_file_is_sorted_one_note_per_line_and_round_trips(tmp_path: Path) -> None:
    notes = notes_of(tmp_path, {"a.md": "# T\n\n## 乙\n\n二。\n\n## 甲\n\n一。\n\n## Alpha\n\nA.\n"})
    lock = assign_identities(notes, None, kinds("h"), NOW).lock
    text = lock_text(lock)
    lines = text.splitlines()
    entries = [json.loads(line.strip().rstrip(",")) for line in lines if line.strip().startswith('{"key"')]
    assert [e["key"] for e in entries] == sorted(e.key for e in lock.notes) == ["alpha", "乙", "甲"]
    assert set(entries[0]) == set(ENTRY_FIELDS)
    assert len(lines) == len(entries) + 7
    parsed = parse_lock(text, tmp_path / LOCK_FILE)
    assert sorted(parsed.notes, key=lambda e: e.key) == sorted(lock.notes, key=lambda e: e.key)
    assert parsed.notetypes == (NoteTypeMark(QAR, "h", int(NOW)),)
    assert parse_lock(lock_text(Lock()), tmp_path / LOCK_FILE) == Lock()


@pytest.mark.parametrize(
    ("edit", "message", "line"),
    [
        (lambda t: t.replace('"mod": ', '"mod": "x', 1), "not valid JSON", None),
        (lambda t: t.replace('"flashmark_lock": 2', '"flashmark_lock": 9'), "version 9 is not supported", 2),
        (lambda t: t.replace('"mod": 1800000000, ', '"mod": "soon", ', 1), "'mod' must be a number", 6),
        (lambda t: "[]", "not a flashmark lock file", 1),
    ],
)
def test_broken_lock_files_are_named_with_their_line(tmp_path: Path, edit, message: str, line: int | None) -> None:  # type: ignore[no-untyped-def]
    notes = notes_of(tmp_path, {"a.md": "# T\n\n## Q\n\n答案。\n\n## R\n\n答案二。\n"})
    path = tmp_path / LOCK_FILE
    path.write_text(edit(lock_text(assign_identities(notes, None, kinds("h"), NOW).lock)), encoding="utf-8")
    with pytest.raises(LockError) as info:
        read_lock(path)
    assert message in str(info.value) and str(info.value).startswith(str(path))
    if line is not None:
        assert info.value.line == line


def test_duplicate_guids_in_a_lock_are_refused(tmp_path: Path) -> None:
    notes = notes_of(tmp_path, {"a.md": "# T\n\n## Q\n\n答案。\n\n## R\n\n答案二。\n"})
    lock = assign_identities(notes, None, kinds("h"), NOW).lock
    text = lock_text(lock).replace(lock.notes[1].guid, lock.notes[0].guid)
    with pytest.raises(LockError, match="appears twice"):
        parse_lock(text, tmp_path / LOCK_FILE)


def test_write_lock_is_atomic_readable_and_skips_unchanged(tmp_path: Path) -> None:
    notes = notes_of(tmp_path, {"a.md": "# T\n\n## Q\n\n答案。\n"})
    lock = assign_identities(notes, None, kinds("h"), NOW).lock
    path = tmp_path / LOCK_FILE
    assert read_lock(path) is None
    assert write_lock(path, lock) is True
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask  # like any new file, not a temp file's 0600
    assert write_lock(path, lock) is False
    assert read_lock(path) == lock
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def _three_note_lock(tmp_path: Path) -> Lock:
    notes = notes_of(tmp_path, {"a.md": '# T\n\n## 乙\n\n二。\n\n## 甲\n\n一。\n\n## Alpha "q"\n\nA.\n'})
    return assign_identities(notes, None, kinds("h"), NOW).lock


def test_the_streamed_lock_file_has_the_documented_layout_byte_for_byte(tmp_path: Path) -> None:
    lock = _three_note_lock(tmp_path)
    lines = ["    " + entry_json(e) for e in sorted(lock.notes, key=lambda e: e.key)]
    notetypes = json.dumps({QAR: {"hash": "h", "mod": int(NOW)}})
    expected = (
        f'{{\n  "flashmark_lock": 2,\n  "namespace": "",\n  "notetypes": {notetypes},\n  "notes": [\n'
        + ",\n".join(lines)
        + "\n  ]\n}\n"
    )
    assert lock_text(lock) == expected
    path = tmp_path / LOCK_FILE
    assert write_lock(path, lock) is True
    assert path.read_bytes() == expected.encode()
    empty = tmp_path / "empty.lock"
    assert write_lock(empty, Lock()) is True
    assert (
        empty.read_bytes() == b'{\n  "flashmark_lock": 2,\n  "namespace": "",\n  "notetypes": {},\n  "notes": []\n}\n'
    )
    assert read_lock(empty) == Lock()


def test_lock_lines_and_content_hashes_are_what_json_dumps_writes_for_any_text(tmp_path: Path) -> None:
    nasty = ['"', "\\", "\n\t\x00\x1f\x7f", "\u2028\u2029", "é中文😀", "</script>", "", 'a\\"b']
    for n, text in enumerate(nasty):
        entry = LockEntry(
            f"k{text}", f"g{n}", text, 1_800_000_000 + n, text, text[::-1], text * 2, (text, "a.md"), text, QA, n
        )
        notetypes = json.dumps({"qa": {"hash": "h", "mod": 7}})
        line = entry_json(entry)
        expected = (
            f'{{\n  "flashmark_lock": 2,\n  "namespace": {json.dumps(text, ensure_ascii=False)},\n  "notetypes": {notetypes},\n'
            f'  "notes": [\n    {line}\n  ]\n}}\n'
        )
        lock = Lock((entry,), (NoteTypeMark("qa", "h", 7),), text)
        assert lock_text(lock) == expected
        assert parse_lock(expected, tmp_path / LOCK_FILE) == lock
        fields, tags = (text, "Q", text * 3), (text, "b", "a")
        dumped = json.dumps([list(fields), sorted(tags)], ensure_ascii=False)
        assert content_hash(fields, tags) == hashlib.sha256(dumped.encode()).hexdigest()[:16]
    assert content_hash((), ()) == hashlib.sha256(b"[[], []]").hexdigest()[:16]


def test_write_lock_compares_the_whole_file_before_skipping(tmp_path: Path) -> None:
    lock = _three_note_lock(tmp_path)
    text = lock_text(lock)
    path = tmp_path / LOCK_FILE
    for stale in (text[:-5], text + " ", text.replace(lock.notes[2].hash, "0" * 16), ""):
        path.write_text(stale, encoding="utf-8")
        assert write_lock(path, lock) is True
        assert path.read_text(encoding="utf-8") == text
    path.write_bytes(text.replace("\n", "\r\n").encode())  # as a checkout with CRLF line ends holds it
    assert write_lock(path, lock) is False  # the same text, read with universal newlines: left alone
    path.write_bytes(b"\xff" + text.encode())
    assert write_lock(path, lock) is True


@pytest.mark.parametrize(
    "layout",
    [
        lambda t: t,
        lambda t: "\ufeff" + t,
        lambda t: t.replace("\n", "\r\n"),
        lambda t: json.dumps(json.loads(t), ensure_ascii=False, indent=4),
        lambda t: json.dumps(json.loads(t)),
        lambda t: t.replace('"search": ', '"extra": [1, {"a": null}], "search": '),
        lambda t: t.replace(', "answer": ""', ""),
    ],
)
def test_read_lock_line_by_line_gives_what_parsing_the_whole_text_gives(tmp_path: Path, layout) -> None:  # type: ignore[no-untyped-def]
    lock = _three_note_lock(tmp_path)
    text = layout(lock_text(lock))
    path = tmp_path / LOCK_FILE
    path.write_bytes(text.encode())
    whole = parse_lock(text.removeprefix("\ufeff"), path)
    assert read_lock(path) == whole
    assert sorted(whole.notes, key=lambda e: e.key) == sorted(lock.notes, key=lambda e: e.key)


def test_read_lock_takes_the_line_by_line_path_for_what_it_writes_and_not_for_broken_files(tmp_path: Path) -> None:
    lock = _three_note_lock(tmp_path)
    path = tmp_path / LOCK_FILE
    write_lock(path, lock)
    text = lock_text(lock)
    assert _read_as_written(path) == parse_lock(text, path)
    broken = [
        text.replace(lock.notes[1].guid, lock.notes[0].guid),  # a GUID twice
        text.replace("}\n  ]", "},\n  ]"),  # a trailing comma
        text.replace("},\n    {", "}\n    {", 1),  # a missing comma
        text.replace('"mod": 1800000000, "title"', '"mod": true, "title"', 1),
        text.replace('"guid": "', '"guid": "", "x": "', 1),
        text + "{}",
        text[: text.rindex("  ]")],
    ]
    for bad in broken:
        path.write_text(bad, encoding="utf-8")
        assert _read_as_written(path) is None
        with pytest.raises(LockError) as info:
            read_lock(path)
        assert str(info.value).startswith(str(path))
    path.write_text(broken[0], encoding="utf-8")
    with pytest.raises(LockError, match="appears twice") as info:
        read_lock(path)
    assert info.value.line == 8  # the second of the two lines holding that GUID (lines 6-8 are the notes)


def test_an_unreadable_lock_is_an_error_naming_it(tmp_path: Path) -> None:
    folder = tmp_path / "c"
    folder.mkdir()
    (folder / "a.md").write_text("# T\n\n## Q\n\n答案。\n", encoding="utf-8")
    (folder / LOCK_FILE).mkdir()  # something that is not a file stands in the lock's place
    with pytest.raises(LockError, match="cannot read"):
        build(folder, tmp_path / "out")


# ---------------------------------------------------------------- Anki searches for removed notes


TRICKY = """\
# C\\*\\_x "q" 主题

## 什么是 `*args` 和 `**kwargs`？

收集多余的位置参数和关键字参数。

## 反斜杠 `\\n` 与 C:\\\\temp 表示什么？

换行符，以及 Windows 路径。

## 什么是 "duck typing"？

看行为而不看类型。

## 100% 覆盖率 & <br> 标签？

HTML 会被转义。

## 模型结构

LeNet 的结构。

# -AlexNet (2012)

## 模型结构

AlexNet 的结构。

## under_score_title

下划线。
"""


def test_the_search_for_a_note_finds_exactly_that_note_in_anki(tmp_path: Path) -> None:
    folder = tmp_path / "tricky"
    folder.mkdir()
    (folder / "t.md").write_text(TRICKY, encoding="utf-8")
    result = build(folder, tmp_path / "out")
    lock = read_lock(folder / LOCK_FILE)
    assert lock is not None and len(lock.notes) == 7
    searches = tuple(e.search for e in lock.notes)
    anki = import_apkg(result.output, tmp_path / "col.anki2", searches=searches)
    for entry in lock.notes:
        assert anki.found[entry.search] == (anki.notes[entry.guid].id,), entry.search


def test_one_id_on_two_different_questions_is_an_error_naming_both(tmp_path: Path) -> None:
    folder = tmp_path / "c"
    folder.mkdir()
    (folder / "a.md").write_text("# T\n\n## 什么是池化？ {#pool}\n\n池化降低分辨率。\n", encoding="utf-8")
    (folder / "b.md").write_text("# T\n\n## 什么是卷积？ {#pool}\n\n卷积提取局部特征。\n", encoding="utf-8")
    with pytest.raises(ParseError) as info:
        build(folder, tmp_path / "out")
    assert str(info.value) == (
        "a.md:3: id {#pool} is also on b.md:3; give each question an id of its own "
        "(which note kept the id would depend on file order)"
    )
    # The same question twice under one id is one note, and fine.
    (folder / "b.md").write_text("# T\n\n## 什么是池化？ {#pool}\n\n池化降低分辨率。\n", encoding="utf-8")
    assert len(build(folder, tmp_path / "out").notes) == 1


def test_a_lock_mod_far_in_the_future_is_refused_with_its_line(tmp_path: Path) -> None:
    folder = tmp_path / "c"
    folder.mkdir()
    (folder / "a.md").write_text("# T\n\n## Q\n\n答案。\n", encoding="utf-8")
    build(folder, tmp_path / "out")
    path = folder / LOCK_FILE
    text = path.read_text(encoding="utf-8")
    mod = json.loads(text)["notes"][0]["mod"]
    path.write_text(text.replace(f'"mod": {mod}, "title"', f'"mod": {2**53}, "title"'), encoding="utf-8")
    with pytest.raises(LockError, match=r"flashmark.lock:6: 'mod' lies in the future \(year far beyond 9999\)"):
        build(folder, tmp_path / "out")
    soon = mod + 24 * 3600  # a clock a day ahead is fine, and builds keep going after it
    path.write_text(text.replace(f'"mod": {mod}, "title"', f'"mod": {soon}, "title"'), encoding="utf-8")
    (folder / "a.md").write_text("# T\n\n## Q\n\n新答案。\n", encoding="utf-8")
    for _ in range(3):
        assert build(folder, tmp_path / "out").notes[0].mod > soon


def test_a_symlink_in_place_of_the_build_guard_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "c"
    folder.mkdir()
    (folder / "a.md").write_text("# T\n\n## Q\n\n答案。\n", encoding="utf-8")
    target = tmp_path / "elsewhere"
    (folder / ".flashmark.lock.lck").symlink_to(target)
    with pytest.raises(LockError, match="lck: is a symbolic link; remove it"):
        build(folder, tmp_path / "out")
    assert not target.exists()


def test_two_decks_with_the_same_titles_keep_both_notes_in_one_collection(tmp_path: Path) -> None:
    """GUIDs are specific to each deck: a JavaScript deck's 'What is a closure?' never overwrites Python's."""
    collection = tmp_path / "collection.anki2"
    for name, answer in (
        ("python", "A function with the variables it closed over."),
        ("javascript", "函数和它捕获的词法环境。"),
    ):
        folder = tmp_path / name
        folder.mkdir()
        (folder / "a.md").write_text(f"# Basics\n\n## What is a closure?\n\n{answer}\n", encoding="utf-8")
        view = import_apkg(build(folder, tmp_path / f"out-{name}").output, collection)
    assert view.imported == {"new": 1, "updated": 0, "duplicate": 0, "conflicting": 0}
    answers = sorted(n.fields["Answer"] for n in view.notes.values())
    assert answers == ["<p>A function with the variables it closed over.</p>\n", "<p>函数和它捕获的词法环境。</p>\n"]
