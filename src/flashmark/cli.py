"""The `flashmark` command line: thin wrappers around the library."""

from __future__ import annotations

import os
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from flashmark import __version__
from flashmark.errors import FlashmarkError, one_line

# Each command imports the library it calls when it runs, so `flashmark --help` and `--version`
# load click alone, not the parser, genanki or the file watcher.
if TYPE_CHECKING:
    from flashmark.report import BuildResult
    from flashmark.watch import Rebuild

DEFAULT_PREVIEW = Path("build/preview.html")

CONTENT = click.Path(path_type=Path, file_okay=True, dir_okay=True)
F = TypeVar("F", bound=Callable[..., Any])


def _cache_option(command: F) -> F:
    """-o/--out for the read-only commands: the builds' output folder, whose parse cache they share."""
    return click.option(
        "-o",
        "--out",
        "out_dir",
        default="build",
        type=click.Path(path_type=Path),
        show_default=True,
        help="Your builds' output folder (or deck file): files unchanged since they were parsed there are not parsed again.",
    )(command)


def _cache_dir(out_dir: Path) -> Path:
    from flashmark.build import CACHE_DIR, output_folder

    return output_folder(out_dir) / CACHE_DIR


def _content_options(command: F) -> F:
    """Options that override flashmark.toml for reading the content folder."""
    command = click.option(
        "--allow-html/--no-allow-html",
        default=None,
        help="Pass raw HTML in the Markdown through (default: flashmark.toml's allow_html, else off).",
    )(command)
    command = click.option(
        "--exclude",
        "exclude",
        multiple=True,
        metavar="GLOB",
        help="Skip files matching GLOB (relative path or file name), on top of flashmark.toml's exclude. Repeatable.",
    )(command)
    return command


def _output_options(command: F) -> F:
    """-o/--out and --deck, shared by the commands that write a deck."""
    command = click.option("--deck", help="Root deck name (default: flashmark.toml's deck, else the folder's name).")(
        command
    )
    command = click.option(
        "-o",
        "--out",
        "out_dir",
        default="build",
        type=click.Path(path_type=Path),
        show_default=True,
        help="Folder for the .apkg and its report; or, ending in .apkg, the deck file itself (report beside it).",
    )(command)
    return command


def _check_tags(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]) -> tuple[str, ...]:
    from flashmark.tags import clean_pattern

    try:
        return tuple(clean_pattern(v) for v in value)
    except FlashmarkError as exc:
        raise click.BadParameter(exc.message) from None


def _tag_options(command: F) -> F:
    """--tag and --exclude-tag, matched like Anki's `tag:` search."""
    command = click.option(
        "--exclude-tag",
        "exclude_tags",
        multiple=True,
        metavar="TAG",
        callback=_check_tags,
        help="Leave out notes with TAG or a tag below it. Repeatable.",
    )(command)
    command = click.option(
        "--tag",
        "tags",
        multiple=True,
        metavar="TAG",
        callback=_check_tags,
        help="Keep only notes with TAG or a tag below it (TAG::child), ignoring case; `*` is a wildcard. Repeatable.",
    )(command)
    return command


def _echo(text: str, err: bool = False) -> None:
    """Print lines that may quote the notes (titles, file names) with their control characters made visible."""
    click.echo("\n".join(one_line(line) for line in text.split("\n")), err=err)


def _echo_json(text: str) -> None:
    """Print JSON with the characters a terminal acts on written as \\u escapes (they only occur inside strings)."""
    click.echo(re.sub("[\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]", lambda m: f"\\u{ord(m.group()):04x}", text))


class _Failed(click.ClickException):
    """A FlashmarkError shown as its one diagnostic line (`PATH:LINE: error: …`), exit status 1."""

    def __init__(self, line: str) -> None:
        super().__init__(line)
        self.line = line

    def show(self, file: Any = None) -> None:
        click.echo(self.line, err=True)


def _fail(exc: FlashmarkError, content_dir: Path | None = None) -> click.ClickException:
    """The one line a failed command prints: the error as a diagnostic, its path as openable from here."""
    from flashmark.diagnostics import from_error

    return _Failed(str(from_error(exc, content_dir)))


def _show_details(result: BuildResult, content_dir: Path, json_out: bool = False, syncing: bool = False) -> None:
    """What a build prints above its summary: errors and warnings on stderr, then matched, moved and removed notes.

    With `json_out` the notes' lines go to stderr too, so stdout holds nothing but the JSON. When
    `syncing`, the lines about what importing cannot do (move cards, delete notes) are left out: sync does it.
    """
    from flashmark.report import diagnostics, rebuild_lines

    for diagnostic in diagnostics(result, content_dir):
        _echo(str(diagnostic), err=True)
    for line in rebuild_lines(result, for_import=not syncing):
        _echo(line, err=json_out)


