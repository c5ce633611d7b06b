import pytest

from lakeport.errors import ERROR_TABLE, LakeportError, TransientError


def test_every_code_has_a_status_and_title():
    for code, (status, title) in ERROR_TABLE.items():
        assert 400 <= status < 600, code
        assert title, code


def test_unknown_codes_are_refused_at_raise_time():
    with pytest.raises(ValueError):
        LakeportError("made_up", "x")


def test_transient_errors_are_not_terminal():
    assert LakeportError("parse_error", "x").terminal
    assert not TransientError("storage_error", "x").terminal
