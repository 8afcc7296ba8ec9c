# Split the test sets of lab06's data into a half the students get and a half only the grader has.
#
#   python scripts/split_heldout.py SHARED_DATA_DIR OUT_DIR
#
# The trained questions of lab06 (train_ts_cnn, train_lenet, transfer) are graded by a model's
# accuracy, computed by the judge on the host. Test data in the students' files could be trained
# on (or fitted by a model that memorises it), so the hidden tests measure accuracy on a held-out
# half that is never released, never copied into a grading kernel's folder (c.Dlkit.host_data).
# Deterministic, no RNG: within each class, in file order, even positions stay in the students'
# file and odd positions go to the held-out file.
#   trace.npz         X_train, y_train (100, unchanged), X_test, y_test (the even half: 50)
#   trace_heldout.npz X_test, y_test (the odd half: 50)
#   mnist_5k.npz      x_train, y_train (4000, unchanged), x_test, y_test (50 per digit: 500)
#   mnist_heldout.npz x_test, y_test (the other 50 per digit: 500)
import hashlib
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_images import savez_deterministic  # noqa: E402

SOURCES = {  # the verbatim files of the shared data set (see PROVENANCE.md)
    "trace.npz": ("0de0b7fa727cfabaf8481552db2b95fcccd12e54b67058aea79ff05b483cf807", "X_train", "y_train", "X_test", "y_test"),
    "mnist_5k.npz": ("61d7292230abf2e0313e49144fa347093355a303dcb4339ba364dea13e5d4a51", "x_train", "y_train", "x_test", "y_test"),
}


def halves(y):
    """Indices of the even and odd positions of each class of `y`, in file order."""
    even = np.concatenate([np.flatnonzero(y == c)[0::2] for c in np.unique(y)])
    odd = np.concatenate([np.flatnonzero(y == c)[1::2] for c in np.unique(y)])
    return np.sort(even), np.sort(odd)


def main():
    shared, out = sys.argv[1], sys.argv[2]
    for name, (sha, xtr, ytr, xte, yte) in SOURCES.items():
        path = os.path.join(shared, name)
        with open(path, "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()
        assert digest == sha, f"{path}: sha256 {digest}, expected {sha}"
        with np.load(path, allow_pickle=False) as archive:
            a = {key: archive[key] for key in archive.files}
        kept, held = halves(a[yte])
        savez_deterministic(os.path.join(out, name), **{xtr: a[xtr], ytr: a[ytr], xte: a[xte][kept], yte: a[yte][kept]})
        stem = name.split("_")[0].removesuffix(".npz")
        savez_deterministic(os.path.join(out, f"{stem}_heldout.npz"), **{xte: a[xte][held], yte: a[yte][held]})
        print(name, "test", len(kept), np.bincount(a[yte][kept]), "held out", len(held), np.bincount(a[yte][held]))


if __name__ == "__main__":
    main()
