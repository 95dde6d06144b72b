"""The `flashmark` command line: thin wrappers around the library."""

from __future__ import annotations

from pathlib import Path

import click

from flashmark import __version__
from flashmark.build import build as run_build
from flashmark.errors import FlashmarkError
from flashmark.preview import DEFAULT_OUTPUT as DEFAULT_PREVIEW
from flashmark.preview import write_preview
from flashmark.report import summary, warning_lines

CONTENT = click.Path(path_type=Path, file_okay=True, dir_okay=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="flashmark")
def main() -> None:
    """Turn folders of Markdown Q&A notes into Anki decks.

    \b
    Example:
      flashmark build notes/ -o build/
    """


@main.command()
@click.argument("content_dir", default="content", type=CONTENT)
@click.option("-o", "--out", "out_dir", default="build", type=click.Path(path_type=Path, file_okay=False), show_default=True, help="Folder for the .apkg and its report.")
@click.option("--deck", help="Root deck name (default: flashmark.toml's deck, else the folder's name).")
def build(content_dir: Path, out_dir: Path, deck: str | None) -> None:
    """Build CONTENT_DIR (default: content/) into one .apkg.

    Writes OUT/<deck>.apkg and OUT/<deck>.report.json, and prints a summary.

    \b
    Example:
      flashmark build notes/ -o build/ --deck "Interview prep"
    """
    try:
        result = run_build(content_dir, out_dir, deck=deck)
    except FlashmarkError as exc:
        raise click.ClickException(str(exc)) from None
    for line in warning_lines(result):
        click.echo(f"warning: {line}", err=True)
    click.echo(summary(result))


@main.command()
@click.argument("content_dir", default="content", type=CONTENT)
@click.option("-o", "--out", "output", default=str(DEFAULT_PREVIEW), type=click.Path(path_type=Path, dir_okay=False), show_default=True, help="The HTML file to write.")
@click.option("--deck", help="Root deck name (default: flashmark.toml's deck, else the folder's name).")
def preview(content_dir: Path, output: Path, deck: str | None) -> None:
    """Write one HTML page showing every card of CONTENT_DIR, front and back.

    The page needs no network and opens straight from disk: filter by tag,
    search, and switch between light and dark mode before importing into Anki.

    \b
    Example:
      flashmark preview notes/ -o build/preview.html
    """
    try:
        result = write_preview(content_dir, output, deck=deck)
    except FlashmarkError as exc:
        raise click.ClickException(str(exc)) from None
    for line in result.warning_lines():
        click.echo(f"warning: {line}", err=True)
    click.echo(f"{result.notes} cards → {result.output}")
