"""The preview page: template filling, offline math, the CLI, and the page itself in headless Chromium."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from playwright.sync_api import Browser, Page

from browser import headless_chromium
from flashmark.cli import main
from flashmark.diagnostics import shown_path
from flashmark.preview import math_preview, render_template, write_preview

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


# --- template filling and math, without a browser -------------------------------------------------


def test_template_fills_fields_sections_and_front_side() -> None:
    template = "{{FrontSide}}|{{#Extra}}<i>{{Extra}}</i>{{/Extra}}{{^Extra}}none{{/Extra}}|{{Answer}}"
    assert render_template(template, {"Extra": "x", "Answer": "a"}, front_side="F") == "F|<i>x</i>|a"
    assert render_template(template, {"Extra": " <br> ", "Answer": "a"}, front_side="F") == "F|none|a"
    with pytest.raises(KeyError, match="Missing"):
        render_template("{{Missing}}", {})


def test_math_preview_draws_mathml_and_falls_back_to_source() -> None:
    assert math_preview(r"\frac{a}{b}", display=True).startswith(
        '<math xmlns="http://www.w3.org/1998/Math/MathML" display="block">'
    )
    assert "<mfrac>" in math_preview(r"\frac{a}{b}", display=False)
    assert math_preview(r"\frac{a}{", display=False) == '<code class="fm-tex">\\(\\frac{a}{\\)</code>'


def test_math_preview_cannot_smuggle_html() -> None:
    out = math_preview(r"\text{<img src=x onerror=alert(1)>} a<b", display=False)
    assert out == '<code class="fm-tex">\\(\\text{&lt;img src=x onerror=alert(1)&gt;} a&lt;b\\)</code>'
    assert "<mo>&lt;</mo>" in math_preview("a<b", display=False)


def test_preview_command_writes_the_page_and_warns(fixture_dir: Callable[[str], Path], tmp_path: Path) -> None:
    out = tmp_path / "site" / "preview.html"
    rich = fixture_dir("rich")
    result = CliRunner().invoke(main, ["preview", str(rich), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert f"9 cards → {out}" in result.stdout
    pictures = shown_path(rich / "pictures.md")
    assert f"{pictures}:14: warning: image 'images/nowhere.png' not found" in result.stderr
    page = out.read_text(encoding="utf-8")
    data = json.loads(page.split('<script type="application/json" id="pv-data">', 1)[1].split("</script>", 1)[0])
    assert len(data["cards"]) == 9
    assert "pictures.md:12" in [card["src"] for card in data["cards"]]  # line numbers in the preview, not on the card
    assert [uri[:15] for uri in data["media"].values()] == ["data:image/png;"]  # each picture once, inline
    assert re.findall(r"""src=\\?["']?([a-z]+:)""", page) == ["https:"]  # the remote image stays a link


def test_a_preview_folder_or_file_as_output(fixture_dir: Callable[[str], Path], tmp_path: Path) -> None:
    rich = fixture_dir("rich")
    folder = CliRunner().invoke(main, ["preview", str(rich), "-o", str(tmp_path / "site")])
    assert folder.exit_code == 0 and (tmp_path / "site" / "preview.html").is_file()
    named = CliRunner().invoke(main, ["preview", str(rich), "-o", str(tmp_path / "site" / "cards.HTML")])
    assert named.exit_code == 0 and (tmp_path / "site" / "cards.HTML").is_file()
    assert sorted(p.name for p in (tmp_path / "site").iterdir()) == [".cache", "cards.HTML", "preview.html"]


def test_preview_command_reports_a_missing_folder(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["preview", str(tmp_path / "nope"), "-o", str(tmp_path / "p.html")])
    assert result.exit_code == 1
    assert "content folder does not exist" in result.output
    assert not (tmp_path / "p.html").exists()


# --- the page in headless Chromium ------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser(chromium_path: str) -> Iterator[Browser]:
    with headless_chromium(chromium_path) as chromium:
        yield chromium


@pytest.fixture
def preview_page(
    browser: Browser, fixture_dir: Callable[[str], Path], tmp_path: Path
) -> Iterator[tuple[Page, list[str]]]:
    """The rich fixture's preview, opened from file://, with every non-local request recorded and refused."""
    output = tmp_path / "preview.html"
    write_preview(fixture_dir("rich"), output)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    outside: list[str] = []
    errors: list[str] = []
    page.route(re.compile(r"^(?!file:|data:)"), lambda route: (outside.append(route.request.url), route.abort()))
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(output.as_uri())
    yield page, outside
    assert errors == []
    page.close()


def visible_titles(page: Page) -> list[str]:
    return page.locator(".pv-note:visible .pv-side:first-child .fm-question").all_inner_texts()


