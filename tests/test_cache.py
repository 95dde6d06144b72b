"""The parse cache: a rebuild re-parses only what changed, and a damaged or stale cache is never trusted."""

from __future__ import annotations

import os
import pickle
import shutil
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from flashmark import cache as cache_module
from flashmark import parallel
from flashmark.build import CACHE_DIR, build, load_corpus
from flashmark.cache import ParseCache, content_hash, decode, encode
from flashmark.config import Config, load_config
from flashmark.figures import RACY_NS
from flashmark.types import ParsedFile, Source


@pytest.fixture
def parses(monkeypatch) -> list[str]:
    """The files parse_source is called on (serial parsing, so the calls happen in this process)."""
    calls: list[str] = []
    real = parallel.parse_source

    def counting(source: Source, config: Config, *rest: Any) -> ParsedFile:
        calls.append(source.rel)
        return real(source, config, *rest)

    monkeypatch.setattr(parallel, "parse_source", counting)
    return calls


@pytest.fixture
def course(fixture_dir) -> Path:
    return fixture_dir("decks/course")


def settle() -> None:
    """Past the moment a file just written is trusted by its figures."""
    time.sleep(RACY_NS / 1e9 + 0.01)


def load(content: Path, cache_dir: Path, config: Config | None = None):
    return load_corpus(content, config or load_config(content), cache_dir=cache_dir, workers=1)


def entries(cache_dir: Path) -> list[Path]:
    return sorted((cache_dir / "parse").glob("*/*" + cache_module.SUFFIX))


def test_second_load_parses_nothing_and_matches(course: Path, tmp_path: Path, parses: list[str]) -> None:
    first = load(course, tmp_path / "c")
    assert sorted(parses) == ["cnn.md", "nlp/attention.md"]
    assert len(entries(tmp_path / "c")) == 2
    parses.clear()
    second = load(course, tmp_path / "c")
    assert parses == []
    assert second.files == first.files and second.merge == first.merge


def test_changed_content_reparses_that_file_only(course: Path, tmp_path: Path, parses: list[str]) -> None:
    load(course, tmp_path / "c")
    parses.clear()
    cnn = course / "cnn.md"
    stat = cnn.stat()
    cnn.write_text(cnn.read_text(encoding="utf-8").replace("得到特征图", "得到新的特征图"), encoding="utf-8")
    os.utime(cnn, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # same mtime: the content hash decides
    corpus = load(course, tmp_path / "c")
    assert parses == ["cnn.md"]
    assert any("得到新的特征图" in n.answers[0] for n in corpus.merge.notes)


def test_touching_a_file_without_changing_it_reparses_nothing(course: Path, tmp_path: Path, parses: list[str]) -> None:
    load(course, tmp_path / "c")
    parses.clear()
    os.utime(course / "cnn.md", ns=(1, 1))
    load(course, tmp_path / "c")
    assert parses == []


def test_config_change_reparses_everything(course: Path, tmp_path: Path, parses: list[str]) -> None:
    config = load_config(course)
    load(course, tmp_path / "c", config)
    parses.clear()
    load(course, tmp_path / "c", replace(config, deck="another name"))  # the deck name does not affect parsing
    assert parses == []
    load(course, tmp_path / "c", replace(config, extra_labels=config.extra_labels + ("要点",)))
    assert sorted(parses) == ["cnn.md", "nlp/attention.md"]


def test_new_flashmark_version_reparses_everything(
    course: Path, tmp_path: Path, parses: list[str], monkeypatch
) -> None:
    load(course, tmp_path / "c")
    parses.clear()
    monkeypatch.setattr(cache_module, "__version__", "99.0.0")
    cache_module.code_key.cache_clear()
    try:
        load(course, tmp_path / "c")
    finally:
        cache_module.code_key.cache_clear()
    assert sorted(parses) == ["cnn.md", "nlp/attention.md"]


def test_environment_key_covers_version_code_and_config() -> None:
    key = cache_module.environment_key(Config())
    assert key == cache_module.environment_key(Config(deck="other"))
    assert key != cache_module.environment_key(Config(allow_html=True))
    assert key != cache_module.environment_key(Config(skip_headings=("附录",)))


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: b"",
        lambda data: data[: len(data) // 2],
        lambda data: b"not a cache entry at all",
        lambda data: data[:8] + bytes(len(data) - 8),
        lambda data: data[:-40] + b"\x00" * 40,
    ],
    ids=["empty", "truncated", "garbage", "zeroed", "damaged-tail"],
)
def test_damaged_entry_is_a_miss_and_is_rewritten(course: Path, tmp_path: Path, parses: list[str], damage) -> None:
    good = load(course, tmp_path / "c")
    entry = ParseCache.open(tmp_path / "c", course, load_config(course)).entry_path("cnn.md")
    entry.write_bytes(damage(entry.read_bytes()))
    parses.clear()
    again = load(course, tmp_path / "c")
    assert parses == ["cnn.md"]
    assert again.files == good.files
    parses.clear()
    load(course, tmp_path / "c")
    assert parses == []


