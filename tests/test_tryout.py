"""`dlkit try --combine` packs fixtures so that no submission replaces a question twice."""
from __future__ import annotations

import pathlib

import pytest

from dlkit.commands.tryout import combine_rounds

pytestmark = pytest.mark.fast  # no kernel: `make test-fast`


def test_combined_rounds_replace_each_question_at_most_once_and_keep_every_file():
    files = [(pathlib.Path(f"{q}__{k}.py"), q) for q, n in (("a", 3), ("b", 1), ("c", 2))
             for k in range(n)]
    rounds = combine_rounds(files)
    assert len(rounds) == 3  # as many as the question with the most files
    packed = [path for r in rounds for path in r.values()]
    assert sorted(packed) == sorted(path for path, _ in files)
    for r in rounds:
        assert all(path.name.startswith(f"{q}__") for q, path in r.items())
    assert set(rounds[0]) == {"a", "b", "c"} and set(rounds[2]) == {"a"}
