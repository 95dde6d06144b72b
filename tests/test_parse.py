"""parse stage: the heading tree, titles, labelled sections, front matter, skipped headings."""

from __future__ import annotations

from pathlib import Path

import pytest

from flashmark.config import Config
from flashmark.errors import ParseError
from flashmark.parse import parse_source
from flashmark.sources import decode
from flashmark.types import ParsedFile, Question, Source

FIXTURES = Path(__file__).parent / "fixtures" / "parse"


def parse_text(text: str, rel: str = "notes.md", config: Config | None = None) -> ParsedFile:
    return parse_source(Source(Path(rel), rel, decode(text.encode("utf-8"), rel)), config or Config())


def parse_fixture(name: str) -> ParsedFile:
    return parse_text((FIXTURES / name).read_text(encoding="utf-8"), rel=name)


def by_title(parsed: ParsedFile, title: str) -> Question:
    matches = [q for q in parsed.questions if q.title == title]
    assert len(matches) == 1, [q.title for q in parsed.questions]
    return matches[0]


class TestLabels:
    parsed = parse_fixture("labels.md")

    def test_bold_label_with_colon_inside(self) -> None:
        q = by_title(self.parsed, "全角冒号在粗体内")
        assert q.prompt_html == "<p>题干文本。</p>\n"
        assert q.answer_html == "<p>答案文本。</p>\n"
        assert [(s.label, s.html) for s in q.extras] == [("应用", "<p>应用文本。</p>\n")]

    def test_bold_label_with_colon_outside_and_half_width(self) -> None:
        q = by_title(self.parsed, "冒号在粗体外")
        assert q.prompt_html == "<p>题干二。</p>\n"
        assert q.answer_html == "<p>答案二。</p>\n"

    def test_english_labels(self) -> None:
        q = by_title(self.parsed, "English labels")
        assert "What is a residual block?" in q.prompt_html
        assert "adds its input" in q.answer_html
        assert [s.label for s in q.extras] == ["Explanation"]

    def test_plain_labels_run_to_the_next_label(self) -> None:
        q = by_title(self.parsed, "不加粗的标签")
        assert q.prompt_html == "<p>题干三。</p>\n"
        assert q.answer_html == "<p>答案三，第一段。</p>\n<p>答案三，第二段。</p>\n"
        assert [(s.label, s.html) for s in q.extras] == [("举例", "<p>例子三。</p>\n")]

    def test_text_before_the_answer_label_is_the_prompt(self) -> None:
        q = by_title(self.parsed, "标签之前的文字")
        assert q.prompt_html == "<p>这段文字在第一个标签之前。</p>\n"
        assert q.answer_html == "<p>标签后的答案。</p>\n"

    def test_body_without_role_labels_is_all_answer(self) -> None:
        q = by_title(self.parsed, "没有标签的正文")
        assert "<strong>Perceptron</strong>" in q.answer_html
        assert "<strong>Reference 1: a paper</strong>" in q.answer_html
        assert q.prompt_html == "" and q.extras == ()

    def test_label_alone_in_its_paragraph(self) -> None:
        q = by_title(self.parsed, "标签单独成段")
        assert q.answer_html == "<p>下一段才是答案。</p>\n"

    def test_prompt_without_answer_is_skipped_with_reason(self) -> None:
        assert [(s.title, s.line) for s in self.parsed.skipped] == [("只有题目没有答案", 53)]
        assert "no answer" in self.parsed.skipped[0].reason

    def test_extra_labels_from_config(self) -> None:
        text = "## 题\n\n**答案：** 甲。\n\n备注：乙。\n"
        plain = parse_text(text)
        assert plain.questions[0].extras == ()
        configured = parse_text(text, config=Config(extra_labels=("备注",)))
        assert [s.label for s in configured.questions[0].extras] == ["备注"]