def test_entry_of_another_file_is_not_used(course: Path, tmp_path: Path, parses: list[str]) -> None:
    load(course, tmp_path / "c")
    cache = ParseCache.open(tmp_path / "c", course, load_config(course))
    other = cache.entry_path("nlp/attention.md").read_bytes()
    cache.entry_path("cnn.md").write_bytes(other)
    parses.clear()
    corpus = load(course, tmp_path / "c")
    assert parses == ["cnn.md"]
    assert [f.rel for f in corpus.files] == ["cnn.md", "nlp/attention.md"]


def test_deleted_and_renamed_files_drop_their_entries(course: Path, tmp_path: Path, parses: list[str]) -> None:
    load(course, tmp_path / "c")
    (course / "nlp" / "attention.md").rename(course / "attention.md")
    parses.clear()
    corpus = load(course, tmp_path / "c")
    assert parses == ["attention.md"]  # a file's path is part of what it parses to (deck, sources)
    assert {n.deck for n in corpus.merge.notes} == {"cnn", "注意力"}
    assert len(entries(tmp_path / "c")) == 2


def test_dependency_change_reparses(course: Path, tmp_path: Path, monkeypatch) -> None:
    """A file whose parse read other files (ParsedFile.deps, e.g. images) is re-parsed when one changes."""
    image = course / "figure.png"
    image.write_bytes(b"one")
    settle()
    real = parallel.parse_source
    calls: list[str] = []

    def parse_with_dep(source: Source, config: Config, *rest: Any) -> ParsedFile:
        calls.append(source.rel)
        parsed = real(source, config, *rest)
        return replace(parsed, deps=("figure.png",)) if source.rel == "cnn.md" else parsed

    monkeypatch.setattr(parallel, "parse_source", parse_with_dep)
    load(course, tmp_path / "c")
    calls.clear()
    load(course, tmp_path / "c")
    assert calls == []
    image.write_bytes(b"two, longer")
    settle()
    load(course, tmp_path / "c")
    assert calls == ["cnn.md"]
    calls.clear()
    image.unlink()
    load(course, tmp_path / "c")
    load(course, tmp_path / "c")
    assert calls == ["cnn.md", "cnn.md"]  # a missing dependency is never cached


def test_a_dependency_changed_as_the_file_was_parsed_is_not_cached(course: Path, tmp_path: Path) -> None:
    """An image written after the parse began (or just before) is not trusted by figures taken after the parse read
    it: it may have changed in between, so the parse is not cached."""
    (course / "figure.png").write_bytes(b"one")
    cache = ParseCache.open(tmp_path / "c", course, load_config(course))
    data = (course / "cnn.md").read_bytes()
    parsed = replace(next(f for f in load(course, tmp_path / "x").files if f.rel == "cnn.md"), deps=("figure.png",))
    cache.store(parsed.rel, content_hash(data), parsed, time.time_ns() - 10**9)  # began a second ago
    assert cache.load(parsed.rel, content_hash(data)) is None
    settle()
    cache.store(parsed.rel, content_hash(data), parsed, time.time_ns())
    assert cache.load(parsed.rel, content_hash(data)) == parsed


