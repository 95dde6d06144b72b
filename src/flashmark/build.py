"""The whole pipeline: read → parse → merge → render → package, plus the report."""

from __future__ import annotations

import hashlib
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from flashmark import stamp, state
from flashmark.anki.notetype import card_labels, rendered_kind
from flashmark.anki.package import MediaChanged, PackageNote, apkg_writer
from flashmark.anki.stored import LastPackage, last_package
from flashmark.cache import trusted_cache
from flashmark.config import Config, load_config
from flashmark.errors import FlashmarkError, ParseError
from flashmark.identity import namespace_for
from flashmark.incremental import LazyNotes, Rebuilt, from_scratch, rebuild
from flashmark.lock import (
    LOCK_FILE,
    Identified,
    Lock,
    assign_identities,
    chunks_writer,
    chunks_written,
    exclusive,
    lock_chunks_of,
    lock_is_written,
    lock_writer,
    read_lock,
)
from flashmark.merge import merge
from flashmark.outputs import recover, sweep, transaction
from flashmark.parallel import parse_files, paused_gc
from flashmark.render import MAX_DECK_LEVELS, anki_deck, as_notetype, render_notes
from flashmark.report import BuildResult, counts_data, write_report_json
from flashmark.sources import Scan, is_excluded, scan_files
from flashmark.tags import TagFilter, select_notes
from flashmark.types import Clash, MergeResult, Notice, ParsedFile, Question, RenderedNote, Skipped, Verified

_UNSAFE_FILENAME = re.compile(r'[\\/:*?"<>|\s]+')
CACHE_DIR = ".cache"  # under the output folder; safe to delete

# progress(done, total, what): `done` of `total` steps finished, `what` is being worked on now.
Progress = Callable[[int, int, str], None]


@dataclass(frozen=True, slots=True)
class Corpus:
    """Everything parsed from a content folder, merged into notes."""

    config: Config
    files: tuple[ParsedFile, ...]
    merge: MergeResult
    errors: tuple[FlashmarkError, ...] = ()
    left_out: tuple[str, ...] = ()  # Markdown files in the folder that the settings or options excluded
    scan_notices: tuple[Notice, ...] = ()  # symlinks out of the folder and folders too deep, skipped

    @property
    def questions(self) -> tuple[Question, ...]:
        return tuple(q for f in self.files for q in f.questions)

    @property
    def skipped(self) -> tuple[Skipped, ...]:
        return tuple(s for f in self.files for s in f.skipped)

    @property
    def notices(self) -> tuple[Notice, ...]:
        return self.scan_notices + tuple(n for f in self.files for n in f.notices)


def deck_name(content_dir: Path, config: Config) -> str:
    """The root deck: --deck, else flashmark.toml's deck, else the content folder's name."""
    return config.deck or content_dir.resolve().name or "flashmark"


def output_name(deck: str) -> str:
    """A file name for a deck name: path separators, colons and spaces become `_`."""
    return _UNSAFE_FILENAME.sub("_", deck).strip("_.") or "deck"


def load_corpus(
    content_dir: Path,
    config: Config | None = None,
    *,
    keep_going: bool = False,
    progress: Progress | None = None,
    cache_dir: Path | None = None,
    workers: int | None = None,
    scan: Scan | None = None,
    images: Mapping[str, Verified] | None = None,
) -> Corpus:
    """Read, parse and merge a content folder.

    With `keep_going`, a file that cannot be read, decoded or parsed is recorded in
    `Corpus.errors` and the other files are still read (what `flashmark check` needs).
    `cache_dir` keeps parses of unchanged files between builds; `workers` None sizes the
    parse pool from the cores and the work. `scan` is the folder's scan when the caller made it already.
    `images`: those the last build checked against their names (see ImageFiles).
    """
    config = config or load_config(content_dir)
    scan = scan or scan_files(content_dir, config.exclude)
    if cache_dir is not None:
        cache_dir, distrusted = trusted_cache(cache_dir)
        if distrusted is not None:
            scan.notices.append(distrusted)
    if scan.errors and not keep_going:
        raise scan.errors[0]
    parsed, errors = parse_files(
        scan.files, content_dir, config, cache_dir=cache_dir, workers=workers, keep_going=keep_going,
        progress=progress, images=images,
    )  # fmt: skip
    questions = [q for f in parsed for q in f.questions]
    scan.notices.extend(_deep_decks(deck_name(content_dir, config), parsed))
    merged = merge(questions)
    clashes = tuple(_clash_error(c) for c in merged.clashes)
    if clashes and not keep_going:
        raise clashes[0]
    return Corpus(
        config=config,
        files=tuple(parsed),
        merge=merged,
        errors=(*scan.errors, *errors, *clashes),
        left_out=tuple(scan.left_out),
        scan_notices=tuple(scan.notices),
    )


