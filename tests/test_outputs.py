"""CapOutputBytes: stored output is capped in bytes, whatever the number of lines."""
from __future__ import annotations

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_output

from dlkit.plugins.outputs import CapOutputBytes, cap_text

pytestmark = pytest.mark.fast  # no kernel: `make test-fast`


def _capped(*outputs, **limits):
    nb = new_notebook(cells=[new_code_cell("print('x')", outputs=list(outputs))])
    nb, _ = CapOutputBytes(**limits).preprocess(nb, {})
    nbformat.validate(nb)
    return nb.cells[0].outputs


def test_one_huge_line_is_cut_to_the_limit_keeping_head_and_tail():
    (out,) = _capped(new_output("stream", name="stdout", text="a" + "x" * 10**7 + "z"), max_bytes=1000)
    assert len(out.text.encode()) < 1200
    assert out.text.startswith("ax") and out.text.endswith("xz") and "bytes of output cut" in out.text


def test_small_outputs_are_left_as_they_are():
    stream = new_output("stream", name="stdout", text="loss: 0.25\n" * 10)
    error = new_output("error", ename="AssertionError", evalue="expected 1, got 2", traceback=["tb"])
    assert _capped(stream, error, max_bytes=1000) == [stream, error]


def test_display_text_error_values_and_tracebacks_are_capped_too():
    big = "y" * 50_000
    outs = _capped(new_output("display_data", data={"text/plain": big, "text/html": big}),
                   new_output("error", ename="E", evalue=big, traceback=[big] * 500), max_bytes=2000)
    assert all(len(v) < 2200 for v in outs[0].data.values())
    assert len(outs[1].evalue) < 2200 and len(outs[1].traceback) <= 200
    assert all(len(t) < 2200 for t in outs[1].traceback)


def test_an_oversized_image_is_dropped_and_said_so():
    (out,) = _capped(new_output("display_data", data={"image/png": "A" * 5000}), max_image_bytes=1000)
    assert "image/png" not in out.data and "dropped" in out.data["text/plain"]


def test_cap_text_never_splits_a_character():
    text = "é" * 10_000
    capped = cap_text(text, 101)
    assert capped.encode("utf-8").decode("utf-8") == capped and "é" in capped
