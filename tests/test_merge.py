"""merge stage: repeats become one note, different questions stay apart, nothing is lost."""

from __future__ import annotations

from pathlib import Path

import pytest

from flashmark.config import Config
from flashmark.merge import CLOZE_KEY, OTHER_PROMPTS, merge, near_titles
from flashmark.parse import parse_source
from flashmark.sources import decode
from flashmark.text import normalise
from flashmark.types import MergeResult, Note, Question, Source

FIXTURES = Path(__file__).parent / "fixtures" / "merge"


def questions(*names: str) -> list[Question]:
    out: list[Question] = []
    for name in names:
        text = decode((FIXTURES / name).read_bytes(), name)
        out.extend(parse_source(Source(FIXTURES / name, name, text), Config()).questions)
    return out


def note(result: MergeResult, title: str) -> Note:
    matches = [n for n in result.notes if n.title == title]
    assert len(matches) == 1, [n.title for n in result.notes]
    return matches[0]


RESULT = merge(questions("cnn.md", "nets.md"))


def test_every_question_is_in_exactly_one_note() -> None:
    sources = [s for n in RESULT.notes for s in n.sources]
    assert sorted(sources) == sorted(q.where for q in questions("cnn.md", "nets.md"))
    assert len(sources) == len(set(sources))


def test_near_titles_with_the_same_answer_merge() -> None:
    n = note(RESULT, "什么是深度可分离卷积？")
    assert n.sources == ("cnn.md:3", "nets.md:3")
    assert len(n.answers) == 1
    group = next(g for g in RESULT.groups if g.key == n.key)
    assert group.titles == ("什么是深度可分离卷积？", "什么是深度学习中的深度可分离卷积？")
    assert "similar title" in group.reason


def test_same_title_same_topic_keeps_both_answers() -> None:
    n = note(RESULT, "什么是批归一化？")
    assert n.sources == ("cnn.md:7", "cnn.md:11", "nets.md:7")
    assert len(n.answers) == 2
    assert "小批量的均值和方差" in n.answers[0] and "滑动平均" in n.answers[1]


def test_same_title_other_topic_same_answer_merges() -> None:
    group = next(g for g in RESULT.groups if g.title == "什么是批归一化？")
    assert "another topic" in group.reason
    assert set(note(RESULT, "什么是批归一化？").tags) == {"卷积网络", "网络结构"}


def test_plus_changes_meaning() -> None:
    assert note(RESULT, "DeepLabv3 是什么？").key != note(RESULT, "DeepLabv3+ 是什么？").key


def test_generic_titles_under_different_parents_stay_apart() -> None:
    same = [n for n in RESULT.notes if n.title == "模型结构"]
    assert [n.topic for n in same] == [("网络结构", "LeNet"), ("网络结构", "AlexNet")]
    assert len({n.key for n in same}) == 2
    assert all(n.key.startswith("模型结构@") for n in same)
    conflict = next(c for c in RESULT.conflicts if c.title == "模型结构")
    assert conflict.sources == ("nets.md:17", "nets.md:23")


def test_keys_are_unique_and_free_of_numbering() -> None:
    keys = [n.key for n in RESULT.notes]
    assert len(keys) == len(set(keys))
    assert "什么是批归一化" in keys


def test_near_titles_rules() -> None:
    assert near_titles(normalise("什么是深度可分离卷积？"), normalise("什么是深度学习中的深度可分离卷积？"))
    assert not near_titles(normalise("ResNet-50 的结构"), normalise("ResNet-101 的结构"))
    assert not near_titles(normalise("C 语言的指针"), normalise("C# 语言的指针"))
    assert not near_titles(normalise("什么是 BN"), normalise("什么是 LN"))


def test_seed_merges_to_nine(seed_dir: Path) -> None:
    text = decode((seed_dir / "seed.md").read_bytes(), "seed.md")
    result = merge(parse_source(Source(seed_dir / "seed.md", "seed.md", text), Config()).questions)
    assert len(result.notes) == 9
    assert sum(len(n.sources) for n in result.notes) == 30
    depthwise = note(result, "什么是深度可分离卷积？")
    assert depthwise.sources == ("seed.md:5", "seed.md:95", "seed.md:185", "seed.md:275")


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("What is -1?", "What is 1?"),
        ("1-10", "11-0"),
        ("a.b", "ab"),
        ("第 12 层的作用", "第 21 层的作用"),
        ("ResNet-50 的结构", "ResNet50 的结构"),
    ],
)
def test_titles_that_differ_in_meaning_never_merge(a: str, b: str) -> None:
    text = "".join(f"# 话题\n\n## {t}\n\n这个答案足够长，两个问题的答案完全一样，只有标题不同。\n\n" for t in (a, b))
    parsed = parse_source(Source(Path("t.md"), "t.md", text), Config())
    assert len(merge(parsed.questions).notes) == 2


def _parse(text: str, rel: str = "a.md") -> list[Question]:
    return list(parse_source(Source(Path(rel), rel, decode(text.encode(), rel)), Config()).questions)


OUTPUT = "## 输出是什么？\n\n```py\nprint({code})\n```\n\n**答案**：{answer}\n"


def test_one_title_over_different_prompts_is_different_notes_keyed_by_prompt() -> None:
    qs = _parse("# 题\n\n" + OUTPUT.format(code="1 + 1", answer="2") + OUTPUT.format(code='"1" + "1"', answer="11"))
    result = merge(qs)
    assert len(result.notes) == 2 and result.groups == ()
    assert sorted(n.key[: n.key.index("?")] for n in result.notes) == ["输出是什么@题"] * 2
    assert len({n.key for n in result.notes}) == 2
    assert [c.reason for c in result.conflicts] == [OTHER_PROMPTS]


def test_the_same_prompt_twice_merges_and_keeps_both_answers() -> None:
    qs = _parse("# 题\n\n" + OUTPUT.format(code="1 + 1", answer="2") + OUTPUT.format(code="1+1", answer="二"))
    (only,) = merge(qs).notes
    assert only.key == "输出是什么" and len(only.answers) == 2 and len(only.sources) == 2


def test_same_answer_across_topics_needs_the_same_prompt_too() -> None:
    a = _parse("# 甲\n\n" + OUTPUT.format(code="1 + 1", answer="结果是二，因为整数相加。"))
    b = _parse("# 乙\n\n" + OUTPUT.format(code="2 * 1", answer="结果是二，因为整数相加。"), "b.md")
    assert len(merge(a + b).notes) == 2
    c = _parse("# 丙\n\n" + OUTPUT.format(code="1 + 1", answer="结果是二，因为整数相加。"), "c.md")
    assert len(merge(a + c).notes) == 1


def test_a_cloze_and_a_q_and_a_never_merge_and_never_share_a_key() -> None:
    qs = _parse("# T\n\n## 光速\n\n约 3e8 m/s。\n\n") + _parse("# T\n\n## 光速\n\n约 {{c1::3e8}} m/s。\n", "b.md")
    result = merge(qs)
    assert sorted(n.key for n in result.notes) == sorted([CLOZE_KEY + "光速", "光速"])
    assert {n.kind for n in result.notes} == {"qa", "cloze"}