def _deep_decks(root: str, files: Iterable[ParsedFile]) -> list[Notice]:
    """A warning for each file whose deck is nested deeper than Anki allows (its deepest levels get joined)."""
    notices = []
    for parsed in files:
        for deck in dict.fromkeys(q.deck for q in parsed.questions):
            full = f"{root}::{deck}"
            if full.count("::") >= MAX_DECK_LEVELS:
                levels = full.count("::") + 1
                message = (
                    f"deck {full!r} would be {levels} levels deep, and Anki allows {MAX_DECK_LEVELS}: "
                    f"its cards go to {anki_deck(root, deck)!r} (move the file up, or set a shorter deck)"
                )
                notices.append(Notice(parsed.rel, None, "deck", message))
    return notices


def _clash_error(clash: Clash) -> ParseError:
    """One id on questions that are different notes: an error at the first, naming the others."""
    first, *others = clash.sources
    file, _, line = first.rpartition(":")
    return ParseError(
        f"id {{#{clash.anchor}}} is also on {', '.join(others)}; give each question an id of its own "
        "(which note kept the id would depend on file order)",
        file,
        int(line),
        in_content=True,
    )


def _legacy_reverse_notice(notes: Sequence[RenderedNote]) -> tuple[Notice, ...]:
    """One warning for the questions that ask for a reversed card on notes of the earlier one-card note type."""
    if not notes:
        return ()
    places = [rn.note.sources[0] for rn in notes]
    file, _, line = places[0].rpartition(":")
    others = f" (also {', '.join(places[1:4])}{' and more' if len(places) > 4 else ''})" if len(places) > 1 else ""
    count = "this question has" if len(notes) == 1 else f"{len(notes)} questions have"
    return (
        Notice(
            file,
            int(line),
            "reverse",
            f"no reversed card yet: {count} notes first built by an earlier flashmark, whose note type has one "
            f"card{others}; `flashmark sync --allow-schema-change` moves them to the reversible note type, keeping "
            "their reviews",
        ),
    )


def _unchanged(
    said: stamp.Recorded, root: str, output: Path, report: Path, lock: Path | None, tags: TagFilter, started: float
) -> BuildResult:
    """The result of a build with nothing to do: the last build's counts and warnings, nothing written."""
    return BuildResult(
        deck=root,
        files=said.files,
        questions=said.questions,
        notes=(),
        merge=MergeResult((), (), (), ()),
        skipped=said.skipped,
        notices=said.notices,
        output=output,
        report=report,
        seconds=time.perf_counter() - started,
        tags=tags.include,
        exclude_tags=tags.exclude,
        lock=lock,
        unchanged=said.counts,
    )


@dataclass(frozen=True, slots=True)
class Built:
    """A build before anything is written: what `build`'s `apply` hook (sync) works from."""

    result: BuildResult
    notes: tuple[RenderedNote, ...]  # every note of the content, the ones a tag filter left out included
    lock: Lock  # what the lock file is about to hold
    previous: Lock | None  # what it held
    write_apkg: Callable[[Path], None]  # writes the deck to a path


def output_folder(out: Path) -> Path:
    """Where a build writes: `out` itself, or the folder of `out` when it names the deck file (`*.apkg`)."""
    return out.parent if out.suffix.lower() == ".apkg" else out


