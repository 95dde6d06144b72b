"""Incremental builds equal full builds: after any sequence of edits, the deck, the lock file and the report that a
rebuild (from the last build's state, or "up to date") leaves are those a full build of the same folder makes.

The folder is generated from a model the test keeps (files → topics → questions), with few titles, answers and
ids to draw from, so that edits make questions merge, stop merging, share answers, move between files, clash in
their keys and come back. Each step edits a working folder, copies it (lock file included) and builds both: the
working one into the output folder it always uses, the copy from scratch (`force=True`, a fresh output folder).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import tempfile
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import flashmark.incremental as incremental
from ankitools import import_apkg, new_card_order
from flashmark import stamp
from flashmark import state as state_module
from flashmark.build import CACHE_DIR, build
from flashmark.errors import FlashmarkError
from flashmark.incremental import LazyNotes
from flashmark.markdown.media import media_name

PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000") + b"\x1f\x15\xc4\x89" * 4
TITLES = [
    "什么是卷积？",
    "什么是池化？",
    "What is dropout?",
    "什么是深度卷积？",
    "What is a residual block?",
    "卷积是什么？",
]
ANSWERS = [
    "用一个小的卷积核在输入上滑动并做加权求和，得到特征图。",
    "在局部窗口内取最大值，降低分辨率并带来一定的平移不变性。",
    "Randomly zeroing activations during training so units cannot co-adapt.",
    "![图](img/a.png) 逐通道卷积之后再做逐点卷积，参数量小得多。",
    "A {{c1::skip connection}} adds the input of a block to its output.",
]
ANCHORS = [None, None, None, "conv", "pool"]
TOPICS = ["基础", "进阶", "Basics"]


@dataclass
class Q:
    title: str
    answer: str
    anchor: str | None = None
    reverse: bool = False

    def markdown(self) -> str:
        attrs = [f"#{self.anchor}"] if self.anchor else []
        if self.reverse:
            attrs.append("reverse")
        heading = self.title + (f" {{{' '.join(attrs)}}}" if attrs else "")
        return f"### {heading}\n\n**答案：** {self.answer}\n"


@dataclass
class Folder:
    files: dict[str, dict[str, list[Q]]] = field(default_factory=dict)  # name → topic → questions
    lead: dict[str, int] = field(default_factory=dict)  # blank lines above a file's first heading
    reverse: bool = False
    picture: int = 0

    def write(self, root: Path) -> None:
        """Write the folder as an editor would: only the files whose text changed."""
        texts: dict[Path, bytes] = {}
        for name, topics in self.files.items():
            parts = ["\n" * self.lead.get(name, 0) + f"# {Path(name).stem}\n"]
            for topic, questions in topics.items():
                parts.append(f"## {topic}\n")
                parts.extend(q.markdown() for q in questions)
            texts[root / name] = "\n".join(parts).encode()
        texts[root / "flashmark.toml"] = f'deck = "增量"\nreverse = {str(self.reverse).lower()}\n'.encode()
        texts[root / "img" / "a.png"] = PNG + bytes([self.picture])
        for path in [*root.rglob("*.md"), *root.rglob("*.toml"), *root.rglob("*.png")]:
            if path not in texts:
                path.unlink()
        for path, data in texts.items():
            if not path.is_file() or path.read_bytes() != data:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)


def questions_st() -> st.SearchStrategy[Q]:
    return st.builds(Q, st.sampled_from(TITLES), st.sampled_from(ANSWERS), st.sampled_from(ANCHORS), st.booleans())


def folders() -> st.SearchStrategy[Folder]:
    topic = st.dictionaries(st.sampled_from(TOPICS), st.lists(questions_st(), min_size=1, max_size=3), max_size=2)
    names = st.sampled_from(["a.md", "b.md", "sub/c.md", "sub/d.md"])
    return st.builds(Folder, st.dictionaries(names, topic, min_size=1, max_size=3))


# ---------------------------------------------------------------- edits


Edit = Callable[[Folder, Any], None]


def _questions(f: Folder) -> list[tuple[str, str, int]]:
    return [
        (name, topic, i) for name, topics in f.files.items() for topic, qs in topics.items() for i in range(len(qs))
    ]


def _pick(f: Folder, n: int) -> tuple[str, str, int] | None:
    found = _questions(f)
    return found[n % len(found)] if found else None


def edit_answer(f: Folder, n: int) -> None:
    if (at := _pick(f, n)) is not None:
        q = f.files[at[0]][at[1]][at[2]]
        q.answer = ANSWERS[(ANSWERS.index(q.answer) + 1) % len(ANSWERS)] if q.answer in ANSWERS else ANSWERS[0]


def reword_answer(f: Folder, n: int) -> None:
    if (at := _pick(f, n)) is not None:
        f.files[at[0]][at[1]][at[2]].answer += f" 补充 {n}。"


def retitle(f: Folder, n: int) -> None:
    if (at := _pick(f, n)) is not None:
        f.files[at[0]][at[1]][at[2]].title = TITLES[n % len(TITLES)]


def toggle_anchor(f: Folder, n: int) -> None:
    if (at := _pick(f, n)) is not None:
        q = f.files[at[0]][at[1]][at[2]]
        q.anchor = None if q.anchor else ANCHORS[3 + n % 2]


def toggle_reverse(f: Folder, n: int) -> None:
    if (at := _pick(f, n)) is not None:
        q = f.files[at[0]][at[1]][at[2]]
        q.reverse = not q.reverse


def add_question(f: Folder, n: int) -> None:
    names = sorted(f.files) or ["a.md"]
    topics = f.files.setdefault(names[n % len(names)], {})
    topics.setdefault(TOPICS[n % len(TOPICS)], []).insert(
        n % 2, Q(TITLES[n % len(TITLES)], ANSWERS[(n // 2) % len(ANSWERS)])
    )


def delete_question(f: Folder, n: int) -> None:
    if (at := _pick(f, n)) is not None and len(_questions(f)) > 1:
        del f.files[at[0]][at[1]][at[2]]
        if not f.files[at[0]][at[1]]:
            del f.files[at[0]][at[1]]


def move_question(f: Folder, n: int) -> None:
    if (at := _pick(f, n)) is not None:
        q = f.files[at[0]][at[1]].pop(at[2])
        if not f.files[at[0]][at[1]]:
            del f.files[at[0]][at[1]]
        target = ["a.md", "b.md", "sub/c.md"][n % 3]
        f.files.setdefault(target, {}).setdefault(TOPICS[n % len(TOPICS)], []).append(q)


def copy_question(f: Folder, n: int) -> None:
    """The same question in another file: it merges (same answer), or is kept apart."""
    if (at := _pick(f, n)) is not None:
        q = f.files[at[0]][at[1]][at[2]]
        target = ["b.md", "sub/d.md"][n % 2]
        f.files.setdefault(target, {}).setdefault(TOPICS[(n + 1) % len(TOPICS)], []).append(Q(q.title, q.answer))


def rename_file(f: Folder, n: int) -> None:
    names = sorted(f.files)
    if names:
        old = names[n % len(names)]
        new = f"moved{n % 3}/{Path(old).name}"
        if new not in f.files:
            f.files[new] = f.files.pop(old)


def shift_lines(f: Folder, n: int) -> None:
    names = sorted(f.files)
    if names:
        name = names[n % len(names)]
        f.lead[name] = f.lead.get(name, 0) + 1 + n % 3


def toggle_settings(f: Folder, n: int) -> None:
    f.reverse = not f.reverse


def change_picture(f: Folder, n: int) -> None:
    f.picture = (f.picture + 1) % 256


def nothing(f: Folder, n: int) -> None:
    pass


EDITS: list[Edit] = [
    edit_answer, reword_answer, retitle, toggle_anchor, toggle_reverse, add_question, delete_question,
    move_question, copy_question, rename_file, shift_lines, toggle_settings, change_picture, nothing,
]  # fmt: skip


# ---------------------------------------------------------------- what a build leaves


def sha1(path: Path) -> str:
    return hashlib.sha1(path.read_bytes()).hexdigest()


def apkg_view(path: Path) -> dict[str, Any]:
    """A deck's contents apart from row ids: notes, cards with their decks, decks, note types, media."""
    with tempfile.TemporaryDirectory() as scratch, zipfile.ZipFile(path) as z:
        z.extract("collection.anki2", scratch)
        names = json.loads(z.read("media"))
        media = sorted((name, hashlib.sha1(z.read(n)).hexdigest()) for n, name in names.items())
        db = sqlite3.connect(Path(scratch) / "collection.anki2")
        try:
            decks = json.loads(db.execute("SELECT decks FROM col").fetchone()[0])
            models = json.loads(db.execute("SELECT models FROM col").fetchone()[0])
            deck_names = {int(k): v["name"] for k, v in decks.items()}
            notes = sorted(db.execute("SELECT guid, mid, mod, tags, flds, sfld FROM notes").fetchall())
            cards = sorted(  # with each new card's place in the order Anki studies them
                (guid, ord_, deck_names[did], mod, due)
                for guid, ord_, did, mod, due in db.execute(
                    "SELECT n.guid, c.ord, c.did, c.mod, c.due FROM cards c JOIN notes n ON n.id = c.nid"
                )
            )
        finally:
            db.close()
    types = sorted((k, m["mod"], m["did"], json.dumps(m["flds"]), json.dumps(m["tmpls"])) for k, m in models.items())
    return {"notes": notes, "cards": cards, "decks": sorted(deck_names.values()), "models": types, "media": media}


