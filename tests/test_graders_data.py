"""graders.data finds a lab's data file from every place a notebook runs."""

import numpy as np
import pandas as pd
import pytest

from graders import data

pytestmark = pytest.mark.fast  # no kernel: `make test-fast`

CSV = "RM,PRICE\n6.5,24.0\n6.4,21.6\n"


@pytest.fixture
def course(tmp_path, monkeypatch):
    """A course tree: data/ at the top, a source lab, a released lab, an autograded copy."""
    monkeypatch.delenv("DLKIT_DATA", raising=False)
    root = tmp_path / "course"
    (root / "data").mkdir(parents=True)
    (root / "data" / "boston.csv").write_text(CSV)
    (root / "source" / "lab01").mkdir(parents=True)
    (root / "release" / "lab01").mkdir(parents=True)
    (root / "release" / "lab01" / "boston.csv").write_text(CSV.replace("24.0", "99.0"))
    (root / "autograded" / "alice" / "lab01").mkdir(parents=True)
    (root / "autograded" / "alice" / "lab01" / "boston.csv").write_text(CSV)
    return root


def test_path_finds_the_repository_data_folder_from_a_source_lab(course, monkeypatch):
    monkeypatch.chdir(course / "source" / "lab01")
    assert data.path("boston.csv") == course / "data" / "boston.csv"


def test_path_prefers_the_file_beside_the_notebook(course, monkeypatch):
    monkeypatch.chdir(course / "release" / "lab01")
    assert data.path("boston.csv") == course / "release" / "lab01" / "boston.csv"


def test_path_finds_the_file_in_an_autograded_copy(course, monkeypatch):
    monkeypatch.chdir(course / "autograded" / "alice" / "lab01")
    assert data.path("boston.csv") == course / "autograded" / "alice" / "lab01" / "boston.csv"


def test_path_looks_in_a_data_folder_beside_the_notebook(course, monkeypatch):
    lab = course / "source" / "lab01"
    (lab / "data").mkdir()
    (lab / "data" / "boston.csv").write_text(CSV)
    monkeypatch.chdir(lab)
    assert data.path("boston.csv") == lab / "data" / "boston.csv"


def test_path_looks_in_dlkit_data_first(course, monkeypatch, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "boston.csv").write_text(CSV)
    monkeypatch.setenv("DLKIT_DATA", str(elsewhere))
    monkeypatch.chdir(course / "release" / "lab01")
    assert data.path("boston.csv") == elsewhere / "boston.csv"


def test_path_fails_listing_the_places_searched(course, monkeypatch):
    monkeypatch.chdir(course / "source" / "lab01")
    with pytest.raises(FileNotFoundError) as info:
        data.path("no-such-file-7f3a.csv")
    message = str(info.value)
    assert "'no-such-file-7f3a.csv' not found" in message
    assert str(course / "source" / "lab01") in message
    assert str(course / "data") in message
    assert "the data file should be next to the notebook; ask your instructor" in message.lower()


def test_read_csv_returns_a_dataframe_and_passes_options(course, monkeypatch):
    monkeypatch.chdir(course / "release" / "lab01")
    frame = data.read_csv("boston.csv", usecols=["PRICE"])
    assert isinstance(frame, pd.DataFrame)
    assert frame["PRICE"].tolist() == [99.0, 21.6]


def test_load_npz_returns_a_dict_of_arrays(course, monkeypatch):
    np.savez(course / "data" / "digits.npz", x=np.arange(6).reshape(2, 3), y=np.array([0, 1]))
    monkeypatch.chdir(course / "release" / "lab01")
    arrays = data.load_npz("digits.npz")
    assert set(arrays) == {"x", "y"}
    np.testing.assert_array_equal(arrays["x"], np.arange(6).reshape(2, 3))