def output_files(out: Path, root_deck: str) -> tuple[Path, Path]:
    """The deck and its report: `out` itself and `<name>.report.json` beside it when `out` ends in `.apkg`,
    else `<deck>.apkg` and `<deck>.report.json` in the folder `out`."""
    if out.suffix.lower() == ".apkg":
        return out, out.with_name(f"{out.stem}.report.json")
    name = output_name(root_deck)
    return out / f"{name}.apkg", out / f"{name}.report.json"


def _journal_name(content_dir: Path) -> str:
    """The journal of one content folder's builds in an output folder (several folders may share one)."""
    return f".flashmark-commit-{hashlib.blake2b(str(content_dir.resolve()).encode(), digest_size=6).hexdigest()}.json"


def build(
    content_dir: Path,
    out_dir: Path,
    deck: str | None = None,
    *,
    tags: Iterable[str] = (),
    exclude_tags: Iterable[str] = (),
    exclude: tuple[str, ...] = (),
    allow_html: bool | None = None,
    progress: Progress | None = None,
    lock: bool = True,
    keep_going: bool = False,
    apply: Callable[[Built], Lock] | None = None,
    write: bool = True,
    force: bool = False,
) -> BuildResult:
    """Build `content_dir` into `out_dir/<deck>.apkg` and `<deck>.report.json` (or into `out_dir` itself and
    the report beside it, when `out_dir` ends in `.apkg`).

    `tags`/`exclude_tags` keep only the notes with (or without) those tags, as Anki's `tag:`
    search matches them; `deck`, `exclude` and `allow_html` override the settings file.
    With `lock` (the default), `content_dir/flashmark.lock` carries GUIDs and modification
    times over from the last build, and is written together with the deck and the report;
    builds of one folder take turns, so the deck and the lock file always come from the same build.
    An image that changes while the deck is written makes the build start again, once, without
    the parse cache. With `keep_going`, a file that cannot be read or parsed is left out (its notes
    keep their lock entries) and listed in `BuildResult.errors`, and the deck holds the rest.

    `apply`, when given, is called with the build before anything is written (while builds of the
    folder still take turns) and returns the lock to write; if it raises, nothing is written.
    `write=False` writes nothing at all (what `sync --dry-run` needs).

    When the folder, its images and settings, the lock file, the deck and the report are all as the
    last build of this folder into this deck left them (see `flashmark.stamp`), nothing is built or
    written: the result says so (`BuildResult.unchanged`) and repeats that build's counts and warnings.
    `force` builds anyway.
    """
    for use_cache in (True, False):
        try:
            return _build(
                content_dir, out_dir, deck, tags=tags, exclude_tags=exclude_tags, exclude=exclude,
                allow_html=allow_html, progress=progress, lock=lock, use_cache=use_cache, keep_going=keep_going,
                apply=apply, write=write, force=force,
            )  # fmt: skip
        except MediaChanged:
            if not use_cache:
                raise
    raise AssertionError("unreachable")