SINCE_LAST = ("removed", "matched", "restored", "moved")


def report_view(path: Path, whole: bool) -> dict[str, Any]:
    """The report without what differs by machine; without what changed since the last build unless `whole`."""
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    for key in ("seconds", "output", "lock"):
        data.pop(key)
    if not whole:
        for key in SINCE_LAST:
            data.pop(key)
        data["counts"].pop("removed")
    return data


@dataclass
class Outcome:
    error: str | None
    deck: dict[str, Any] | None = None
    report: dict[str, Any] | None = None
    lock: str | None = None
    unchanged: bool = False


def built(content: Path, out: Path, **options: Any) -> Outcome:
    try:
        result = build(content, out, **options)
    except FlashmarkError as exc:
        return Outcome(str(exc))
    lock = (content / "flashmark.lock").read_text(encoding="utf-8")
    whole = result.unchanged is None
    return Outcome(None, apkg_view(result.output), report_view(result.report, whole), lock, not whole)


@pytest.fixture
def used(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Whether each rebuild was made from the last build's state (True) or was a full one (False)."""
    seen: list[bool] = []
    real = incremental._rebuild

    def spy(*args: Any, **kwargs: Any) -> Any:
        try:
            rebuilt = real(*args, **kwargs)
        except Exception:
            seen.append(False)
            raise
        seen.append(rebuilt is not None)
        return rebuilt

    monkeypatch.setattr(incremental, "_rebuild", spy)
    return seen


def settle() -> None:
    time.sleep(stamp.RACY_NS / 1e9 + 0.01)


def run_steps(folder: Folder, steps: list[tuple[int, int]], root: Path, clock: list[float]) -> None:
    work, out = root / "work", root / "out"
    work.mkdir()
    folder.write(work)
    settle()
    for n, (edit, arg) in enumerate([(len(EDITS) - 1, 0), *steps]):
        EDITS[edit](folder, arg)
        folder.write(work)
        settle()
        copy = root / f"copy{n}"
        shutil.copytree(work, copy)
        clock[0] += 1  # both builds see the same time, so new notes get the same modification time
        incremental_build = built(work, out)
        full_build = built(copy, root / f"fresh{n}", force=True)
        assert incremental_build.error == full_build.error, f"step {n}: {EDITS[edit].__name__}"
        if full_build.error is not None:
            continue
        context = f"step {n}: {EDITS[edit].__name__}({arg})"
        assert incremental_build.deck == full_build.deck, context
        assert incremental_build.lock == full_build.lock, context
        if incremental_build.unchanged:  # the report on disk is the last build's: what it saw change is its own
            assert full_build.report is not None
            for key in SINCE_LAST:
                full_build.report.pop(key)
            full_build.report["counts"].pop("removed")
        assert incremental_build.report == full_build.report, context
        shutil.rmtree(copy)
        shutil.rmtree(root / f"fresh{n}")


@pytest.fixture
def frozen_clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    clock = [1_800_000_000.0]
    monkeypatch.setattr("flashmark.build.time.time", lambda: clock[0])
    return clock


@settings(max_examples=25, deadline=None)
@given(folder=folders(), steps=st.lists(st.tuples(st.integers(0, len(EDITS) - 1), st.integers(0, 50)), max_size=5))
def test_incremental_builds_equal_full_builds(folder: Folder, steps: list[tuple[int, int]]) -> None:
    with pytest.MonkeyPatch.context() as mp, tempfile.TemporaryDirectory() as scratch:
        clock = [1_800_000_000.0]
        mp.setattr("flashmark.build.time.time", lambda: clock[0])
        run_steps(folder, steps, Path(scratch), clock)


def test_an_answer_edit_is_rebuilt_from_the_state(tmp_path: Path, used: list[bool], frozen_clock) -> None:
    folder = Folder({"a.md": {"基础": [Q(TITLES[0], ANSWERS[0])]}, "b.md": {"进阶": [Q(TITLES[1], ANSWERS[1])]}})
    run_steps(folder, [(EDITS.index(reword_answer), 0), (EDITS.index(add_question), 3)], tmp_path, frozen_clock)
    assert used == [True, True]  # the first build has no state; both rebuilds do


def test_a_rebuilds_notes_are_the_full_builds(tmp_path: Path, used: list[bool], frozen_clock) -> None:
    """The notes a rebuild kept are read from its state when asked for: the same records a full build makes."""
    folder = Folder({"a.md": {"基础": [Q(TITLES[0], ANSWERS[0])]}, "b.md": {"进阶": [Q(TITLES[3], ANSWERS[3])]}})
    run_steps(folder, [], tmp_path, frozen_clock)
    reword_answer(folder, 0)
    folder.write(tmp_path / "work")
    settle()
    rebuilt = build(tmp_path / "work", tmp_path / "out")
    assert used == [True] and len(rebuilt.notes) == 2
    full = build(tmp_path / "work", tmp_path / "full", force=True)
    assert rebuilt.notes == full.notes and list(rebuilt.notes) == list(full.notes)
    assert [rn.note.media for rn in rebuilt.notes] == [rn.note.media for rn in full.notes]


@pytest.mark.parametrize("edit", [e for e in EDITS if e not in (toggle_settings, nothing)], ids=lambda e: e.__name__)
def test_every_edit_kind(tmp_path: Path, edit: Edit, frozen_clock) -> None:
    folder = Folder(
        {
            "a.md": {"基础": [Q(TITLES[0], ANSWERS[0], "conv"), Q(TITLES[1], ANSWERS[3])]},
            "b.md": {"进阶": [Q(TITLES[0], ANSWERS[0]), Q(TITLES[2], ANSWERS[2], reverse=True)]},
            "sub/c.md": {"Basics": [Q(TITLES[3], ANSWERS[4]), Q(TITLES[5], ANSWERS[0])]},
        }
    )
    run_steps(folder, [(EDITS.index(edit), n) for n in range(4)], tmp_path, frozen_clock)


def test_settings_change_is_a_full_build(tmp_path: Path, used: list[bool], frozen_clock) -> None:
    folder = Folder({"a.md": {"基础": [Q(TITLES[0], ANSWERS[0])]}})
    run_steps(folder, [(EDITS.index(toggle_settings), 0)], tmp_path, frozen_clock)
    assert used == []  # the settings are part of the state's key: no rebuild from it is even tried


@pytest.mark.parametrize(
    "damage",
    [
        "UPDATE notes SET packed = 'x'",
        "UPDATE notes SET packed = replace(packed, '基础', '基础' || char(30))",
        "UPDATE notes SET guid = 7",
        "UPDATE files SET data = '{}'",
        "DELETE FROM note_keys WHERE rowid = 1",
        "UPDATE note_files SET key = 'x'",
        "DROP TABLE note_keys",
        "UPDATE meta SET v = '[]' WHERE k = 'notetypes'",
    ],
)
def test_damaged_state_is_a_full_build(tmp_path: Path, used: list[bool], frozen_clock, damage: str) -> None:
    folder = Folder({"a.md": {"基础": [Q(TITLES[0], ANSWERS[0])]}, "b.md": {"进阶": [Q(TITLES[1], ANSWERS[1])]}})
    run_steps(folder, [], tmp_path, frozen_clock)
    (state,) = (tmp_path / "out" / CACHE_DIR / "state").glob("*.sqlite")
    db = sqlite3.connect(state)
    db.execute(damage)
    db.commit()
    db.close()
    reword_answer(folder, 1)
    folder.write(tmp_path / "work")
    settle()
    result = build(tmp_path / "work", tmp_path / "out")
    assert used in ([False], []) and result.unchanged is None and len(result.notes) == 2
    assert result.notes == build(tmp_path / "work", tmp_path / "again", force=True).notes
    (warning,) = [n for n in result.notices if n.kind == "state"]
    assert warning.file == str(state) and "build state not used" in warning.message
    settle()
    again = build(tmp_path / "work", tmp_path / "out")  # the state written anew is used, and nothing is said of it
    assert again.unchanged is not None and not [n for n in again.notices if n.kind == "state"]


def test_state_that_is_not_a_database_is_replaced_with_a_warning(tmp_path: Path, frozen_clock) -> None:
    folder = Folder({"a.md": {"基础": [Q(TITLES[0], ANSWERS[0])]}})
    run_steps(folder, [], tmp_path, frozen_clock)
    (state,) = (tmp_path / "out" / CACHE_DIR / "state").glob("*.sqlite")
    state.write_bytes(b"not a database at all" * 100)
    reword_answer(folder, 0)
    folder.write(tmp_path / "work")
    settle()
    result = build(tmp_path / "work", tmp_path / "out")
    (warning,) = [n for n in result.notices if n.kind == "state"]
    assert "cannot be read" in warning.message
    assert state_module.State.open(state) is not None  # written anew


def test_state_of_another_content_folder_is_not_trusted(tmp_path: Path, frozen_clock) -> None:
    """A state file that names another content folder (copied into place) is not used, and the build says so."""
    folder = Folder({"a.md": {"基础": [Q(TITLES[0], ANSWERS[0])]}})
    run_steps(folder, [], tmp_path, frozen_clock)
    other = tmp_path / "other"
    shutil.copytree(tmp_path / "work", other)
    (state,) = (tmp_path / "out" / CACHE_DIR / "state").glob("*.sqlite")
    output = build(tmp_path / "work", tmp_path / "out").output
    shutil.copy(state, state_module.state_path(tmp_path / "out" / CACHE_DIR, other, output))
    settle()
    result = build(other, tmp_path / "out")
    (warning,) = [n for n in result.notices if n.kind == "state"]
    assert "another content folder" in warning.message


def test_state_from_another_folder_is_not_used(tmp_path: Path, used: list[bool], frozen_clock) -> None:
    folder = Folder({"a.md": {"基础": [Q(TITLES[0], ANSWERS[0])]}})
    run_steps(folder, [], tmp_path, frozen_clock)
    other = tmp_path / "other"
    shutil.copytree(tmp_path / "work", other)
    reword_answer(folder, 1)
    folder.write(other)
    settle()
    build(other, tmp_path / "out")
    assert used == []  # the state is keyed by content folder and deck: the other folder has none


def test_notes_of_an_earlier_rebuild_changed_since_are_an_error(tmp_path: Path, frozen_clock) -> None:
    """A rebuild's kept notes are read from its state when asked for; one a later build changed is not passed off."""
    folder = Folder({"a.md": {"基础": [Q(TITLES[0], ANSWERS[0])]}, "b.md": {"进阶": [Q(TITLES[1], ANSWERS[1])]}})
    run_steps(folder, [], tmp_path, frozen_clock)
    reword_answer(folder, 1)
    folder.write(tmp_path / "work")
    settle()
    earlier = build(tmp_path / "work", tmp_path / "out")  # keeps a.md's note, remakes b.md's
    reword_answer(folder, 0)
    folder.write(tmp_path / "work")
    settle()
    frozen_clock[0] += 1
    later = build(tmp_path / "work", tmp_path / "out")  # remakes a.md's note
    assert len(earlier.notes) == 2 and len(later.notes) == 2
    with pytest.raises(FlashmarkError, match="build again"):
        list(earlier.notes)
    assert [rn.key for rn in later.notes] == [rn.key for rn in build(tmp_path / "work", tmp_path / "x").notes]


def test_unchanged_images_are_not_hashed_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, frozen_clock) -> None:
    """An image the last build checked, unchanged since (size, times, inode), is packed without hashing it again."""
    import flashmark.anki.package as package

    hashed: list[str] = []
    real = package.media_name

    def counting(data: bytes, suffix: str) -> str:
        hashed.append(suffix)
        return real(data, suffix)

    monkeypatch.setattr(package, "media_name", counting)
    folder = Folder({"a.md": {"基础": [Q(TITLES[3], ANSWERS[3])]}, "b.md": {"进阶": [Q(TITLES[1], ANSWERS[1])]}})
    run_steps(folder, [], tmp_path, frozen_clock)
    assert hashed  # the first build checks the image it packs
    hashed.clear()
    reword_answer(folder, 1)  # b.md, which has no image
    folder.write(tmp_path / "work")
    settle()
    result = build(tmp_path / "work", tmp_path / "out")
    assert hashed == [] and result.unchanged is None
    change_picture(folder, 0)
    folder.write(tmp_path / "work")
    settle()
    build(tmp_path / "work", tmp_path / "out")
    assert hashed == [".png"]  # a changed image is checked again