def test_unwritable_cache_is_skipped(course: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "c"
    blocker.write_text("a file where the cache folder would go", encoding="utf-8")
    corpus = load(course, blocker)
    assert len(corpus.merge.notes) == 4


def test_refused_cache_writes_leave_no_folder_behind(course: Path, tmp_path: Path, monkeypatch) -> None:
    def refuse(*args: object, **kwargs: object) -> tuple[int, str]:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(cache_module.tempfile, "mkstemp", refuse)
    corpus = load(course, tmp_path / "c")
    assert len(corpus.merge.notes) == 4
    assert not (tmp_path / "c").exists()


def test_build_keeps_its_cache_in_the_output_folder_and_survives_its_deletion(course: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    first = build(course, out)
    assert len(entries(out / CACHE_DIR)) == 2
    second = build(course, out)
    shutil.rmtree(out / CACHE_DIR)
    third = build(course, out)
    assert (
        [(n.guid, n.fields, n.tags, n.deck) for n in first.notes]
        == [(n.guid, n.fields, n.tags, n.deck) for n in second.notes]
        == [(n.guid, n.fields, n.tags, n.deck) for n in third.notes]
    )


def test_two_content_folders_share_an_output_folder(
    course: Path, fixture_dir, tmp_path: Path, parses: list[str]
) -> None:
    other = fixture_dir("merge")
    load(course, tmp_path / "c")
    load(other, tmp_path / "c")
    parses.clear()
    load(course, tmp_path / "c")
    load(other, tmp_path / "c")
    assert parses == []
    assert len(entries(tmp_path / "c")) == 4


def test_encode_decode_round_trip(course: Path) -> None:
    for parsed in load_corpus(course).files:
        assert decode(encode(parsed)) == parsed


def test_content_hash_is_of_the_bytes() -> None:
    assert content_hash(b"a") == content_hash(b"a") != content_hash(b"b")


# ---------------------------------------------------------------- poisoning


class _Planted:
    """What a planted pickle would run when unpickled: it leaves a marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (Path.write_text, (self.marker, "ran"))


def _plant(cache: ParseCache, rel: str, body: bytes) -> None:
    path = cache.entry_path(rel)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(body)


def test_a_planted_pickle_in_the_cache_is_never_run(course: Path, tmp_path: Path, parses: list[str]) -> None:
    load(course, tmp_path / "c")  # the build's own, private cache folder
    marker = tmp_path / "marker"
    cache = ParseCache.open(tmp_path / "c", course, load_config(course))
    for rel in ("cnn.md", "nlp/attention.md"):
        old = cache.entry_path(rel).read_bytes()
        header = old.split(b"\n", 2)  # magic, header, body: keep the valid header, swap in a pickle
        _plant(cache, rel, header[0] + b"\n" + header[1] + b"\n" + pickle.dumps(_Planted(marker)))
    _plant(cache, "cnn.md", pickle.dumps(_Planted(marker)))  # and one that is a pickle from the first byte
    parses.clear()
    corpus = load(course, tmp_path / "c")
    assert not marker.exists()
    assert sorted(parses) == ["cnn.md", "nlp/attention.md"]  # both were misses, parsed afresh
    assert len(corpus.merge.notes) == 4


def test_a_cache_folder_that_came_with_the_notes_is_ignored_with_a_notice(course: Path, tmp_path: Path) -> None:
    """A cloned repository may hold build/.cache: its entries would reach the cards unsanitised."""
    out = tmp_path / "out"
    good = build(course, out)
    forged = cache_module.to_json(
        replace(
            load(course, tmp_path / "scratch").files[0],
            questions=tuple(
                replace(q, answer_html='<script>alert(1)</script><img src=x onerror="alert(2)">')
                for q in load(course, tmp_path / "scratch").files[0].questions
            ),
        )
    )
    cache = ParseCache.open(out / CACHE_DIR, course, load_config(course))
    entry = cache.entry_path("cnn.md")
    magic, header, _ = entry.read_bytes().split(b"\n", 2)
    entry.write_bytes(magic + b"\n" + header + b"\n" + forged)
    for folder in (out / CACHE_DIR, out / CACHE_DIR / "parse", cache.folder):
        folder.chmod(0o755)  # as git checks a committed folder out
    result = build(course, out)
    assert [n.message for n in result.notices if n.kind == "cache"] == [
        "cache folder others may read or write it (flashmark makes its cache folders for its user alone); "
        "it is not used (delete it, and flashmark makes its own)"
    ]
    assert [rn.fields for rn in result.notes] == [rn.fields for rn in good.notes]
    assert all("script" not in field for rn in result.notes for field in rn.fields)


def test_cache_entries_are_data_and_round_trip(course: Path, tmp_path: Path) -> None:
    for parsed in load(course, tmp_path / "c").files:
        blob = cache_module.to_json(parsed)
        assert cache_module.from_json(blob) == parsed
        with pytest.raises(ValueError):
            cache_module.from_json(blob.replace(b'"cnn.md"', b"17", 1) if b'"cnn.md"' in blob else b"[1]")