def _build(
    content_dir: Path,
    out_dir: Path,
    deck: str | None,
    *,
    tags: Iterable[str],
    exclude_tags: Iterable[str],
    exclude: tuple[str, ...],
    allow_html: bool | None,
    progress: Progress | None,
    lock: bool,
    use_cache: bool,
    keep_going: bool,
    apply: Callable[[Built], Lock] | None,
    write: bool,
    force: bool = False,
) -> BuildResult:
    """One build, as `build` describes it; `use_cache` False parses every file afresh."""
    # The GC pause: a build makes millions of records and no reference cycles, so collecting is pure overhead.
    with exclusive(content_dir / LOCK_FILE if lock else None), paused_gc():
        # What a build killed earlier left: renames to finish, temporary files to remove.
        folder = output_folder(out_dir)
        if write:
            recover(folder / _journal_name(content_dir))
            sweep(folder)
            if lock:
                sweep(content_dir)
        started = time.perf_counter()
        tag_filter = TagFilter.of(tags, exclude_tags)
        settings = load_config(content_dir)
        config = settings.override(deck=deck, exclude=exclude, allow_html=allow_html)
        root = deck_name(content_dir, config)
        output, report = output_files(out_dir, root)
        lock_path = content_dir / LOCK_FILE if lock else None
        scan = scan_files(content_dir, config.exclude)
        # The stamp and the state: only for a plain build that writes its files (not sync's, not the retry
        # without the cache); the state also needs the lock file, and every file of the folder read.
        stamped = write and apply is None and use_cache
        stateful = stamped and lock_path is not None and not scan.left_out and not scan.errors
        cache_dir = folder / CACHE_DIR
        stamp_file = stamp.stamp_path(cache_dir, content_dir, output)
        state_file = state.state_path(cache_dir, content_dir, output)
        parts = (config, root, tag_filter, lock, keep_going, scan.left_out, output, report, content_dir.resolve())
        now = stamp.inputs(
            stamp.build_key(parts), content_dir, [p.relative_to(content_dir).as_posix() for p in scan.files],
            scan.notices, time.time_ns(),
        )  # fmt: skip
        if stamped and not force and not scan.errors:
            said = stamp.up_to_date(stamp_file, now, content_dir, lock_path, (output, report))
            if said is not None:
                return _unchanged(said, root, output, report, lock_path, tag_filter, started)
        state_key = stamp.build_key((config, root, output, report, content_dir.resolve()))
        rebuilt: Rebuilt | None = None
        corpus: Corpus | None = None
        # Images the last build checked against their names, and those this build checks (see media_bytes);
        # and the images in the last package, copied from it.
        trusted, last_deck = (
            _last_media(state_file, content_dir, (output, report)) if stateful and not force else (None, None)
        )
        verified: dict[str, Verified] = {}
        if stateful and not force and lock_path is not None:
            rebuilt, distrust = _from_state(
                state_file, state_key, now, content_dir, config, root, lock_path, output, report, trusted
            )
            if distrust is not None:
                scan.notices.append(distrust)
        note_lines: Sequence[str] | None = None
        lock_text: Callable[[], Iterable[str]] | None = None  # the lock file's text, when it is not `new_lock`'s
        if rebuilt is not None:

            def again() -> Sequence[RenderedNote]:  # the same build, from scratch, writing nothing
                return build(
                    content_dir, out_dir, deck, tags=tag_filter.include, exclude_tags=tag_filter.exclude, exclude=exclude,
                    allow_html=allow_html, lock=lock, keep_going=keep_going, write=False, force=True,
                ).notes  # fmt: skip

            result, rows, new_lock, lock_text, note_lines = _incremental_result(
                rebuilt, root, tag_filter, output, report, lock_path, scan.notices, started, again
            )
            notetype_mods = rebuilt.identified.notetype_mods
            # The notes kept as they were are in the last package as they are: its collection is patched.
            unchanged = frozenset(r.guid for r in rows if isinstance(r, state.Kept))
            write_deck = apkg_writer(
                rows, notetype_mods=notetype_mods, trusted=trusted, verified=verified, last=last_deck, kept=unchanged
            )
        else:
            result, rendered, new_lock, previous, all_notes, identified, corpus = _full(
                content_dir, config, settings, root, tag_filter, output, report, lock_path, scan, started,
                cache_dir=cache_dir if use_cache and write else None, keep_going=keep_going, progress=progress,
                images=trusted,
            )  # fmt: skip
            if apply is None:
                previous = None  # only sync needs the lock as it was: its memory serves what follows
            if stateful and not result.errors and not result.left_out_files:
                rebuilt = from_scratch(corpus.files, corpus.merge, identified, now.sources, content_dir, root)
                if rebuilt is not None and apply is None:
                    corpus = None  # its questions are in the state's records now: let their memory serve what follows
            write_deck = apkg_writer(
                rendered, notetype_mods=identified.notetype_mods, trusted=trusted, verified=verified, last=last_deck
            )
            if apply is not None:
                new_lock = apply(Built(result, all_notes, new_lock, previous, write_deck))
                kinds = {e.guid: e.kind for e in new_lock.notes}
                if any(kinds.get(rn.guid, rn.notetype) != rn.notetype for rn in rendered):  # sync moved notes' type
                    rendered = tuple(as_notetype(rn, kinds.get(rn.guid, rn.notetype)) for rn in rendered)
                    write_deck = apkg_writer(rendered, notetype_mods={m.kind: m.mod for m in new_lock.notetypes})
                    result = replace(result, notes=rendered)
        steps = result.files
        if progress is not None:
            progress(steps + 1, steps + 2, "writing the deck")

        def write_report(tmp: Path) -> None:
            write_report_json(result, tmp, note_lines)

        if not write:
            return result
        if stateful or state_file.exists():
            _set_aside(state_file, keep=rebuilt is not None and not rebuilt.full)
        # The deck, its report and the lock file change together: all three are written aside first.
        with transaction(folder / _journal_name(content_dir)) as outputs:
            outputs.stage(output, write_deck)
            outputs.stage(report, write_report)
            if lock_path is not None:
                if lock_text is not None:
                    if not chunks_written(lock_path, lock_text()):
                        outputs.stage(lock_path, chunks_writer(lock_text))
                elif not lock_is_written(lock_path, new_lock):
                    outputs.stage(lock_path, lock_writer(new_lock))
            outputs.commit()
        lock_digest = stamp.file_hash(lock_path) if lock_path is not None and stamped else None
        if stamped and not result.errors:
            # What an up-to-date build says again: not that this build could not use its state.
            kept = tuple(n for n in result.notices if n.kind != state.STATE_NOTICE)
            said = stamp.Recorded(result.files, result.questions, counts_data(result), result.skipped, kept)
            if rebuilt is not None:
                deps: Iterable[str] = (dep for record in rebuilt.files for dep, _ in record.deps)
            else:
                deps = (dep for parsed in corpus.files for dep in parsed.deps) if corpus is not None else ()
            stamp.write(stamp_file, now, content_dir, deps, lock_path, (output, report), said, lock_digest)
        if rebuilt is not None and stateful and lock_digest is not None:
            _keep_state(state_file, rebuilt, state_key, now, content_dir, lock_digest, (output, report), verified)
        if progress is not None:
            progress(steps + 2, steps + 2, "done")
        return result