def test_unchanged_images_are_not_read_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, frozen_clock) -> None:
    """Editing the text beside a picture: the rebuild neither reads nor hashes the picture (its entry is copied
    from the last package as stored), and Anki imports the deck with the picture's bytes intact."""
    real = Path.read_bytes
    read: list[str] = []

    def reading(self: Path) -> bytes:
        if self.suffix == ".png":
            read.append(self.name)
        return real(self)

    folder = Folder({"a.md": {"基础": [Q(TITLES[3], ANSWERS[3])]}, "b.md": {"进阶": [Q(TITLES[1], ANSWERS[1])]}})
    run_steps(folder, [], tmp_path, frozen_clock)
    reword_answer(folder, 0)  # a.md, the file with the picture: its parse resolves the picture again
    folder.write(tmp_path / "work")
    settle()
    monkeypatch.setattr(Path, "read_bytes", reading)
    result = build(tmp_path / "work", tmp_path / "out")
    assert isinstance(result.notes, LazyNotes) and read == []
    monkeypatch.undo()
    fresh = build(tmp_path / "work", tmp_path / "fresh", force=True)
    assert apkg_view(result.output) == apkg_view(fresh.output)
    anki = import_apkg(result.output, tmp_path / "collection.anki2")
    picture = (tmp_path / "work" / "img" / "a.png").read_bytes()
    assert [(anki.media_dir / name).read_bytes() for name in anki.media_files] == [picture]


