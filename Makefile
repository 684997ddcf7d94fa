# Two commands for a fresh machine: `make demo` blends the two bundled songs with the bundled model (open
# demo-out/index.html), `make test` runs the test suite. Each creates the virtual environment first when it is
# missing; `make test` also installs Chromium (Debian package, as root) for the browser test.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# Known-good torch. On the project's machines this version installs the local CPU build; an unpinned
# torch would pull several GB of CUDA packages.
TORCH  := torch==2.13.0
STAMP  := $(VENV)/.installed
DEMO   := demo-out

.PHONY: demo test bench env clean chromium

env: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check $(TORCH)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/nesinterp blend nesinterp/examples/overworld.mid nesinterp/examples/dungeon.mid --steps 8 -o $(DEMO) --force

test: $(STAMP) chromium
	$(BIN)/python -m pytest -q -n 2 -p no:cacheprovider

# The browser test (tests/test_page.py) loads the blend page in headless Chromium; installed when missing.
chromium:
	command -v chromium >/dev/null || (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium)

bench: $(STAMP)
	$(BIN)/python benchmarks/speed/bench_prep.py

clean:
	rm -rf $(DEMO) .pytest_cache tests/artifacts
