"""The `flashmark` command line: thin wrappers around the library."""

from __future__ import annotations

from pathlib import Path

import click

from flashmark import __version__
from flashmark.build import build as run_build
from flashmark.errors import FlashmarkError
from flashmark.report import rebuild_lines, summary, warning_lines

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
@click.option("--no-lock", is_flag=True, help="Neither read nor write CONTENT_DIR/flashmark.lock (every note counts as changed).")
def build(content_dir: Path, out_dir: Path, deck: str | None, no_lock: bool) -> None:
    """Build CONTENT_DIR (default: content/) into one .apkg.

    Writes OUT/<deck>.apkg and OUT/<deck>.report.json, and prints a summary.
    CONTENT_DIR/flashmark.lock keeps each note's identity across rebuilds, so
    re-importing the deck updates the notes you study; commit it with your notes.

    \b
    Example:
      flashmark build notes/ -o build/ --deck "Interview prep"
    """
    try:
        result = run_build(content_dir, out_dir, deck=deck, lock=not no_lock)
    except FlashmarkError as exc:
        raise click.ClickException(str(exc)) from None
    for line in warning_lines(result):
        click.echo(f"warning: {line}", err=True)
    click.echo(summary(result))
    for line in rebuild_lines(result):
        click.echo(line)