def test_an_image_saved_during_a_rebuild_never_leaves_the_old_picture(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, frozen_clock
) -> None:
    """A picture saved just after the parse named it from the last build's check (an editor saving while `watch`
    builds): the deck never keeps the old picture, neither now nor in the builds that follow."""
    from flashmark.cache import ParseCache

    folder = Folder({"a.md": {"基础": [Q(TITLES[3], ANSWERS[3])]}, "b.md": {"进阶": [Q(TITLES[1], ANSWERS[1])]}})
    run_steps(folder, [], tmp_path, frozen_clock)
    reword_answer(folder, 0)  # a.md, the file showing the picture
    folder.write(tmp_path / "work")
    settle()
    real = ParseCache.store

    def saving_the_picture(self: ParseCache, *args: Any) -> None:
        change_picture(folder, 0)
        folder.write(tmp_path / "work")
        monkeypatch.setattr(ParseCache, "store", real)
        real(self, *args)

    monkeypatch.setattr(ParseCache, "store", saving_the_picture)
    picture = tmp_path / "work" / "img" / "a.png"
    for _ in range(3):
        result = build(tmp_path / "work", tmp_path / "out")
        assert apkg_view(result.output)["media"] == [(media_name(picture.read_bytes(), ".png"), sha1(picture))]
        settle()