class TestTitles:
    def test_numbering_is_removed(self) -> None:
        parsed = parse_fixture("numbering.md")
        assert [q.title for q in parsed.questions] == [
            "标题一",
            "标题二",
            "标题三",
            "Title four",
            "Title five",
            "标题六",
            "标题七",
            "标题八",
            "3D 卷积是什么",
        ]

    def test_title_html_keeps_inline_markup(self) -> None:
        q = parse_text("## 12. 什么是 `torch.nn`？\n\n答。\n").questions[0]
        assert q.title == "什么是 torch.nn？"
        assert q.title_html == "什么是 <code>torch.nn</code>？"

    def test_explicit_id_is_split_off(self) -> None:
        q = parse_text("## 什么是残差连接？ {#residual}\n\n答。\n").questions[0]
        assert q.title == "什么是残差连接？"
        assert q.anchor == "residual"
        assert "{#" not in q.title_html

    def test_title_of_only_punctuation_is_skipped(self) -> None:
        parsed = parse_text("## ？？？\n\n答。\n")
        assert parsed.questions == ()
        assert parsed.skipped[0].line == 1 and "punctuation" in parsed.skipped[0].reason


class TestTree:
    parsed = parse_fixture("tree.md")

    def test_topics_and_questions(self) -> None:
        titles = [(q.title, q.topic) for q in self.parsed.questions]
        assert titles == [
            ("模型结构", ("深度学习", "CNN：经典网络", "LeNet")),
            ("模型结构", ("深度学习", "CNN：经典网络", "AlexNet")),
            ("什么是卷积？", ("深度学习",)),
            ("卷积的步长是什么？", ("深度学习", "什么是卷积？")),
            ("代码里的井号", ("深度学习",)),
            ("最后一个问题", ("深度学习",)),
        ]

    def test_topic_tag_splits_colons(self) -> None:
        assert self.parsed.questions[0].tags == ("深度学习::CNN::经典网络::LeNet",)

    def test_heading_without_body_or_children_is_skipped(self) -> None:
        assert [(s.title, s.line) for s in self.parsed.skipped] == [("没有答案的问题", 27)]

    def test_fenced_code_with_hash_lines_stays_in_answer(self) -> None:
        q = by_title(self.parsed, "代码里的井号")
        assert "# 这不是标题" in q.answer_html and "## 这也不是" in q.answer_html
        assert "<hr" not in q.answer_html

    def test_reference_sections_are_skipped_with_their_subheadings(self) -> None:
        titles = {q.title for q in self.parsed.questions} | {s.title for s in self.parsed.skipped}
        assert not titles & {"References", "引用的子标题"}

    def test_text_outside_questions_is_a_notice(self) -> None:
        assert [(n.kind, n.line) for n in self.parsed.notices] == [("outside", 1)]

    def test_source_lines(self) -> None:
        assert [q.line for q in self.parsed.questions] == [9, 15, 19, 23, 29, 47]


class TestFrontMatter:
    def test_deck_topic_tags(self) -> None:
        q = parse_fixture("frontmatter.md").questions[0]
        assert q.deck == "自定义牌组"
        assert q.topic == ("前置主题",)
        assert q.tags == ("前置主题", "ResNet", "深度_学习", "CNN::Basics")
        assert q.line == 7

    def test_without_front_matter_topic_is_file_name(self) -> None:
        q = parse_fixture("no_frontmatter_topic.md").questions[0]
        assert q.topic == ("no_frontmatter_topic",)
        assert q.tags == ("no_frontmatter_topic",)
        assert q.deck == "no_frontmatter_topic"

    def test_nested_file_deck(self) -> None:
        q = parse_text("## 题\n\n答。\n", rel="cnn/resnet.md").questions[0]
        assert q.deck == "cnn::resnet"

    def test_broken_front_matter_names_file_and_line(self) -> None:
        with pytest.raises(ParseError) as info:
            parse_text("---\ntopic: ok\ntags: [a, b\n---\n\n## 题\n\n答。\n", rel="bad.md")
        assert str(info.value).startswith("bad.md:") and "front matter" in str(info.value)

    def test_front_matter_tags_must_be_words(self) -> None:
        with pytest.raises(ParseError, match="tags"):
            parse_text("---\ntags: {a: 1}\n---\n\n## 题\n\n答。\n")


