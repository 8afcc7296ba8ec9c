"""What bench/calibrate.py measures for lab05 (regularization): the trained questions.

    .venv/bin/python bench/calibrate.py lab05 --seeds 0-11

For each seed, the data are Iris shuffled with that seed (standardized, one-hot) and the training
is seeded with it, as in the hidden tests (which use seeds 0 and 1).
"""
import numpy as np

from graders import data
from graders.regularization import categorical_cross_entropy

N_TRAIN = 105  # keras' validation_split=0.3 on 150 samples: floor(150 × 0.7) trains, the last 45 validate


def _iris(seed):
    import keras

    frame = data.read_csv("iris.csv", index_col=0).sample(frac=1, random_state=seed)
    X = frame.drop(columns=["target"])
    X = ((X - X.mean(axis=0)) / X.std(axis=0)).to_numpy(dtype="float32")
    return X, keras.utils.to_categorical(frame["target"].to_numpy(), 3)


def early_stopping(ns, seed):
    X, y = _iris(seed)
    model, history = ns["train_with_early_stopping"](X, y, seed)
    val = np.asarray(history.history["val_loss"], dtype=float)
    probs = model.predict(X[N_TRAIN:], verbose=0)
    ce = categorical_cross_entropy(y[N_TRAIN:], probs)
    best = float(val.min())
    return {
        "epochs_run": len(val),
        "stop_minus_best": len(val) - (int(val.argmin()) + 1),
        "restored_rel_gap": abs(ce - best) / best,      # the returned model vs min(val_loss)
        "last_epoch_rel_gap": (val[-1] - best) / best,  # what a model without restored weights shows
        "min_val_loss": best,
        "val_accuracy": float(np.mean(probs.argmax(1) == y[N_TRAIN:].argmax(1))),
    }


def _trained(make):
    def measure(ns, seed):
        import keras

        X, y = _iris(seed)
        keras.utils.set_random_seed(seed)
        model = make(ns)
        model.compile(loss="categorical_crossentropy", optimizer="adam")
        model.fit(X[:N_TRAIN], y[:N_TRAIN], epochs=20, batch_size=30, verbose=0)
        probs = model.predict(X[N_TRAIN:], verbose=0)
        return {"val_accuracy": float(np.mean(probs.argmax(1) == y[N_TRAIN:].argmax(1)))}
    return measure


MEASURES = [
    ("train_with_early_stopping", early_stopping, {
        "epochs_run": ("below", 100),
        "restored_rel_gap": ("below", 1e-4),
        "last_epoch_rel_gap": ("above", 1e-4),
        "min_val_loss": ("below", 0.6),
        "val_accuracy": ("above", 0.7),
    }),
    ("make_l2_model", _trained(lambda ns: ns["make_l2_model"](0.01)), {"val_accuracy": ("above", 0.7)}),
    ("make_dropout_model", _trained(lambda ns: ns["make_dropout_model"](0.3)), {"val_accuracy": ("above", 0.65)}),
]
