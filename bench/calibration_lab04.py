"""Calibration of lab04's trained question (train_iris): `bench/calibrate.py lab04 --seeds 0-9`.

The measure reproduces the hidden test of `test_train_iris`: Iris shuffled with
default_rng(4070), its sepal width (column 1) times 1000 plus 500, `train_iris(X, y, seed)`
with the notebook's solution, then on the standardized features (training statistics,
ddof=0) the accuracy and the cross-entropy of the trained model, and the last training loss of
its History. The hidden test passes when accuracy > 0.9, ce < 0.1 and last_loss < 0.1.

`no_standardization` measures the same for the known mistake of training on the features as
given (tests/fixtures/lab04/mutants/train_iris__no_standardization.py): figures only, it must
fail those thresholds on every seed.
"""
import numpy as np

THRESHOLDS = {"accuracy": ("above", 0.9), "ce": ("below", 0.1), "last_loss": ("below", 0.1)}


def _data(ns):
    rng = np.random.default_rng(4070)
    order = rng.permutation(len(ns["X_iris"]))
    X = ns["X_iris"][order].astype(float)
    X[:, 1] = X[:, 1] * 1000 + 500
    return X, ns["y_iris"][order]


def _scores(model, history, X_eval, y):
    P = np.asarray(model.predict(X_eval, verbose=0), dtype=float)
    return {
        "accuracy": float(np.mean(P.argmax(axis=1) == y)),
        "ce": float(-np.mean(np.log(np.clip(P[np.arange(len(y)), y], 1e-7, 1)))),
        "last_loss": float(history.history["loss"][-1]),
    }


def train_iris(ns, seed):
    X, y = _data(ns)
    model, history = ns["train_iris"](X.copy(), y.copy(), seed)
    Xs = (X - X.mean(axis=0)) / X.std(axis=0)
    return _scores(model, history, Xs, y)


def no_standardization(ns, seed):
    keras = ns["keras"]
    X, y = _data(ns)
    keras.utils.set_random_seed(seed)
    model = ns["make_iris_mlp"]()
    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    history = model.fit(X, keras.utils.to_categorical(y, 3), epochs=100, batch_size=30, verbose=0)
    Xs = (X - X.mean(axis=0)) / X.std(axis=0)
    scores = _scores(model, history, Xs, y)
    scores.update({f"{k}_on_raw": v for k, v in _scores(model, history, X, y).items() if k != "last_loss"})
    return scores


MEASURES = [
    ("train_iris", train_iris, THRESHOLDS),
    ("no_standardization", no_standardization, {}),
]