class TestEncoding:
    def test_crlf_and_bom(self) -> None:
        data = "\ufeff## 题目一\r\n\r\n**答案：** 第一行\r\n第二行\r\n".encode("utf-8")
        parsed = parse_source(Source(Path("x.md"), "x.md", decode(data, "x.md")), Config())
        q = parsed.questions[0]
        assert q.title == "题目一"
        assert q.answer_html == "<p>第一行\n第二行</p>\n"

    def test_raw_html_is_escaped(self) -> None:
        q = parse_text("## 题\n\n<script>alert(1)</script>\n\n答 <b>粗</b>\n").questions[0]
        assert "<script>" not in q.answer_html and "&lt;script&gt;" in q.answer_html
        assert "<b>" not in q.answer_html


def test_seed_parses_thirty_questions(seed_dir: Path) -> None:
    text = (seed_dir / "seed.md").read_text(encoding="utf-8")
    parsed = parse_text(text, rel="seed.md")
    assert len(parsed.questions) == 30
    assert parsed.skipped == () and parsed.notices == ()
    assert all(q.topic == ("大模型开发与微调：ResNet诞生的背景",) for q in parsed.questions)


class TestDetails:
    """`<details><summary>Answer</summary> … </details>`: the summary a label, the body the answer."""

    js = "## 输出是什么？\n\n```js\nf()\n```\n\n- A: 1\n- B: 2\n<details><summary><b>答案</b></summary>\n<p>\n\n#### 答案：B\n\n解释。\n\n</p>\n</details>\n"

    @pytest.mark.parametrize("allow_html", [False, True])
    def test_the_body_is_the_answer_and_what_stands_before_it_the_prompt(self, allow_html: bool) -> None:
        (q,) = parse_text(self.js, config=Config(allow_html=allow_html)).questions
        assert "<pre" in q.prompt_html and "<li>A: 1</li>" in q.prompt_html and "答案" not in q.prompt_html
        assert q.answer_html == "<h4>答案：B</h4>\n<p>解释。</p>\n"  # the <p> lines are wrappers, not text

    def test_summary_on_its_own_line_and_the_extra_role_of_a_known_label(self) -> None:
        text = "## 题\n\n**答案**：甲。\n\n<details>\n<summary>解析</summary>\n\n为什么是甲。\n\n</details>\n"
        (q,) = parse_text(text).questions
        assert q.answer_html == "<p>甲。</p>\n" and [(s.label, s.html) for s in q.extras] == [
            ("解析", "<p>为什么是甲。</p>\n")
        ]

    def test_an_answer_with_only_a_hint_folded_keeps_the_fold_on_the_card(self) -> None:
        (q,) = parse_text("## 题\n\n答。\n\n<details><summary>Hint</summary>\n\n提示。\n\n</details>\n").questions
        assert q.answer_html == "<p>答。</p>\n<details><summary>Hint</summary>\n<p>提示。</p>\n</details>\n"

    def test_nested_details_and_headings_inside_are_part_of_the_answer(self) -> None:
        text = "## 题\n\n<details><summary>答案</summary>\n\n# 不是题\n\n<details><summary>更多</summary>\n\n深处。\n\n</details>\n\n</details>\n\n## 下一题\n\n答。\n"
        parsed = parse_text(text)
        assert [q.title for q in parsed.questions] == ["题", "下一题"]
        assert "<h1>不是题</h1>" in parsed.questions[0].answer_html and "深处" in parsed.questions[0].answer_html

    def test_a_fold_that_is_no_answer_stays_a_fold_in_the_answer(self) -> None:
        for summary in ("<summary>完整代码</summary>", "<summary>Click to expand</summary>", ""):
            text = (
                f"## 快速排序的思想？\n\n选一个基准，递归。\n\n<details>{summary}\n\n```py\nqs()\n```\n\n</details>\n"
            )
            (q,) = parse_text(text).questions
            assert q.prompt_html == "" and q.answer_html.startswith("<p>选一个基准，递归。</p>\n<details>"), summary
        for summary in ("点击查看答案", "Show answer", "Solution"):
            (q,) = parse_text(
                f"## 题\n\n题干。\n\n<details><summary>{summary}</summary>\n\n答。\n\n</details>\n"
            ).questions
            assert (q.prompt_html, q.answer_html) == ("<p>题干。</p>\n", "<p>答。</p>\n"), summary

    def test_an_unclosed_details_is_left_as_text(self) -> None:
        (q,) = parse_text("## 题\n\n<details><summary>答案</summary>\n\n答。\n").questions
        assert "&lt;details&gt;" in q.answer_html and "答。" in q.answer_html

    def test_details_can_be_switched_off(self) -> None:
        first, second = parse_text(self.js, config=Config(details=False)).questions
        assert first.prompt_html == "" and "&lt;details&gt;" in first.answer_html
        assert second.title == "答案：B"  # as before: the heading inside is a question of its own


