"""Drafts: atomic autosave, recovery after a crash (SIGKILL), unreadable files kept aside."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from studio.core.drafts import Autosaver, Draft, DraftError, DraftStore

REPO = Path(__file__).resolve().parents[2]


def test_save_load_list_and_recover():
    store = DraftStore()
    a = store.new("Brief", "A poster for the fair", format="markdown")
    b = store.new("Alt text", "A red circle")
    b.meta["watermark"] = {"hashing_key": 7, "bias": 2.0, "greenlist_ratio": 0.25}
    store.save(b)
    assert store.load(b.id).meta["watermark"]["hashing_key"] == 7
    assert store.load(a.id).format == "markdown"
    store.mark_saved(a, "/tmp/brief.md")
    assert [d.id for d in store.recoverable()] == [b.id]
    store.discard(b.id)
    assert store.recoverable() == []
    assert not list(store.root.glob(".*.tmp"))


def test_autosave_after_a_pause_and_while_typing():
    store = DraftStore()
    saver = Autosaver(store, delay=0.2, max_wait=0.5)
    draft = store.new()
    try:
        draft.text = "hello"
        saver.changed(draft)
        assert store.load(draft.id).text == ""  # not yet: waits for a pause
        time.sleep(0.5)
        assert store.load(draft.id).text == "hello"
        # typing without pause is still saved every max_wait seconds
        start = time.monotonic()
        while time.monotonic() - start < 1.2:
            draft.text += "x"
            saver.changed(draft)
            time.sleep(0.02)
        saved = store.load(draft.id).text
        assert len(saved) > len("hello") + 10
    finally:
        saver.close()
    assert store.load(draft.id).text == draft.text  # close() flushes


def test_saved_or_discarded_document_is_not_resurrected_by_a_late_autosave():
    store = DraftStore()
    saver = Autosaver(store, delay=0.1, max_wait=0.2)
    draft = store.new(text="x")
    draft.text = "typed"
    saver.changed(draft)
    saver.discard(draft.id)
    time.sleep(0.4)
    saver.close()
    assert not store.file_of(draft.id).exists()


def test_unreadable_draft_is_a_clear_error_and_kept_aside():
    store = DraftStore()
    good = store.new(text="keep me")
    bad = store.file_of("0badc0de")
    bad.write_bytes(b'{"id": "0badc0de", "text": "half a dr')
    with pytest.raises(DraftError, match="damaged") as info:
        store.load("0badc0de")
    assert "nothing was deleted" in info.value.user_text()
    kept = store.root / "unreadable" / bad.name
    assert kept.read_bytes() == b'{"id": "0badc0de", "text": "half a dr'
    assert not bad.exists()
    # listing goes on past a damaged file, reporting it
    store.file_of("0badc0df").write_text("[1, 2]")
    assert [d.id for d in store.list()] == [good.id]
    assert len(store.problems) == 1 and "0badc0df" in store.problems[0]


def test_draft_from_a_newer_studio_is_left_in_place():
    store = DraftStore()
    path = store.file_of("f00")
    path.write_text(json.dumps({**Draft(id="f00").to_dict(), "version": 99}))
    with pytest.raises(DraftError, match="newer studio"):
        store.load("f00")
    assert path.exists()


TYPIST = """
import sys, time
from studio.core.drafts import Autosaver, DraftStore
store = DraftStore(sys.argv[1])
store.begin_session()
saver = Autosaver(store)  # the editor's defaults
draft = store.new("Typing")
alphabet = "abcdefghijklmnopqrstuvwxyz "
i = 0
while True:
    draft.text += alphabet[i % len(alphabet)]
    saver.changed(draft)
    i += 1
    print(f"{time.monotonic():.4f} {len(draft.text)}", flush=True)
    time.sleep(0.03)
"""


def test_sigkilled_writer_loses_at_most_five_seconds(tmp_path):
    root = tmp_path / "drafts"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-c", TYPIST, str(root)], stdout=subprocess.PIPE, text=True, env=env)
    typed: list[tuple[float, int]] = []

    def read() -> None:
        for line in proc.stdout:
            t, n = line.split()
            typed.append((float(t), int(n)))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    deadline = time.monotonic() + 30
    while (not typed or typed[-1][0] - typed[0][0] < 6.5) and time.monotonic() < deadline:
        time.sleep(0.1)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    reader.join(5)
    assert typed, "the typist never started"

    store = DraftStore(root)
    assert store.begin_session() is True  # the previous studio did not end cleanly
    drafts = store.recoverable()
    assert len(drafts) == 1
    text = drafts[0].text
    alphabet = "abcdefghijklmnopqrstuvwxyz "
    assert text == "".join(alphabet[i % len(alphabet)] for i in range(len(text)))  # an intact prefix
    typed_at = dict((n, t) for t, n in typed)
    last_time = typed[-1][0]
    lost_seconds = last_time - typed_at[len(text)] if text else last_time - typed[0][0]
    assert lost_seconds <= 5.0, f"lost {lost_seconds:.1f} s of typing"


def test_clean_exit_is_not_taken_for_a_crash():
    store = DraftStore()
    assert store.begin_session() is False  # first start
    store.end_session()
    assert DraftStore(store.root).begin_session() is False


def test_a_restore_offer_is_made_once_and_kept_with_the_draft():
    store = DraftStore()
    old = store.new("Yesterday", "An unsaved brief")
    assert [d.id for d in store.recoverable(include_offered=False)] == [old.id]
    store.mark_offered(store.recoverable(include_offered=False))
    again = DraftStore(store.root)
    assert again.recoverable(include_offered=False) == []  # a normal start does not ask again
    assert [d.id for d in again.recoverable()] == [old.id]  # after a crash it does; nothing was deleted
    assert again.load(old.id).text == "An unsaved brief"