def test_page_filters_by_tag(preview_page: tuple[Page, list[str]]) -> None:
    page, outside = preview_page
    assert page.locator(".pv-note:visible").count() == 9
    assert page.inner_text("#pv-shown") == "9"
    page.select_option("#pv-tag", "Python")
    assert page.locator(".pv-note:visible").count() == 3
    assert page.inner_text("#pv-shown") == "3"
    page.select_option("#pv-tag", "figures")  # a parent tag matches its children, as in Anki
    assert visible_titles(page) == [
        "What does the bar chart show?",
        "Where is the missing picture?",
        "What about pictures from elsewhere?",
    ]
    page.select_option("#pv-tag", "")
    assert page.locator(".pv-note:visible").count() == 9
    assert outside == []


def test_page_searches_text(preview_page: tuple[Page, list[str]]) -> None:
    page, _ = preview_page
    page.fill("#pv-search", "卷积")
    assert page.locator(".pv-note:visible").count() == 2
    page.fill("#pv-search", "TUPLE fixed")
    assert visible_titles(page) == ["Which containers are built in?"]
    page.select_option("#pv-tag", "Pricing")
    assert page.locator(".pv-note:visible").count() == 0
    assert page.locator("#pv-none").is_visible()
    page.fill("#pv-search", "")
    assert visible_titles(page) == ["What does the cloud GPU cost?"]


def test_page_renders_math_code_and_images_offline(preview_page: tuple[Page, list[str]]) -> None:
    page, outside = preview_page
    assert page.locator(".pv-note math").count() >= 8
    assert page.locator(".fm-tex").count() == 0
    image = page.locator('img[alt="four coloured bars"]').first
    assert image.get_attribute("src", timeout=1000).startswith("data:image/png;base64,")
    assert image.evaluate("img => img.complete && img.naturalWidth") == 160
    assert page.locator(".fm-hl .k").first.inner_text() == "with"
    assert outside == []


def test_page_switches_to_dark_mode(preview_page: tuple[Page, list[str]]) -> None:
    page, _ = preview_page

    def colours() -> tuple[str, str]:
        card = page.locator(".card").first.evaluate("e => getComputedStyle(e).backgroundColor")
        keyword = page.locator(".fm-hl .k").first.evaluate("e => getComputedStyle(e).color")
        return card, keyword

    light = colours()
    assert light[0] == "rgb(255, 255, 255)"
    page.click("#pv-theme")
    assert "nightMode" in (page.get_attribute("body", "class") or "")
    dark = colours()
    assert dark[0] == "rgb(30, 31, 34)" and dark[1] != light[1]
    page.click("#pv-theme")
    assert colours() == light


def test_page_fits_a_phone_screen(preview_page: tuple[Page, list[str]]) -> None:
    page, _ = preview_page
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate("document.documentElement.scrollWidth") <= 390


def test_page_screenshot_is_a_png(preview_page: tuple[Page, list[str]], tmp_path: Path) -> None:
    page, _ = preview_page
    page.click("#pv-theme")
    shot = tmp_path / "preview-dark.png"
    page.screenshot(path=str(shot), full_page=True)
    data = shot.read_bytes()
    assert data.startswith(PNG_SIGNATURE)
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert width == 1280 and height > 900
    assert len(data) > 20_000


def test_each_cloze_and_each_reversed_card_is_a_card_of_its_own(
    fixture_dir: Callable[[str], Path], tmp_path: Path
) -> None:
    out = tmp_path / "preview.html"
    result = CliRunner().invoke(main, ["preview", str(fixture_dir("kinds")), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert f"34 cards → {out}" in result.stdout
    page = out.read_text(encoding="utf-8")
    data = json.loads(page.split('<script type="application/json" id="pv-data">', 1)[1].split("</script>", 1)[0])
    tcp = [card for card in data["cards"] if "TCP 握手" in card["front"]]
    assert [(c["kind"], c["card"]) for c in tcp] == [("cloze", "Cloze 1"), ("cloze", "Cloze 2")]
    assert 'data-ordinal="1">[...]</span>' in tcp[0]["front"] and "[次数]" in tcp[1]["front"]
    assert "[...]" not in tcp[0]["back"] and '<span class="cloze" data-ordinal="1">三</span>' in tcp[0]["back"]
    backprop = [card for card in data["cards"] if "反向传播" in card["back"]]
    assert [(c["kind"], c["card"]) for c in backprop] == [("Q&A + reverse", "Card"), ("Q&A + reverse", "Reverse")]
    assert "反向传播" not in backprop[1]["front"] and "链式法则" in backprop[1]["front"]