class TestLabelLines:
    def test_pairs_under_a_heading_are_questions_of_that_topic(self) -> None:
        parsed = parse_text(
            "# 操作系统\n\nQ: 什么是进程？\nA: 资源分配的单位。\n\n**问：** 什么是线程？\n\n**答：** 调度的单位。\n"
        )
        assert [(q.title, q.topic, q.line) for q in parsed.questions] == [
            ("什么是进程？", ("操作系统",), 3),
            ("什么是线程？", ("操作系统",), 6),
        ]
        assert parsed.questions[0].answer_html == "<p>资源分配的单位。</p>\n"

    def test_bold_lines_numbered_labels_and_a_file_without_headings(self) -> None:
        text = "**Q: What does DNS do?**\n**A:** Names to addresses.\n\nQ1: Which port?\nA1: 443.\n\n问题2：为什么？\n答案2：因为。\n"
        parsed = parse_text(text, rel="net.md")
        assert [q.title for q in parsed.questions] == ["What does DNS do?", "Which port?", "为什么？"]
        assert all(q.topic == ("net",) for q in parsed.questions) and parsed.notices == ()

    def test_a_prompt_between_q_and_a_and_sections_after_the_answer(self) -> None:
        text = "# T\n\nQ: 输出什么？\n\n```py\nprint(1)\n```\n\nA: 1\n\n解析：打印。\n\nQ: 下一题？\nA: 是。\n"
        first, second = parse_text(text).questions
        assert "print" in first.prompt_html and first.answer_html == "<p>1</p>\n"
        assert [s.label for s in first.extras] == ["解析"] and second.title == "下一题？"

    def test_one_pair_under_a_heading_keeps_the_heading_as_the_question(self) -> None:
        (q,) = parse_text("## 单独\n\n问题：题干。\n\n答案：答。\n").questions
        assert (q.title, q.prompt_html, q.answer_html) == ("单独", "<p>题干。</p>\n", "<p>答。</p>\n")

    def test_an_answer_that_quotes_q_and_a_lines_stays_one_answer(self) -> None:
        """Pairs make questions only when they open the heading's text: after an explanation they are quotes."""
        text = (
            "# 网络\n\n## 如何理解幂等性？\n\n幂等指执行多次与执行一次效果相同。\n\nQ: GET 是幂等的吗？\nA: 是。\n\n"
            "## STAR 法则怎么用？\n\n例如：\n\nQ: 介绍一个难题。\nA: 情境是……\n\nQ: 学到了什么？\nA: 学到了……\n"
        )
        parsed = parse_text(text)
        assert [q.title for q in parsed.questions] == ["如何理解幂等性？", "STAR 法则怎么用？"]
        first, second = parsed.questions
        assert first.prompt_html == "" and "幂等指" in first.answer_html and "Q: GET" in first.answer_html
        assert second.prompt_html == "" and "Q: 学到了什么？" in second.answer_html and parsed.notices == ()

    def test_a_question_label_pairs_only_with_the_answer_label_of_its_kind(self) -> None:
        text = '## Which option is correct?\n\nQuestion: What does `typeof null` return?\n\nA: "null"\nB: "object"\n\n**Answer:** B\n'
        (q,) = parse_text(text).questions
        assert "typeof" in q.prompt_html and '<p>A: "null"\nB: "object"</p>' in q.prompt_html  # the options stay
        assert q.answer_html == "<p>B</p>\n"

    def test_numbered_labels_of_a_single_pair(self) -> None:
        (q,) = parse_text("## HTTPS port\n\nQ1: What port does HTTPS use?\nA1: 443.\n").questions
        assert (q.prompt_html, q.answer_html) == ("<p>What port does HTTPS use?</p>\n", "<p>443.</p>\n")

    def test_an_a_paragraph_alone_is_ordinary_text(self) -> None:
        (q,) = parse_text("## 选择题\n\nA: 选项一\n\nB: 选项二\n").questions
        assert "A: 选项一" in q.answer_html and q.prompt_html == ""

    def test_label_lines_can_be_switched_off_and_extended(self) -> None:
        text = "# T\n\nQ: 一？\nA: 一。\n\nQ: 二？\nA: 二。\n"
        assert [q.title for q in parse_text(text, config=Config(label_lines=False)).questions] == ["T"]
        custom = Config(question_line_labels=("Frage",), answer_line_labels=("Antwort",))
        parsed = parse_text("# T\n\nFrage: Eins?\nAntwort: Ja.\n\nFrage: Zwei?\nAntwort: Nein.\n", config=custom)
        assert [q.title for q in parsed.questions] == ["Eins?", "Zwei?"]