class _ProgressBar:
    """A progress bar on stderr fed by the library's progress(done, total, what) callback.

    It appears only once a build has run for `DELAY` seconds (a quick build prints just its summary),
    shows file names with their control characters made visible, and is wiped when the build ends.
    """

    DELAY = 1.0

    def __init__(self) -> None:
        self.bar: Any = None
        self.done = 0
        self.started = time.monotonic()
        self.delay = float(os.environ.get("FLASHMARK_PROGRESS_AFTER", self.DELAY))  # seconds; tests set 0

    def __call__(self, done: int, total: int, what: str) -> None:
        if self.bar is None:
            if time.monotonic() - self.started < self.delay:
                return
            self.bar = click.progressbar(
                length=total,
                label="Building",
                file=sys.stderr,
                item_show_func=lambda item: one_line(item) if item else item,
                show_eta=False,
            )
            self.bar.__enter__()
        self.bar.update(done - self.done, what)
        self.done = done

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None
            sys.stderr.write("\x1b[1A\r\x1b[2K")  # click ended the bar's line: go back up and clear it
            sys.stderr.flush()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="flashmark")
def main() -> None:
    """Turn folders of Markdown Q&A notes into Anki decks.

    \b
    Example:
      flashmark check notes/
      flashmark build notes/ -o build/
    """


@main.command()
@click.argument("content_dir", default="content", type=CONTENT)
@_output_options
@click.option(
    "--no-lock", is_flag=True, help="Neither read nor write CONTENT_DIR/flashmark.lock (every note counts as changed)."
)
@_tag_options
@_content_options
@click.option(
    "--keep-going",
    is_flag=True,
    help="Leave out files that cannot be read or parsed (listed as errors; exit status 1) and build the rest.",
)
@click.option("--force", is_flag=True, help="Build and write the deck even when nothing changed since the last build.")
@click.option("--json", "as_json", is_flag=True, help="Print the build summary as JSON on stdout (for scripts).")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar, warnings or summary; only errors (and --json).")
def build(
    content_dir: Path,
    out_dir: Path,
    deck: str | None,
    tags: tuple[str, ...],
    exclude_tags: tuple[str, ...],
    exclude: tuple[str, ...],
    allow_html: bool | None,
    as_json: bool,
    quiet: bool,
    no_lock: bool,
    keep_going: bool,
    force: bool,
) -> None:
    """Build CONTENT_DIR (default: content/) into one .apkg.

    Writes OUT/<deck>.apkg and OUT/<deck>.report.json, and prints a summary;
    when nothing changed since the last build it says "up to date" and writes
    nothing (--force builds anyway).
    CONTENT_DIR/flashmark.lock keeps each note's identity across rebuilds, so
    re-importing the deck updates the notes you study; commit it with your notes.
    With --tag/--exclude-tag the deck holds only the matching notes, under
    the same deck names and note ids as the full deck.

    \b
    Example:
      flashmark build notes/ -o build/ --deck "Interview prep"
      flashmark build notes/ --tag 深度学习::ResNet --exclude-tag draft
    """
    from flashmark.build import build as run_build
    from flashmark.catalog import to_json
    from flashmark.diagnostics import from_error
    from flashmark.report import summary, summary_data

    bar = _ProgressBar() if not quiet and sys.stderr.isatty() else None
    try:
        result = run_build(
            content_dir,
            out_dir,
            deck=deck,
            tags=tags,
            exclude_tags=exclude_tags,
            exclude=exclude,
            allow_html=allow_html,
            progress=bar,
            lock=not no_lock,
            keep_going=keep_going,
            force=force,
        )
    except FlashmarkError as exc:
        raise _fail(exc, content_dir) from None
    finally:
        if bar is not None:
            bar.close()
    if not quiet:
        _show_details(result, content_dir, json_out=as_json)
    else:
        for error in result.errors:
            _echo(str(from_error(error, content_dir)), err=True)
    if as_json:
        _echo_json(to_json(summary_data(result, content_dir)))
    elif not quiet:
        _echo(summary(result))
    if result.errors:
        sys.exit(1)


