"""Calibration of lab06's trained questions: `bench/calibrate.py lab06 --seeds 0-19`.

Each measure reproduces a hidden test with the notebook's solution and the seed given:

The test data is the held-out half that only the grader has (`trace_heldout.npz`,
`mnist_heldout.npz`, see data/scripts/split_heldout.py).

- `train_ts_cnn`: `train_ts_cnn(X_train, y_train, seed)` on Trace (labels 0..3), accuracy on the
  49 held-out test series. The hidden test (seed 1) passes when accuracy > 0.9.
- `train_lenet`: `train_lenet(X, y, seed)` on the 4,000 prepared mnist_5k training images,
  accuracy on the 500 held-out test images. The hidden test (seed 1) passes when accuracy > 0.8.
- `transfer`: the hidden test of `test_transfer_training` with its seed set to `seed`: a LeNet
  pre-trained on the digits 0-4 (3 epochs, Adam 0.002, batches of 32), `transfer(base, 5)`
  fitted for 10 epochs (batches of 16) on 10 images of each digit 5-9 drawn with
  default_rng(seed), and the same architecture trained from scratch on the same images; both
  evaluated on the 250 held-out test images of the digits 5-9. The hidden test passes when accuracy > its
  threshold. The gain (accuracy - scratch) over these seeds is only positive on most of them.
- `transfer_head`: what the hidden test compares with training from scratch. Its base (a LeNet
  pre-trained with seed 9), its 50 images and its scratch run (seed 10) are the grader's own and
  fixed; what a correct answer can change is the head's initial weights and the order of the
  batches (how many random numbers the student's code draws before `fit`). So the seed here is
  the one set just before `transfer(base, 5)`, and the gain = accuracy - the fixed scratch
  accuracy must be positive for every one.
"""
import numpy as np

EPOCHS = 10  # TRANSFER_EPOCHS of the notebook


def _mnist(ns):
    """The training images, and the held-out test images (the grader's, never released)."""
    mnist, held = ns["data"].load_npz("mnist_5k.npz"), ns["data"].load_npz("mnist_heldout.npz")
    prep = lambda x: (x.astype("float32") / 255.0)[..., None]  # noqa: E731
    return prep(mnist["x_train"]), mnist["y_train"].astype(int), prep(held["x_test"]), held["y_test"].astype(int)


def _acc(model, X, y):
    return float(np.mean(np.argmax(model.predict(X, verbose=0), axis=1) == y))


def train_ts_cnn(ns, seed):
    trace, held = ns["data"].load_npz("trace.npz"), ns["data"].load_npz("trace_heldout.npz")
    model = ns["train_ts_cnn"](trace["X_train"], trace["y_train"] - 1, seed)
    return {"accuracy": _acc(model, held["X_test"], held["y_test"] - 1)}


def train_lenet(ns, seed):
    X_tr, y_tr, X_te, y_te = _mnist(ns)
    model = ns["train_lenet"](X_tr, y_tr, seed)
    return {"accuracy": _acc(model, X_te, y_te)}


def _task(ns, seed, make_lenet):
    """The set-up of test_transfer_training with `seed`: the pre-trained base, the 50 images of
    the new task and its test images."""
    keras = ns["keras"]
    X_tr, y_tr, X_te, y_te = _mnist(ns)
    keras.utils.set_random_seed(seed)
    first = y_tr < 5
    base = make_lenet(5)
    base.compile(optimizer=keras.optimizers.Adam(learning_rate=0.002),
                 loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    base.fit(X_tr[first], y_tr[first], epochs=3, batch_size=32, verbose=0)
    rng = np.random.default_rng(seed)
    few = np.concatenate([rng.choice(np.flatnonzero(y_tr == d), size=10, replace=False) for d in range(5, 10)])
    new = y_te >= 5
    return base, X_tr[few], y_tr[few] - 5, X_te[new], y_te[new] - 5


def _scratch_accuracy(keras, make_lenet, seed, X_few, y_few, X_new, y_new):
    """The same architecture trained from scratch on the 50 images, as the hidden test does."""
    keras.utils.set_random_seed(seed + 1)
    scratch = keras.Sequential(make_lenet(5).layers[:5] + [keras.layers.Dense(5, activation="softmax")])
    scratch.compile(optimizer=keras.optimizers.Adam(learning_rate=0.01),
                    loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    scratch.fit(X_few, y_few, epochs=EPOCHS, batch_size=16, verbose=0)
    return _acc(scratch, X_new, y_new)


def transfer(ns, seed):
    keras = ns["keras"]
    make_lenet = lambda n: ns["make_lenet"]((28, 28, 1), n)  # noqa: E731
    base, X_few, y_few, X_new, y_new = _task(ns, seed, make_lenet)
    keras.utils.set_random_seed(seed + 1)
    model = ns["transfer"](base, 5)
    model.fit(X_few, y_few, epochs=EPOCHS, batch_size=16, verbose=0)
    acc = _acc(model, X_new, y_new)
    acc_scratch = _scratch_accuracy(keras, make_lenet, seed, X_few, y_few, X_new, y_new)
    return {"accuracy": acc, "scratch": acc_scratch, "gain": acc - acc_scratch}


_GRADER_BASE: dict = {}


def _grader_lenet(keras, n_classes):
    """The hidden test's own LeNet (`_lenet` in test_transfer_training)."""
    return keras.Sequential([
        keras.Input(shape=(28, 28, 1)),
        keras.layers.Conv2D(6, 5, activation="relu"), keras.layers.MaxPooling2D(2),
        keras.layers.Conv2D(16, 5, activation="relu"), keras.layers.MaxPooling2D(2),
        keras.layers.Flatten(), keras.layers.Dense(120, activation="relu"),
        keras.layers.Dense(84, activation="relu"), keras.layers.Dense(n_classes, activation="softmax")])


def _grader_setup(ns, grader_seed=9):
    """The hidden test's base, few images and scratch accuracy, computed once."""
    if grader_seed not in _GRADER_BASE:
        keras = ns["keras"]
        make_lenet = lambda n: _grader_lenet(keras, n)  # noqa: E731
        task = _task(ns, grader_seed, make_lenet)
        _GRADER_BASE[grader_seed] = (*task, _scratch_accuracy(keras, make_lenet, grader_seed, *task[1:]))
    return _GRADER_BASE[grader_seed]


def transfer_head(ns, seed):
    keras = ns["keras"]
    base, X_few, y_few, X_new, y_new, scratch_acc = _grader_setup(ns)
    keras.utils.set_random_seed(seed)
    model = ns["transfer"](base, 5)
    model.fit(X_few, y_few, epochs=EPOCHS, batch_size=16, verbose=0)
    acc = _acc(model, X_new, y_new)
    return {"accuracy": acc, "scratch": scratch_acc, "gain": acc - scratch_acc}


MEASURES = [
    ("train_ts_cnn", train_ts_cnn, {"accuracy": ("above", 0.9)}),
    ("train_lenet", train_lenet, {"accuracy": ("above", 0.8)}),
    ("transfer", transfer, {"accuracy": ("above", 0.7)}),
    ("transfer_head", transfer_head, {"accuracy": ("above", 0.7), "gain": ("above", 0.0)}),
]
