"""flashmark.toml and [tool.flashmark]: every setting works, every mistake names the key, file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from ankitools import import_apkg
from flashmark.build import build, load_corpus
from flashmark.config import ANSWER_LABELS, SKIP_HEADINGS, Config, config_path, load_config
from flashmark.errors import ConfigError

NOTE = "# 什么是反向传播？\n\n用链式法则从输出层向输入层逐层计算梯度。\n"


def content(tmp_path: Path, toml: str | None = None, files: dict[str, str] | None = None) -> Path:
    folder = tmp_path / "notes"
    folder.mkdir(exist_ok=True)
    for name, text in (files or {"a.md": NOTE}).items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text, encoding="utf-8")
    if toml is not None:
        (folder / "flashmark.toml").write_text(toml, encoding="utf-8")
    return folder


def error_of(folder: Path) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_config(folder)
    return info.value


def test_defaults_without_any_file(tmp_path: Path) -> None:
    folder = content(tmp_path)
    assert load_config(folder) == Config()
    assert config_path(folder) is None


def test_every_setting_is_read(tmp_path: Path) -> None:
    folder = content(
        tmp_path,
        'deck = " 面试 "\nallow_html = true\nexclude = ["drafts/*", "*.tmp.md"]\nskip_headings = ["延伸阅读"]\n'
        "reverse = true\n"
        '[labels]\nprompt = ["Frage"]\nanswer = ["Antwort"]\nextra = ["Beispiel"]\n'
        'question_line = ["F"]\nanswer_line = ["R"]\n'
        "[formats]\ndetails = false\nlabel_lines = false\nlist_questions = true\ncloze = false\n",
    )
    cfg = load_config(folder)
    assert cfg.reverse is True and (cfg.details, cfg.label_lines, cfg.list_questions, cfg.cloze) == (
        False,
        False,
        True,
        False,
    )
    assert cfg.question_line_labels[-1] == "F" and cfg.answer_line_labels[-1] == "R"
    assert cfg.deck == "面试"
    assert cfg.allow_html is True
    assert cfg.exclude == ("drafts/*", "*.tmp.md")
    assert cfg.skip_headings == SKIP_HEADINGS + ("延伸阅读",)
    assert cfg.answer_labels == ANSWER_LABELS + ("Antwort",)
    assert cfg.prompt_labels[-1] == "Frage" and cfg.extra_labels[-1] == "Beispiel"
    assert cfg.source == str(folder / "flashmark.toml")


def test_settings_change_what_is_built(tmp_path: Path) -> None:
    notes = {
        "a.md": "# 问题一\n\n**Frage:** Was ist das?\n\n**Antwort:** Eine Antwort.\n\n**Beispiel:** Ein Beispiel.\n\n"
        "# 延伸阅读\n\n一些链接，不是问题。\n\n# 问题二\n\n带 <b>HTML</b> 的答案。\n",
        "drafts/b.md": "# 草稿\n\n还没写完的答案。\n",
    }
    folder = content(
        tmp_path,
        'deck = "Mein Deck"\nallow_html = true\nexclude = ["drafts/*"]\nskip_headings = ["延伸阅读"]\n'
        'labels.prompt = ["Frage"]\nlabels.answer = ["Antwort"]\nlabels.extra = ["Beispiel"]\n',
        notes,
    )
    corpus = load_corpus(folder)
    assert [f.rel for f in corpus.files] == ["a.md"]
    one, two = corpus.questions
    assert [q.title for q in corpus.questions] == ["问题一", "问题二"]
    assert "Was ist das?" in one.prompt_html and "Eine Antwort." in one.answer_html
    assert [s.label for s in one.extras] == ["Beispiel"]
    assert "<b>HTML</b>" in two.answer_html

    result = build(folder, tmp_path / "out")
    assert result.deck == "Mein Deck" and result.output.name == "Mein_Deck.apkg"
    anki = import_apkg(result.output, tmp_path / "c.anki2")
    assert {d for n in anki.notes.values() for d in n.decks} == {"Mein Deck::a"}


def test_command_line_overrides_win(tmp_path: Path) -> None:
    folder = content(tmp_path, 'deck = "From file"\nallow_html = true\nexclude = ["x.md"]\n')
    cfg = load_config(folder).override(deck="From CLI", exclude=("y.md",), allow_html=False)
    assert (cfg.deck, cfg.allow_html, cfg.exclude) == ("From CLI", False, ("x.md", "y.md"))
    assert load_config(folder).override() == load_config(folder)
    folder_html = content(tmp_path, "allow_html = false\n", {"a.md": "# Q\n\n<i>x</i>\n"})
    result = build(folder_html, tmp_path / "out", deck="Override", allow_html=True)
    assert result.deck == "Override"
    assert "<i>x</i>" in result.notes[0].fields[2]


def test_pyproject_beside_or_above_the_content_folder(tmp_path: Path) -> None:
    folder = content(tmp_path)
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\n\n[tool.flashmark]\ndeck = "Above"\n', encoding="utf-8"
    )
    assert load_config(folder).deck == "Above"
    assert config_path(folder) == tmp_path / "pyproject.toml"
    (folder / "pyproject.toml").write_text('[tool.flashmark]\ndeck = "Beside"\n', encoding="utf-8")
    assert load_config(folder).deck == "Beside"
    (folder / "flashmark.toml").write_text('deck = "Own file"\n', encoding="utf-8")
    assert load_config(folder).deck == "Own file"


def test_pyproject_without_our_table_is_ignored(tmp_path: Path) -> None:
    folder = content(tmp_path)
    (tmp_path / "pyproject.toml").write_text("[tool.black]\nline-length = 100\n", encoding="utf-8")
    assert load_config(folder) == Config()


def test_pyproject_found_from_a_relative_dot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = content(tmp_path)
    (tmp_path / "pyproject.toml").write_text('[tool.flashmark]\ndeck = "Dot"\n', encoding="utf-8")
    monkeypatch.chdir(folder)
    assert load_config(Path(".")).deck == "Dot"


@pytest.mark.parametrize(
    ("toml", "message", "line"),
    [
        (
            'deck = "x"\ndekc = "y"\n',
            "unknown setting 'dekc' (known: allow_html, deck, exclude, formats, labels, markdown, max_image_mb, reverse, skip_headings); did you mean 'deck'?",
            2,
        ),
        ("deck = 3\n", "'deck' must be a non-empty string", 1),
        ('deck = "  "\n', "'deck' must be a non-empty string", 1),
        ('\nallow_html = "yes"\n', "'allow_html' must be true or false", 2),
        ('exclude = "drafts/*"\n', "'exclude' must be a list of non-empty strings", 1),
        ("skip_headings = [1, 2]\n", "'skip_headings' must be a list of non-empty strings", 1),
        ('labels = ["答案"]\n', "'labels' must be a table", 1),
        (
            '[labels]\nanswers = ["Antwort"]\n',
            "unknown setting 'labels.answers' (known: answer, answer_line, extra, prompt, question_line); did you mean 'labels.answer'?",
            2,
        ),
        ('[labels]\nprompt = ["ok"]\nanswer = "Antwort"\n', "'labels.answer' must be a list of non-empty strings", 3),
        ('labels = { extra = [""] }\n', "'labels.extra' must be a list of non-empty strings", 1),
        ('reverse = "yes"\n', "'reverse' must be true or false", 1),
        ('formats = "all"\n', "'formats' must be a table of switches", 1),
        (
            "[formats]\nlists = true\n",
            "unknown setting 'formats.lists' (known: cloze, details, label_lines, list_questions)",
            2,
        ),
        ("[formats]\ncloze = 1\n", "'formats.cloze' must be true or false", 2),
        ('deck = "x"\n\nexclude = ["a" "b"]\n', "not valid TOML: Unclosed array", 3),
    ],
)
def test_mistakes_name_key_file_and_line(tmp_path: Path, toml: str, message: str, line: int) -> None:
    folder = content(tmp_path, toml)
    err = error_of(folder)
    assert message in err.message
    assert err.path == str(folder / "flashmark.toml")
    assert err.line == line
    assert str(err).startswith(f"{folder / 'flashmark.toml'}:{line}: ")


def test_mistakes_in_pyproject_name_the_line_in_its_table(tmp_path: Path) -> None:
    folder = content(tmp_path)
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(
        '[project]\nname = "x"\nexclude = 1\n\n[tool.flashmark]\ndeck = "d"\nexclude = "x"\n', encoding="utf-8"
    )
    err = error_of(folder)
    assert (err.path, err.line) == (str(pyproject), 7)
    assert "'exclude' must be a list" in err.message
    pyproject.write_text('[tool]\nflashmark = "deck"\n', encoding="utf-8")
    err = error_of(folder)
    assert (err.line, err.message) == (2, "[tool.flashmark] must be a table of settings")


def test_unreadable_settings_file_is_a_config_error(tmp_path: Path) -> None:
    folder = content(tmp_path)
    (folder / "flashmark.toml").write_bytes(b'deck = "\xff\xfe"\n')
    err = error_of(folder)
    assert "not valid UTF-8" in err.message and err.path == str(folder / "flashmark.toml")


def test_config_errors_stop_the_build_before_touching_the_deck(tmp_path: Path) -> None:
    folder = content(tmp_path)
    first = build(folder, tmp_path / "out")
    good = first.output.read_bytes()
    (folder / "flashmark.toml").write_text("colour = 1\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="flashmark.toml:1: unknown setting 'colour'"):
        build(folder, tmp_path / "out")
    assert first.output.read_bytes() == good


def test_a_settings_path_that_is_no_file_is_an_error(tmp_path: Path) -> None:
    folder = tmp_path / "notes"
    (folder / "flashmark.toml").mkdir(parents=True)
    (folder / "a.md").write_text("# Q\n\nA\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="flashmark.toml: is not a settings file"):
        build(folder, tmp_path / "out")