@main.command()
@click.argument("content_dir", default="content", type=CONTENT)
@click.option("--strict", is_flag=True, help="Fail (exit 1) on warnings too, not only on errors.")
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True, help="Output format."
)
@_content_options
@_cache_option
def check(
    content_dir: Path, strict: bool, fmt: str, exclude: tuple[str, ...], allow_html: bool | None, out_dir: Path
) -> None:
    """Report problems in CONTENT_DIR without building anything.

    Lists, each with file:line: files that cannot be read or are not UTF-8,
    broken front matter (errors); questions without answers, text outside any
    question, same-title questions kept apart, missing images, empty files,
    code fences left open over later questions (warnings); and
    which questions were merged into one note, and why (info).
    Exits 1 on errors, or on warnings too with --strict.

    \b
    Example:
      flashmark check notes/ --strict
      flashmark check notes/ --format json > check.json
    """
    from flashmark.check import check as run_check
    from flashmark.check import check_json, check_lines

    try:
        result = run_check(content_dir, exclude=exclude, allow_html=allow_html, cache_dir=_cache_dir(out_dir))
    except FlashmarkError as exc:
        raise _fail(exc, content_dir) from None
    if fmt == "json":
        _echo_json(check_json(result, strict))
    else:
        _echo("\n".join(check_lines(result)))
    if result.failed(strict):
        sys.exit(1)


@main.command(name="list")
@click.argument("content_dir", default="content", type=CONTENT)
@_tag_options
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True, help="Output format."
)
@_content_options
@_cache_option
def list_command(
    content_dir: Path,
    tags: tuple[str, ...],
    exclude_tags: tuple[str, ...],
    fmt: str,
    exclude: tuple[str, ...],
    allow_html: bool | None,
    out_dir: Path,
) -> None:
    """List the notes CONTENT_DIR makes, one per line.

    Each line holds, separated by tabs: the note's key (what its Anki id is
    made from), its title, its tags and its sources (file:line).

    \b
    Example:
      flashmark list notes/ --tag Python
      flashmark list notes/ --format json
    """
    from flashmark.catalog import list_notes, note_line, notes_data, to_json

    try:
        notes = list_notes(
            content_dir, tags=tags, exclude_tags=exclude_tags, exclude=exclude, allow_html=allow_html,
            cache_dir=_cache_dir(out_dir),
        )  # fmt: skip
    except FlashmarkError as exc:
        raise _fail(exc, content_dir) from None
    if fmt == "json":
        _echo_json(to_json(notes_data(notes)))
    else:
        for note in notes:
            _echo(note_line(note))


@main.command()
@click.argument("content_dir", default="content", type=CONTENT)
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True, help="Output format."
)
@_content_options
@_cache_option
def tags(content_dir: Path, fmt: str, exclude: tuple[str, ...], allow_html: bool | None, out_dir: Path) -> None:
    """Show the tag tree of CONTENT_DIR with how many notes carry each tag.

    A parent tag counts every note tagged with it or with a tag below it,
    which is what Anki's search `tag:PARENT` finds.

    \b
    Example:
      flashmark tags notes/
    """
    from flashmark.catalog import folder_tags, to_json, tree_data, tree_lines

    try:
        tree = folder_tags(content_dir, exclude=exclude, allow_html=allow_html, cache_dir=_cache_dir(out_dir))
    except FlashmarkError as exc:
        raise _fail(exc, content_dir) from None
    if fmt == "json":
        _echo_json(to_json(tree_data(tree)))
    else:
        for line in tree_lines(tree):
            _echo(line)


