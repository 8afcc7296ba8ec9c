# The whole set-up is these two targets: each builds .venv from nothing when it is missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
JOBS ?= auto

.PHONY: demo test test-full venv release clean system

# Debian packages: bubblewrap, the kernel sandbox of `dlkit grade` (as root it is installed here;
# otherwise ask for it: sudo apt-get install bubblewrap). Checked on every run: it is cheap.
system:
	@command -v bwrap >/dev/null || { if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap >/dev/null; \
	  else echo "note: bubblewrap is missing (sudo apt-get install bubblewrap): grading refuses to run unsandboxed"; fi; }

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip uv
	@# --compile-bytecode: kernels see the environment read-only (the sandbox), so without .pyc
	@# files every kernel compiles keras and tensorflow again: 13.7 s instead of 3.7 s per import.
	$(BIN)/uv pip install -q --compile-bytecode --python $(BIN)/python -e '.[dev]'
	touch $(STAMP)

venv: system $(STAMP)

demo: system $(STAMP)
	$(BIN)/dlkit demo

test: system $(STAMP)
	$(BIN)/python -m pytest -n $(JOBS) --dist loadgroup

# Everything `make test` runs, and the tests marked `full` (too slow for CI; see docs).
test-full: system $(STAMP)
	$(BIN)/python -m pytest -n $(JOBS) --dist loadgroup -m ''

release: system $(STAMP)
	$(BIN)/dlkit release

clean:
	rm -rf submitted autograded feedback gradebook.db grades grades.csv demo_course logs otter
