"""pytest plugin (entry point `pytest11`, installed with gradscope): the `gradscope_trace` fixture.

    def test_head_trains(gradscope_trace):
        with gradscope_trace() as s:
            loss = model(x).sum(); loss.backward()
        s.assert_trains("model.head*")

When a test fails, the report of each session it traced is added to pytest's failure report.
Loading the plugin imports neither torch nor the recorder: every test run pays nothing for it.
"""

from __future__ import annotations

import pytest

_SESSIONS = pytest.StashKey[list]()


@pytest.fixture
def gradscope_trace(request):
    """A factory of tracing sessions: `with gradscope_trace() as s:` records the block, like gradscope.trace()."""
    sessions: list = []
    request.node.stash[_SESSIONS] = sessions

    def start(**options):
        from gradscope.api import TraceSession

        session = TraceSession(**options)
        sessions.append(session)
        return session

    return start


@pytest.hookimpl(hookwrapper=True)  # the old-style wrapper: works with every pytest >= 7
def pytest_runtest_makereport(item, call):
    report = (yield).get_result()
    if report.when == "call" and report.failed:
        sessions = [s for s in item.stash.get(_SESSIONS, []) if s.capture is not None]
        for i, session in enumerate(sessions, 1):
            title = "gradscope trace" + (f" {i}" if len(sessions) > 1 else "")
            try:
                text = session.tree()
            except Exception as exc:  # noqa: BLE001 - the test's own failure must still be reported
                text = f"gradscope could not render this session: {type(exc).__name__}: {exc}"
            report.sections.append((title, text))