@main.command()
@click.argument("content_dir", default="content", type=click.Path(path_type=Path, exists=True, file_okay=False))
@_output_options
@click.option("--no-lock", is_flag=True, help="Neither read nor write CONTENT_DIR/flashmark.lock.")
@_tag_options
@_content_options
@click.option("--keep-going", is_flag=True, help="Leave out files that cannot be read or parsed, and build the rest.")
@click.option("-q", "--quiet", is_flag=True, help="Only the one line per build: no warnings, matches or removals.")
@click.option(
    "--sync", "do_sync", is_flag=True, help="Sync each build into your Anki collection (see `flashmark sync`)."
)
@click.option("--collection", type=click.Path(path_type=Path, dir_okay=False), help="With --sync: the collection file.")
@click.option("--profile", help="With --sync: the Anki profile whose collection to sync.")
def watch(
    content_dir: Path,
    out_dir: Path,
    deck: str | None,
    no_lock: bool,
    tags: tuple[str, ...],
    exclude_tags: tuple[str, ...],
    exclude: tuple[str, ...],
    allow_html: bool | None,
    keep_going: bool,
    quiet: bool,
    do_sync: bool,
    collection: Path | None,
    profile: str | None,
) -> None:
    """Build CONTENT_DIR, then rebuild it whenever a file in it changes.

    Each build prints what `flashmark build` prints (warnings, matched,
    moved and removed notes), then one line; a failed build prints its
    error and waits for the next change. Takes these options of `build`:
    -o, --deck, --no-lock, --tag, --exclude-tag, --exclude, --allow-html,
    --keep-going, -q. If the folder is deleted, watching waits for it to
    come back. With --sync (and --collection or --profile), each build is
    also synced into your Anki collection; while Anki has it open, only the
    deck is built, and the next change tries again. Stop with Ctrl+C.

    \b
    Example:
      flashmark watch notes/ -o build/
      flashmark watch notes/ --tag 深度学习 --keep-going
      flashmark watch notes/ --sync --profile "User 1"
    """
    from flashmark.diagnostics import from_error
    from flashmark.watch import rebuild_line
    from flashmark.watch import watch as run_watch

    if (collection is not None or profile is not None) and not do_sync:
        raise click.UsageError("--collection and --profile go with --sync")
    if do_sync and no_lock:
        raise click.UsageError("--sync needs the lock file: leave out --no-lock")
    sync_options = {"collection": collection, "profile": profile} if do_sync else None

    def show(rebuild: Rebuild) -> None:
        if rebuild.result is not None and not quiet:
            _show_details(rebuild.result, content_dir)
        elif rebuild.result is not None:
            for error in rebuild.result.errors:
                _echo(str(from_error(error, content_dir)), err=True)
        if rebuild.error is not None:
            _echo(str(from_error(rebuild.error, content_dir)), err=True)
        if rebuild.synced is not None and not quiet:
            from flashmark.anki.sync_report import step_lines

            for line in step_lines(rebuild.synced):
                _echo(line)
        _echo(rebuild_line(rebuild))
        if rebuild.synced is not None:
            from flashmark.anki.sync_report import sync_summary

            _echo(sync_summary(rebuild.synced))
        if rebuild.sync_error is not None:
            _echo(f"{from_error(rebuild.sync_error, content_dir)} (not synced; the next change tries again)", err=True)

    click.echo(f"watching {content_dir} (Ctrl+C to stop)", err=True)
    try:
        run_watch(
            content_dir, out_dir, show, deck=deck, tags=tags, exclude_tags=exclude_tags, exclude=exclude,
            allow_html=allow_html, lock=not no_lock, keep_going=keep_going, sync=sync_options,
        )  # fmt: skip
    except KeyboardInterrupt:
        click.echo("stopped", err=True)


@main.command()
@click.argument("content_dir", default="content", type=CONTENT)
@click.option(
    "--collection", type=click.Path(path_type=Path, dir_okay=False), help="The Anki collection file (collection.anki2)."
)
@click.option("--profile", help="An Anki profile, whose collection is in Anki's data folder (default: User 1).")
@click.option("--dry-run", is_flag=True, help="Print what would change, and change and write nothing.")
@click.option(
    "--delete-removed", is_flag=True, help="Delete the notes whose questions are gone (default: suspend them)."
)
@click.option(
    "--prefer",
    type=click.Choice(["anki", "source"]),
    default="anki",
    show_default=True,
    help="Which side wins when a note changed both in Anki and in the sources.",
)
@click.option(
    "--allow-schema-change",
    is_flag=True,
    help="Let sync change the note type's fields (AnkiWeb then needs a full sync).",
)
@_output_options
@_tag_options
@_content_options
@click.option("--keep-going", is_flag=True, help="Leave out files that cannot be read or parsed, and sync the rest.")
@click.option("--json", "as_json", is_flag=True, help="Print the plan and what was done, per note, as JSON.")
@click.option("-q", "--quiet", is_flag=True, help="Only the summary line (and errors).")
def sync(
    content_dir: Path,
    collection: Path | None,
    profile: str | None,
    dry_run: bool,
    delete_removed: bool,
    prefer: str,
    allow_schema_change: bool,
    out_dir: Path,
    deck: str | None,
    tags: tuple[str, ...],
    exclude_tags: tuple[str, ...],
    exclude: tuple[str, ...],
    allow_html: bool | None,
    keep_going: bool,
    as_json: bool,
    quiet: bool,
) -> None:
    """Apply CONTENT_DIR straight to your Anki collection: add, update, move, retire.

    Builds as `flashmark build` does (the .apkg and report are written
    too), then changes the collection note by note: new notes are added,
    notes changed in the sources are updated unless you edited them in
    Anki (then your edit stays: a conflict, unless --prefer source),
    cards follow their question to its new deck, and notes whose question
    is gone are tagged flashmark::removed and suspended (deleted with
    --delete-removed). Close Anki first; a backup is made before anything
    changes. The collection: --collection, --profile, or
    FLASHMARK_COLLECTION (a path or a profile name); default: User 1.

    \b
    Example:
      flashmark sync notes/ --dry-run
      flashmark sync notes/ --profile "User 1"
      flashmark sync notes/ --collection ~/anki/collection.anki2 --prefer source
    """
    from flashmark.anki.sync import sync as run_sync
    from flashmark.anki.sync_report import step_lines, sync_data, sync_summary
    from flashmark.catalog import to_json
    from flashmark.diagnostics import from_error
    from flashmark.report import summary_data

    if collection is not None and profile is not None:
        raise click.UsageError("give --collection or --profile, not both")
    try:
        result = run_sync(
            content_dir, out_dir, collection=collection, profile=profile, dry_run=dry_run,
            delete_removed=delete_removed, prefer=prefer, allow_schema_change=allow_schema_change, deck=deck,
            tags=tags, exclude_tags=exclude_tags, exclude=exclude, allow_html=allow_html, keep_going=keep_going,
        )  # fmt: skip
    except FlashmarkError as exc:
        raise _fail(exc, content_dir) from None
    if not quiet:
        _show_details(result.build, content_dir, json_out=as_json, syncing=True)
        for line in step_lines(result):
            _echo(line, err=as_json)
    else:
        for error in result.build.errors:
            _echo(str(from_error(error, content_dir)), err=True)
    if as_json:
        _echo_json(to_json({**sync_data(result), "build": summary_data(result.build, content_dir)}))
    else:
        _echo(sync_summary(result))
    if result.build.errors:
        sys.exit(1)