class TestListQuestions:
    config = Config(list_questions=True)

    def test_items_with_nested_answers(self) -> None:
        text = "# 数据结构\n\n1. 栈和队列？\n   栈后进先出。\n2. 哈希表？\n\n   - 映射到桶。\n3. 没有答案\n"
        parsed = parse_text(text, config=self.config)
        assert [(q.title, q.topic, q.line) for q in parsed.questions] == [
            ("栈和队列？", ("数据结构",), 3),
            ("哈希表？", ("数据结构",), 5),
        ]
        assert parsed.questions[0].answer_html == "<p>栈后进先出。</p>\n"
        assert [(s.title, s.line) for s in parsed.skipped] == [("没有答案", 8)]

    def test_front_matter_switches_them_on_for_one_file(self) -> None:
        parsed = parse_text("---\nlist_questions: true\n---\n\n# T\n\n- 一？\n  一。\n")
        assert [q.title for q in parsed.questions] == ["一？"]
        with pytest.raises(ParseError, match="list_questions"):
            parse_text("---\nlist_questions: maybe\n---\n\n# T\n\n- 一？\n  一。\n")


class TestAttributes:
    def test_id_tags_and_reverse_on_a_heading(self) -> None:
        (q,) = parse_text('# P\n\n## 什么是 GIL？ {#gil tags="高频 字节跳动" reverse}\n\n锁。\n').questions
        assert (q.title, q.anchor, q.reverse) == ("什么是 GIL？", "gil", True)
        assert q.tags == ("P", "高频", "字节跳动")

    def test_file_reverse_and_a_heading_that_turns_it_off(self) -> None:
        parsed = parse_text("---\nreverse: true\n---\n\n## 一 \n\n答。\n\n## 二 {reverse=false}\n\n答。\n")
        assert [(q.title, q.reverse) for q in parsed.questions] == [("一", True), ("二", False)]
        assert [q.reverse for q in parse_text("## 一\n\n答。\n", config=Config(reverse=True)).questions] == [True]

    def test_unknown_attributes_are_warned_and_braces_that_are_no_attributes_stay(self) -> None:
        parsed = parse_text("## 一 {#one colour=red}\n\n答。\n\n## 集合 {a, b}\n\n答。\n")
        assert [q.title for q in parsed.questions] == ["一", "集合 {a, b}"]
        assert [(n.kind, n.line) for n in parsed.notices] == [("attribute", 1)]
        assert "colour=red" in parsed.notices[0].message

    def test_attributes_on_label_lines(self) -> None:
        parsed = parse_text("# T\n\nQ: 一？ {tags=x}\nA: 一。\n\nQ: 二？\nA: 二。\n")
        assert parsed.questions[0].title == "一？" and "x" in parsed.questions[0].tags