@pytest.fixture
def patched(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Whether each package written was made by patching the last package's collection."""
    import flashmark.anki.package as package

    seen: list[bool] = []
    real = package._patched

    def spy(*args: Any) -> bool:
        seen.append(real(*args))
        return seen[-1]

    monkeypatch.setattr(package, "_patched", spy)
    return seen


def test_a_rebuild_patches_the_last_collection(tmp_path: Path, patched: list[bool], frozen_clock) -> None:
    """One answer edited: the last package's collection is patched (its other notes' rows stay as they were),
    within the same millisecond as the last build too, and Anki sees the same deck a build from scratch makes."""
    folder = Folder(
        {
            "a.md": {"基础": [Q(TITLES[0], ANSWERS[0]), Q(TITLES[3], ANSWERS[3])]},
            "b.md": {"进阶": [Q(TITLES[1], ANSWERS[1], reverse=True)]},
            "c.md": {"进阶": [Q(TITLES[4], ANSWERS[4])]},
        }
    )
    run_steps(folder, [], tmp_path, frozen_clock)  # the clock stands still: new ids must not reuse old ones
    first = build(tmp_path / "work", tmp_path / "out", force=True)
    anki = import_apkg(first.output, tmp_path / "col.anki2")
    reword_answer(folder, 2)
    folder.write(tmp_path / "work")
    settle()
    patched.clear()
    result = build(tmp_path / "work", tmp_path / "out")
    assert patched == [True] and isinstance(result.notes, LazyNotes)
    fresh = build(tmp_path / "work", tmp_path / "fresh", force=True)
    assert apkg_view(result.output) == apkg_view(fresh.output)
    again = import_apkg(result.output, tmp_path / "col.anki2")
    assert again.imported["updated"] == 1 and again.card_count == anki.card_count
    assert {g: n.card_ids for g, n in again.notes.items()} == {g: n.card_ids for g, n in anki.notes.items()}


def test_a_patched_deck_is_studied_in_the_order_of_a_deck_written_whole(tmp_path: Path, patched: list[bool]) -> None:
    """Anki studies new cards by their place, then by id: a note a rebuild redoes (new ids, above the kept
    notes') and a note added before kept ones still come where a build from scratch puts them."""
    work = tmp_path / "work"
    work.mkdir()

    def write(name: str, *questions: tuple[str, str]) -> None:
        body = "".join(f"### {title}\n\n**答案：** {answer}\n\n" for title, answer in questions)
        (work / name).write_text(f"---\ndeck: 同一\n---\n{body}", encoding="utf-8")

    write("a.md", ("Alpha?", "一"), ("Beta? {reverse}", "二"))
    write("b.md", ("Gamma?", "三"), ("Delta?", "四"))
    settle()
    build(work, tmp_path / "out")
    write("a.md", ("Alpha?", "一，改过"), ("Epsilon?", "五"), ("Beta? {reverse}", "二"))
    settle()
    patched.clear()
    result = build(work, tmp_path / "out")
    assert patched == [True]  # b.md's notes were kept, a.md's redone
    fresh = build(work, tmp_path / "fresh", force=True)
    import_apkg(result.output, tmp_path / "rebuilt.anki2")
    import_apkg(fresh.output, tmp_path / "fresh.anki2")
    order = new_card_order(tmp_path / "rebuilt.anki2", "work::同一")
    assert [title for title, _ in order][:2] == ["Alpha?", "Epsilon?"]
    assert order == new_card_order(tmp_path / "fresh.anki2", "work::同一")


def test_a_note_taken_out_of_a_patched_deck_leaves_no_trace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, patched: list[bool]
) -> None:
    """Deleted rows are overwritten, even where SQLite is built to leave them in free pages (its default)."""
    real = sqlite3.connect

    def connect(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        db = real(*args, **kwargs)
        db.execute("PRAGMA secure_delete=OFF")
        return db

    monkeypatch.setattr(sqlite3, "connect", connect)
    work = tmp_path / "work"
    work.mkdir()
    (work / "a.md").write_text("### Alpha?\n\n**答案：** 一\n", encoding="utf-8")
    (work / "b.md").write_text("### Secret?\n\n**答案：** PASSWORD-4711\n", encoding="utf-8")
    settle()
    build(work, tmp_path / "out")
    (work / "b.md").unlink()
    settle()
    patched.clear()
    result = build(work, tmp_path / "out")
    assert patched == [True]
    with zipfile.ZipFile(result.output) as z:
        assert b"PASSWORD-4711" not in z.read("collection.anki2")


def test_another_tag_filter_patches_the_last_collection(tmp_path: Path, patched: list[bool], frozen_clock) -> None:
    """A build for other tags takes the notes now left out out of the last package's collection and puts in
    those now chosen (kept notes it did not hold)."""
    folder = Folder({"a.md": {"基础": [Q(TITLES[0], ANSWERS[0])], "进阶": [Q(TITLES[1], ANSWERS[1])]}})
    run_steps(folder, [], tmp_path, frozen_clock)
    build(tmp_path / "work", tmp_path / "out", tags=["a::基础"])
    patched.clear()
    result = build(tmp_path / "work", tmp_path / "out", tags=["a::进阶"])
    assert patched == [True]
    fresh = build(tmp_path / "work", tmp_path / "fresh", tags=["a::进阶"], force=True)
    assert apkg_view(result.output) == apkg_view(fresh.output) and len(apkg_view(result.output)["notes"]) == 1


def test_a_collection_that_cannot_be_patched_is_written_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, patched: list[bool], frozen_clock
) -> None:
    from flashmark.anki.package import BulkPackage

    def broken(*args: Any) -> None:
        raise sqlite3.DatabaseError("database disk image is malformed")

    folder = Folder({"a.md": {"基础": [Q(TITLES[0], ANSWERS[0])]}, "b.md": {"进阶": [Q(TITLES[1], ANSWERS[1])]}})
    run_steps(folder, [], tmp_path, frozen_clock)
    monkeypatch.setattr(BulkPackage, "patch_db", broken)
    reword_answer(folder, 1)
    folder.write(tmp_path / "work")
    settle()
    patched.clear()
    result = build(tmp_path / "work", tmp_path / "out")
    assert patched == [False]
    assert apkg_view(result.output) == apkg_view(build(tmp_path / "work", tmp_path / "fresh", force=True).output)


