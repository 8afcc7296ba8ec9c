"""The suite's own set-up: what keeps it inside CI's time."""
from __future__ import annotations

import os

import pytest

pytestmark = pytest.mark.fast  # no kernel: `make test-fast`


@pytest.mark.xdist_group("canary")
def test_xdist_groups_are_honoured(request):
    """Tests of one xdist_group share one worker, so a class graded by a module-scoped fixture
    (test_adversarial, test_report, the mutants of a lab) is graded once, not once per worker.
    pytest 9 with pytest-xdist 3.8 silently dropped the groups (pinned in pyproject.toml)."""
    if os.environ.get("PYTEST_XDIST_WORKER") is None:
        pytest.skip("not run under pytest-xdist")
    if not getattr(request.config.option, "loadgroup", False):  # set on workers by xdist
        pytest.skip("not run with --dist loadgroup")
    assert request.node.nodeid.endswith("@canary"), (
        f"{request.node.nodeid}: pytest-xdist did not tag this test with its group; every "
        "xdist_group is ignored and grouped fixtures run once per worker")