def _full(
    content_dir: Path,
    config: Config,
    settings: Config,
    root: str,
    tag_filter: TagFilter,
    output: Path,
    report: Path,
    lock_path: Path | None,
    scan: Scan,
    started: float,
    *,
    cache_dir: Path | None,
    keep_going: bool,
    progress: Progress | None,
    images: Mapping[str, Verified] | None = None,
) -> tuple[BuildResult, tuple[RenderedNote, ...], Lock, Lock | None, tuple[RenderedNote, ...], Identified, Corpus]:
    """Every file read (or taken from the parse cache), merged, rendered and identified."""

    # Progress counts one step per file, then rendering, then writing the package.
    def reading(done: int, total: int, what: str) -> None:
        if progress is not None:
            progress(done, total + 2, what)

    corpus = load_corpus(
        content_dir, config, progress=reading, cache_dir=cache_dir, keep_going=keep_going, scan=scan, images=images
    )
    # Files that could not be read count as left out this once: their notes are not "removed".
    failed = {str(e.path) for e in corpus.errors if e.path} - {f.rel for f in corpus.files}
    steps = len(corpus.files)
    selection = select_notes(corpus.merge.notes, tag_filter)
    if progress is not None:
        progress(steps, steps + 2, "rendering notes")
    # Identities cover every note, so a filtered build keeps the lock entries of the notes it leaves out.
    previous = read_lock(lock_path) if lock_path is not None else None
    one_off = frozenset(rel for rel in corpus.left_out if not is_excluded(rel, settings.exclude)) | failed
    identified = assign_identities(
        render_notes(corpus.merge.notes, root),
        previous,
        None,
        time.time(),
        namespace=namespace_for(root),
        excluded=frozenset(corpus.left_out) | failed,
        one_off=one_off,
        lockless=lock_path is None,
    )
    legacy = _legacy_reverse_notice(identified.legacy_reverse)
    chosen = {note.key for note in selection.notes}
    rendered = tuple(n for n in identified.notes if n.key in chosen)
    result = BuildResult(
        deck=root,
        files=len(corpus.files) + len(failed),
        questions=len(corpus.questions) + len(corpus.skipped),
        notes=rendered,
        merge=corpus.merge,
        skipped=corpus.skipped,
        notices=corpus.notices + legacy,
        output=output,
        report=report,
        seconds=time.perf_counter() - started,
        left_out=selection.left_out,
        tags=tag_filter.include,
        exclude_tags=tag_filter.exclude,
        matches=identified.matches,
        removed=identified.removed,
        lock=lock_path,
        remembered=identified.remembered,
        restored=identified.restored,
        moved=identified.moved,
        left_out_files=len(corpus.left_out),
        left_out_notes=identified.left_out,
        errors=corpus.errors,
    )
    return result, rendered, identified.lock, previous, identified.notes, identified, corpus