class TestReviewCases:
    """Notes that earlier versions read right must read the same with the new formats on."""

    def test_a_list_of_plain_items_is_an_ordinary_answer_even_with_list_questions(self) -> None:
        text = "## Python 的可变类型有哪些？\n\n常见的有：\n\n- list\n- dict\n- set\n"
        parsed = parse_text(text, config=Config(list_questions=True))
        assert [q.title for q in parsed.questions] == ["Python 的可变类型有哪些？"]
        assert "<li>dict</li>" in parsed.questions[0].answer_html and parsed.skipped == ()

    def test_a_fold_holding_the_next_questions_is_reported(self) -> None:
        text = "## Q1\n<details><summary>Answer</summary>\n\nanswer 1\n\n## Q2\n\nanswer 2\n\n## Q3\n\nanswer 3\n\n</details>\n"
        parsed = parse_text(text)
        assert [q.title for q in parsed.questions] == ["Q1"]
        (notice,) = [n for n in parsed.notices if n.kind == "swallowed"]
        assert notice.line == 2 and "'Q2', 'Q3'" in notice.message

    def test_a_heading_inside_a_fold_of_another_level_is_part_of_the_answer_quietly(self) -> None:
        parsed = parse_text(
            "###### 1. 题？\n\n代码\n\n<details><summary>答案</summary>\n\n#### 答案：B\n\n</details>\n"
        )
        assert parsed.notices == () and "<h4>答案：B</h4>" in parsed.questions[0].answer_html

    def test_cloze_paragraphs_alone_are_titled_by_their_answers_without_a_warning(self) -> None:
        parsed = parse_text("TCP 需要 {{c1::三::次数}} 次握手。\n\n# T\n\n## Q\n\nA\n")
        cloze_note = parsed.questions[0]
        assert cloze_note.title == "TCP 需要 三 次握手。" and parsed.notices == ()

    def test_an_unclosed_cloze_is_warned_at_its_own_line(self) -> None:
        parsed = parse_text("## 填空\n\n第一行 {{c1::好}}\n第二行 {{c2::没闭合\n")
        assert [(n.line, n.kind) for n in parsed.notices] == [(4, "cloze")]

    def test_clozes_in_a_q_and_a_notes_extra_section_are_warned(self) -> None:
        parsed = parse_text("## 题\n\n**答案**：甲\n\n**解析**：{{c1::乙}}\n")
        assert parsed.questions[0].kind == "qa"
        assert [n.kind for n in parsed.notices] == ["cloze"] and "'解析' section" in parsed.notices[0].message

    def test_attributes_that_cannot_be_read_or_sit_on_a_topic_are_warned(self) -> None:
        parsed = parse_text("# 主题 {tags=x}\n\n## 一 {tags=高频 字节跳动}\n\n答。\n\n## 二 {reverse=nope}\n\n答。\n")
        assert [q.title for q in parsed.questions] == ["一", "二"]
        messages = [(n.line, n.message[:32]) for n in parsed.notices]
        assert messages == [
            (1, "attributes on a heading that is "),
            (3, "cannot read the attributes {tags"),
            (7, "cannot read the attributes {reve"),
        ]
