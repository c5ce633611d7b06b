"""The per-job store behind the kept downloads and the carried typing sample."""

from __future__ import annotations

import threading

from lakeport.job_scope import JobScoped


def _store() -> tuple[JobScoped[str], list[str]]:
    released: list[str] = []
    return JobScoped("test_scope", released.append), released


def test_values_live_for_the_block_and_are_released_at_its_end() -> None:
    store, released = _store()
    with store.scope():
        assert store.active() and store.put("a", "one")
        assert store.get("a") == "one" and released == []
    assert not store.active() and store.get("a") is None
    assert released == ["one"]


def test_outside_a_block_nothing_is_kept() -> None:
    store, released = _store()
    assert store.put("a", "one") is False
    assert store.get("a") is None and store.pop("a") is None and released == []


def test_a_replaced_value_is_released_and_a_popped_one_is_the_callers() -> None:
    store, released = _store()
    with store.scope():
        store.put("a", "one")
        store.put("a", "two")
        assert released == ["one"]
        assert store.pop("a") == "two"
    assert released == ["one"]


def test_a_job_on_another_thread_sees_only_its_own_values() -> None:
    store, _ = _store()
    seen: list[str | None] = []

    def other_job() -> None:
        with store.scope():
            seen.append(store.get("a"))
            store.put("a", "theirs")

    with store.scope():
        store.put("a", "mine")
        thread = threading.Thread(target=other_job)
        thread.start()
        thread.join()
        assert store.get("a") == "mine"
    assert seen == [None]