def _from_state(
    path: Path,
    key: str,
    now: stamp.Inputs,
    content_dir: Path,
    config: Config,
    root: str,
    lock_path: Path,
    output: Path,
    report: Path,
    images: Mapping[str, Verified] | None,
) -> tuple[Rebuilt | None, Notice | None]:
    """This build made from the last one's state, when there is a state that describes the folder's outputs; and a
    warning when there is a state that cannot be trusted (damaged, or another folder's)."""

    def distrusted(why: str) -> tuple[None, Notice]:
        return None, Notice(str(path.absolute()), None, state.STATE_NOTICE, f"build state not used: {why}")

    last = state.State.open(path)
    if last is None:
        why = state.problem(path)
        return (None, None) if why is None else distrusted(why)
    try:
        meta = last.meta
        if not state.sealed(meta) and meta.get("outputs") is not None:  # None: the last build stopped part-way
            return distrusted(f"its description does not match its seal; {state.RENEWED}")
        if meta.get("content") != str(content_dir.resolve()):
            return distrusted(f"it was written for another content folder; {state.RENEWED}")
        if (
            not state.sealed(meta)
            or meta.get("key") != key
            or meta.get("outputs") != state.output_figures((output, report))
            or meta.get("lock") != stamp.file_hash(lock_path)
            or type(meta.get("taken")) is not int
            or type(meta.get("max_mod")) is not int
            or meta.get("legacy_reverse") != 0  # its one warning spans every such note: only a full build gives it
        ):
            return None, None
        cache_dir, unsafe = trusted_cache(path.parent.parent)
        if unsafe is not None:
            return None, None  # the parse cache's own warning says why
        try:
            return rebuild(last, now, content_dir, config, root, cache_dir, time.time(), images), None
        except state.Damaged as exc:
            return distrusted(f"it is damaged ({exc}); {state.RENEWED}")
    finally:
        last.close()


def _incremental_result(
    rebuilt: Rebuilt,
    root: str,
    tag_filter: TagFilter,
    output: Path,
    report: Path,
    lock_path: Path | None,
    scan_notices: Iterable[Notice],
    started: float,
    again: Callable[[], Sequence[RenderedNote]],
) -> tuple[BuildResult, list[PackageNote], Lock, Callable[[], Iterable[str]], list[str]]:
    """The result, the deck's notes, the lock and its text, and the report's note lines of a build made from
    the last build's state."""
    selection = select_notes(rebuilt.notes, tag_filter)
    chosen = selection.notes
    rows: list[PackageNote] = [r.rendered if isinstance(r, state.NoteRecord) else r for r in chosen]
    made = {r.key: r.rendered for r in rebuilt.made}
    kept = {r.key: (r.guid, r.mod) for r in chosen if not isinstance(r, state.NoteRecord)}
    notes = LazyNotes([r.key for r in chosen], made, kept, again)
    kinds = Counter(rendered_kind(r.rendered) if isinstance(r, state.NoteRecord) else r.rkind for r in chosen)
    cards = sum(len(card_labels(r.rendered)) if isinstance(r, state.NoteRecord) else r.cards for r in chosen)
    files = rebuilt.files
    notices = (
        *scan_notices,
        *(n for f in files for n in f.deck_notices),
        *(n for f in files for n in f.notices),
    )
    identified = rebuilt.identified
    result = BuildResult(
        deck=root,
        files=len(files),
        questions=sum(f.questions for f in files),
        notes=notes,
        merge=rebuilt.merge,
        skipped=tuple(s for f in files for s in f.skipped),
        notices=notices,
        output=output,
        report=report,
        seconds=time.perf_counter() - started,
        left_out=selection.left_out,
        tags=tag_filter.include,
        exclude_tags=tag_filter.exclude,
        matches=identified.matches,
        removed=identified.removed,
        lock=lock_path,
        remembered=identified.remembered,
        restored=identified.restored,
        moved=identified.moved,
        tally=(dict(kinds), cards),
    )

    def text() -> Iterable[str]:
        return lock_chunks_of(identified.lock, rebuilt.lock_lines)

    return result, rows, identified.lock, text, [r.report for r in chosen]