@main.command()
@click.argument("content_dir", default="content", type=CONTENT)
@click.option("--forget", is_flag=True, help="Clear the list (all removed notes, or those named with --key).")
@click.option(
    "--key", "keys", multiple=True, metavar="KEY", help="With --forget: only the note with this key. Repeatable."
)
@click.option("--json", "as_json", is_flag=True, help="Print the removed notes as JSON.")
def removed(content_dir: Path, forget: bool, keys: tuple[str, ...], as_json: bool) -> None:
    """List the notes whose questions are gone from CONTENT_DIR.

    Anki keeps a note when its question is deleted from the Markdown; the
    lock file remembers such notes until the question comes back (it then
    takes its old Anki note again) or you clear the list with --forget.
    Each line holds, separated by tabs: when it was removed, its key, its
    title, and a search that finds it in Anki's browser.

    \b
    Example:
      flashmark removed notes/
      flashmark removed notes/ --forget
    """
    from flashmark.catalog import to_json
    from flashmark.removed import forget as forget_notes
    from flashmark.removed import removed_line, removed_notes

    if keys and not forget:
        raise click.UsageError("--key goes with --forget")
    try:
        entries = forget_notes(content_dir, keys) if forget else removed_notes(content_dir)
    except FlashmarkError as exc:
        raise _fail(exc, content_dir) from None
    if as_json:
        data = [
            {"key": e.key, "guid": e.guid, "title": e.title, "search": e.search, "since": e.removed} for e in entries
        ]
        _echo_json(to_json(data))
    elif forget:
        _echo(f"forgot {len(entries)} removed note{'' if len(entries) == 1 else 's'}")
    else:
        for entry in entries:
            _echo(removed_line(entry))
        if not entries:
            click.echo("no removed notes", err=True)


@main.command()
@click.argument("content_dir", default="content", type=CONTENT)
@click.option(
    "-o",
    "--out",
    "output",
    default=str(DEFAULT_PREVIEW),
    type=click.Path(path_type=Path),
    show_default=True,
    help="The page to write: a file ending in .html, or a folder (the page is preview.html in it).",
)
@click.option("--deck", help="Root deck name (default: flashmark.toml's deck, else the folder's name).")
@_content_options
def preview(
    content_dir: Path, output: Path, deck: str | None, exclude: tuple[str, ...], allow_html: bool | None
) -> None:
    """Write one HTML page showing every card of CONTENT_DIR, front and back.

    The page needs no network and opens straight from disk: filter by tag,
    search, and switch between light and dark mode before importing into Anki.

    \b
    Example:
      flashmark preview notes/ -o build/preview.html
    """
    from flashmark.preview import write_preview

    try:
        result = write_preview(content_dir, output, deck=deck, exclude=exclude, allow_html=allow_html)
    except FlashmarkError as exc:
        raise _fail(exc, content_dir) from None
    from flashmark.diagnostics import warnings_of

    for diagnostic in warnings_of(result.notices, result.skipped, content_dir):
        _echo(str(diagnostic), err=True)
    _echo(f"{result.cards} card{'' if result.cards == 1 else 's'} → {result.output}")
