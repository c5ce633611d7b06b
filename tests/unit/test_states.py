import pytest

from lakeport.domain.states import STEPS, done_state, resume_point, running_state


def test_fresh_upload_starts_at_combine():
    assert resume_point(None).next_step == "combine"


@pytest.mark.parametrize(("step", "running", "done"), STEPS)
def test_interrupted_step_is_rerun_and_finished_step_is_skipped(step, running, done):
    assert resume_point(running).next_step == step
    names = [s for s, _, _ in STEPS]
    following = names[names.index(step) + 1] if step != names[-1] else None
    assert resume_point(done).next_step == following


@pytest.mark.parametrize("terminal", ["registered", "failed", "validated", "awaiting_review"])
def test_terminal_states_have_nothing_left(terminal):
    assert resume_point(terminal).next_step is None


def test_unknown_state_is_an_error_not_a_guess():
    with pytest.raises(ValueError):
        resume_point("teleporting")


def test_state_names_follow_the_documented_sequence():
    assert [running_state(s) for s, _, _ in STEPS] == [
        "combining",
        "inferring",
        "converting",
        "registering",
    ]
    assert [done_state(s) for s, _, _ in STEPS] == [
        "combined",
        "inferred",
        "converted",
        "registered",
    ]