def _last_media(
    path: Path, content_dir: Path, outputs: tuple[Path, Path]
) -> tuple[dict[str, Verified] | None, LastPackage | None]:
    """What the last build of this folder into this deck knew of its images (from its state): those it checked
    against their names, and the images its package holds, when that package is still as it was written."""
    last = state.State.open(path)
    if last is None:
        return None, None
    try:
        meta = last.meta
        if not state.sealed(meta) or meta.get("content") != str(content_dir.resolve()):
            return None, None
        out: dict[str, Verified] = {}
        for raw in meta.get("media", []):
            path_, name, fig, taken = raw
            if type(path_) is not str or type(name) is not str or type(taken) is not int:
                return None, None
            if type(fig) is not list or len(fig) != 4 or any(type(x) is not int for x in fig):
                return None, None
            out[path_] = (name, (fig[0], fig[1], fig[2], fig[3]), taken)
        intact = meta.get("outputs") == state.output_figures(outputs)
        return out, last_package(outputs[0]) if intact else None
    except (TypeError, ValueError):
        return None, None
    finally:
        last.close()


def _set_aside(path: Path, keep: bool) -> None:
    """Before the outputs change: a state kept for updating is marked as describing no outputs, any other removed."""
    if not keep:
        state.forget(path)
        return
    last = state.State.open(path)
    if last is None:
        return
    last.close()
    last.invalidate()


def _keep_state(
    path: Path,
    rebuilt: Rebuilt,
    key: str,
    now: stamp.Inputs,
    content_dir: Path,
    lock_digest: str,
    outputs: tuple[Path, Path],
    verified: dict[str, Verified],
) -> None:
    """After the outputs were written: the state the next build starts from (updated, or written anew)."""
    marks = [[m.kind, m.hash, m.mod] for m in rebuilt.header.notetypes]
    meta = {
        "key": key,
        "content": str(content_dir.resolve()),
        "taken": now.taken_ns,
        "max_mod": max([0, *(m.mod for m in rebuilt.header.notetypes), *(r.mod for r in rebuilt.notes),
                        *(e.mod for e in rebuilt.identified.lock.notes)]),
        "notetypes": marks,
        "namespace": rebuilt.header.namespace,
        "collection": rebuilt.header.collection,
        # Notes of the one-card note type asking for a reversed card: a rebuild makes none (it falls back to a
        # full build when it would), so only a full build can leave any.
        "legacy_reverse": len(rebuilt.identified.legacy_reverse) if rebuilt.full else 0,
        "lock": lock_digest,
        "outputs": state.output_figures(outputs),
        "media": sorted([path, name, list(fig), taken] for path, (name, fig, taken) in verified.items()),
    }  # fmt: skip
    if rebuilt.full:
        state.write(path, state.Snapshot(rebuilt.files, rebuilt.made, rebuilt.removed_lines, meta))
        return
    last = state.State.open(path)
    if last is None:
        return
    last.close()
    last.update(
        rebuilt.redone_files,
        [f for f in rebuilt.files if f.rel in rebuilt.redone_files],
        rebuilt.touched,
        rebuilt.made,
        rebuilt.removed_lines,
        meta,
    )
