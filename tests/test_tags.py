"""Tag matching agrees with Anki's `tag:` search; filtered builds hold exactly the matching notes in Anki."""

from __future__ import annotations

from pathlib import Path

import pytest
from anki.collection import Collection

from ankitools import import_apkg
from flashmark.build import build, load_corpus
from flashmark.errors import FlashmarkError
from flashmark.tags import FilterError, TagFilter, clean_pattern, select_notes, tag_matches, tag_tree

TAGS = (
    "abc",
    "a_c",
    "ABC::x",
    "abcd",
    "深度学习::ResNet",
    "深度学习::ResNet诞生",
    "x::abc",
    "Ab",
    "Machine_Learning",
    "大模型开发与微调::ResNet诞生的背景",
)
PATTERNS = (
    "abc",
    "ABC",
    "a_c",
    r"a\_c",
    "ab*",
    "a*c",
    "*::abc",
    "abc::*",
    "ab",
    "深度学习",
    "深度学习::resnet",
    "machine_learning",
    "大模型开发与微调",
    "ResNet*",
    "*ResNet*",
)


def test_tag_matching_agrees_with_anki_search(tmp_path: Path) -> None:
    col = Collection(str(tmp_path / "c.anki2"))
    try:
        basic = col.models.by_name("Basic")
        ids: dict[int, str] = {}
        for tag in TAGS:
            note = col.new_note(basic)
            note["Front"] = tag
            note.tags = [tag]
            col.add_note(note, 1)
            ids[note.id] = tag
        for pattern in PATTERNS:
            anki = sorted(ids[n] for n in col.find_notes(f"tag:{pattern}"))
            ours = sorted(t for t in TAGS if tag_matches(t, pattern))
            assert ours == anki, pattern
    finally:
        col.close()


def test_a_tag_matches_itself_and_children_only() -> None:
    assert tag_matches("深度学习::ResNet", "深度学习")
    assert tag_matches("深度学习", "深度学习")
    assert not tag_matches("深度学习x", "深度学习")
    assert not tag_matches("x::深度学习", "深度学习")
    assert tag_matches("python::async", "Python")


def test_clean_pattern_accepts_anki_syntax_and_rejects_empty() -> None:
    assert clean_pattern("tag:深度学习::ResNet") == "深度学习::ResNet"
    assert clean_pattern("Machine Learning") == "Machine_Learning"
    for bad in ("", "  ", "::"):
        with pytest.raises(FilterError):
            clean_pattern(bad)


def test_select_counts_left_out_and_fails_when_nothing_matches(fixture_dir) -> None:
    notes = load_corpus(fixture_dir("workflow")).merge.notes
    sel = select_notes(notes, TagFilter.of(["深度学习"], ["论文"]))
    assert {n.title for n in sel.notes} == {"什么是卷积层？", "池化层有什么作用？", "模型结构"}
    assert len(sel.notes) == 4 and sel.left_out == len(notes) - 4
    assert select_notes(notes, TagFilter()).left_out == 0
    with pytest.raises(FilterError, match="no note matches --tag nosuchtag; top-level tags here: .*深度学习"):
        select_notes(notes, TagFilter.of(["nosuchtag"]))
    assert select_notes(notes, TagFilter.of(["nosuchtag"]), require_some=False).notes == ()


def test_tag_tree_counts_notes_under_each_parent_once(fixture_dir) -> None:
    tree = {n.name: n for n in tag_tree(load_corpus(fixture_dir("workflow")).merge.notes)}
    assert tree["深度学习"].notes == 6
    assert {c.name: c.notes for c in tree["深度学习"].children} == {"AlexNet": 1, "CNN": 2, "LeNet": 1, "ResNet": 2}
    assert tree["Python"].notes == 4 and [c.tag for c in tree["Python"].children] == ["Python::Async", "Python::Basics"]
    assert tree["论文"].notes == 2 and tree["论文"].children == ()


def test_tag_tree_merges_case_variants_like_anki(fixture_dir, tmp_path: Path) -> None:
    content = tmp_path / "c"
    content.mkdir()
    (content / "a.md").write_text("---\ntags: [Draft, x]\n---\n# T\n\nanswer one\n", encoding="utf-8")
    (content / "b.md").write_text("---\ntags: [draft::later]\n---\n# U\n\nanswer two\n", encoding="utf-8")
    tree = {n.name: n for n in tag_tree(load_corpus(content).merge.notes)}
    assert tree["Draft"].notes == 2
    assert [(c.tag, c.notes) for c in tree["Draft"].children] == [("Draft::later", 1)]


@pytest.mark.parametrize(
    ("tags", "exclude", "search"),
    [
        (["python"], [], "tag:python"),
        (["深度学习"], ["论文"], "tag:深度学习 -tag:论文"),
        (["Machine_Learning", "深度学习::ResNet"], [], "(tag:Machine_Learning OR tag:深度学习::ResNet)"),
        ([], ["Python::Async"], "-tag:Python::Async"),
    ],
)
def test_filtered_build_in_anki_holds_exactly_what_anki_search_finds(
    fixture_dir, tmp_path: Path, tags: list[str], exclude: list[str], search: str
) -> None:
    content = fixture_dir("workflow")
    full = build(content, tmp_path / "full")
    everything = import_apkg(full.output, tmp_path / "full.anki2", (search,))
    expected = everything.found_guids(search)
    assert 0 < len(expected) < len(full.notes)

    part = build(content, tmp_path / "part", tags=tags, exclude_tags=exclude)
    assert part.left_out == len(full.notes) - len(expected)
    assert part.output.name == full.output.name
    anki = import_apkg(part.output, tmp_path / "part.anki2")
    assert set(anki.notes) == expected
    assert all(anki.notes[g].fields == everything.notes[g].fields for g in expected)
    assert all(anki.notes[g].decks == everything.notes[g].decks for g in expected)


def test_filtered_build_that_matches_nothing_keeps_the_last_deck(fixture_dir, tmp_path: Path) -> None:
    content = fixture_dir("workflow")
    first = build(content, tmp_path / "out")
    before = first.output.read_bytes()
    with pytest.raises(FlashmarkError, match="no note matches --tag 不存在"):
        build(content, tmp_path / "out", tags=["不存在"])
    assert first.output.read_bytes() == before
