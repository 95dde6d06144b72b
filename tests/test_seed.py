"""The sample input from ../shared/: 30 questions become 9 merged, tagged notes in real Anki."""

from __future__ import annotations

from pathlib import Path

TOPIC_TAG = "大模型开发与微调::ResNet诞生的背景"


def test_seed_gives_nine_notes_in_anki(seed_dir: Path, build_and_import) -> None:
    result, anki = build_and_import(seed_dir, searches=(f"tag:{TOPIC_TAG}",))
    assert result.questions == 30
    assert len(result.notes) == 9
    assert result.merged == 21
    assert len(anki.notes) == 9
    assert anki.card_count == 9
    assert len(anki.found[f"tag:{TOPIC_TAG}"]) == 9
    assert all(TOPIC_TAG in n.tags for n in anki.notes.values())


def test_seed_depthwise_titles_become_one_note(seed_dir: Path, build_and_import) -> None:
    result, anki = build_and_import(seed_dir)
    note = anki.by_title("什么是深度可分离卷积？")
    assert note.fields["Source"] == "seed.md"
    sources = [rn.note.sources for rn in result.notes if rn.guid == note.guid]
    assert sources == [("seed.md:5", "seed.md:95", "seed.md:185", "seed.md:275")]
    assert "逐点卷积" in note.fields["Answer"]
    assert "应用" in note.fields["Extra"] and "举例" in note.fields["Extra"]
    assert "解释深度可分离卷积的概念" in note.fields["Prompt"]
    assert not [n for n in anki.notes.values() if "深度学习中的深度可分离卷积" in n.fields["Question"]]
