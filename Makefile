# The whole set-up is these two targets: each builds .venv from nothing when it is missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
JOBS ?= auto

.PHONY: demo test venv release clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip uv
	$(BIN)/uv pip install -q --python $(BIN)/python -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/dlkit demo

test: $(STAMP)
	$(BIN)/python -m pytest -n $(JOBS) --dist loadgroup

release: $(STAMP)
	$(BIN)/dlkit release

clean:
	rm -rf submitted autograded feedback gradebook.db grades.csv demo_course
