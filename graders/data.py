"""Find a lab's data files wherever the notebook runs.

The same notebook runs in the course repository (``source/lab01/``, data in
``<repo>/data/``), in a released lab folder handed out alone (data beside the
notebook), and in an autograded copy (``autograded/<student>/lab01/``)::

    from graders import data
    df = data.read_csv("boston.csv")
"""

import os
from pathlib import Path

import numpy as np

__all__ = ["path", "read_csv", "load_npz"]


def _places():
    """Directories searched, in order: $DLKIT_DATA, ., ./data, then each parent's data/."""
    places = []
    if os.environ.get("DLKIT_DATA"):
        places.append(Path(os.environ["DLKIT_DATA"]).expanduser())
    here = Path.cwd()
    places += [here, here / "data"]
    places += [parent / "data" for parent in here.parents]
    return places


def path(name):
    """The path of the data file ``name`` (a file name, or a relative path inside a data folder).

    Looks in ``$DLKIT_DATA`` if set, then the current directory, then ``./data``, then
    ``data/`` in each parent directory up to the filesystem root, and returns the first
    match. Raises ``FileNotFoundError`` listing the places searched when there is none.
    """
    name = Path(name)
    if name.is_absolute():
        if name.is_file():
            return name
        places = [name.parent]
    else:
        places = _places()
        for place in places:
            candidate = place / name
            if candidate.is_file():
                return candidate.absolute()
    searched = "\n".join(f"  {p}" for p in places)
    raise FileNotFoundError(
        f"data file {str(name)!r} not found. Looked in:\n{searched}\n"
        "The data file should be next to the notebook; ask your instructor."
    )


def read_csv(name, **kwargs):
    """``pandas.read_csv`` on the data file ``name`` (found with :func:`path`)."""
    import pandas as pd

    return pd.read_csv(path(name), **kwargs)


def load_npz(name):
    """The arrays of the ``.npz`` data file ``name`` (found with :func:`path`), as a dict."""
    with np.load(path(name), allow_pickle=False) as archive:
        return {key: archive[key] for key in archive.files}