def test_a_last_package_that_cannot_be_copied_from_means_reading_the_images(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, frozen_clock
) -> None:
    """When the last package's entries cannot be copied, the images are read from the folder instead."""
    import flashmark.anki.package as package

    def broken(*args: object) -> None:
        raise zipfile.BadZipFile("truncated")

    folder = Folder({"a.md": {"基础": [Q(TITLES[3], ANSWERS[3])]}, "b.md": {"进阶": [Q(TITLES[1], ANSWERS[1])]}})
    run_steps(folder, [], tmp_path, frozen_clock)
    monkeypatch.setattr(package, "copy_entry", broken)
    reword_answer(folder, 1)
    folder.write(tmp_path / "work")
    settle()
    result = build(tmp_path / "work", tmp_path / "out")
    assert result.unchanged is None
    assert apkg_view(result.output) == apkg_view(build(tmp_path / "work", tmp_path / "fresh", force=True).output)


def test_a_relative_output_folder_rebuilds_from_the_state(
    tmp_path: Path, used: list[bool], frozen_clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`flashmark build notes -o build`, as the README writes it: the state is found by a relative path too."""
    folder = Folder({"a.md": {"基础": [Q(TITLES[0], ANSWERS[0])]}, "b.md": {"进阶": [Q(TITLES[1], ANSWERS[1])]}})
    (tmp_path / "work").mkdir()
    folder.write(tmp_path / "work")
    monkeypatch.chdir(tmp_path)
    settle()
    build(Path("work"), Path("out"))
    reword_answer(folder, 0)
    folder.write(tmp_path / "work")
    settle()
    result = build(Path("work"), Path("out"))
    assert used == [True] and result.unchanged is None


def test_a_rebuild_keeps_the_warning_about_old_notes_that_ask_for_a_reversed_card(
    tmp_path: Path, used: list[bool]
) -> None:
    """That warning spans every such note: a folder that has them is rebuilt in full, and keeps saying so."""
    notes = Path(shutil.copytree(Path(__file__).parent / "fixtures" / "upgrade_v0_1" / "notes", tmp_path / "notes"))
    settings = notes / "flashmark.toml"
    settings.write_text((settings.read_text(encoding="utf-8") if settings.exists() else "") + "reverse = true\n")
    settle()
    first = build(notes, tmp_path / "out")
    warned = [n for n in first.notices if n.kind == "reverse"]
    assert warned
    page = notes / "basics.md"
    page.write_text(page.read_text(encoding="utf-8") + "\n\n## 新问题\n\n**答案：** 新的答案。\n", encoding="utf-8")
    settle()
    again = build(notes, tmp_path / "out")
    assert [n for n in again.notices if n.kind == "reverse"] and used == []
    full = build(notes, tmp_path / "fresh", force=True)
    assert again.notices == full.notices
