# Two commands on a fresh clone: `make demo` and `make test`. Each sets itself up.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The CPU build of torch that lies on this kind of machine; never let pip pick a (CUDA) release.
TORCH ?= torch==2.13.0
STAMP := $(VENV)/.installed

.PHONY: setup demo test bench clean graphviz browser pictures

setup: $(STAMP) graphviz

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check "$(TORCH)"
	@# the distribution was called gradscope before it became torch-gradscope: drop an old install
	$(BIN)/pip uninstall --quiet --disable-pip-version-check -y gradscope 2>/dev/null || true
	$(BIN)/pip install --quiet --disable-pip-version-check -e ".[test,plots]" "$(TORCH)"
	touch $(STAMP)

graphviz:
	@command -v dot >/dev/null 2>&1 || { \
	  echo "installing Graphviz (dot)"; \
	  (apt-get update -qq && apt-get install -y -qq graphviz) >/dev/null 2>&1 || \
	  echo "warning: could not install Graphviz; SVG/PNG/PDF output will be unavailable"; }

# The HTML test drives a real headless browser (Debian's chromium + chromium-driver).
browser:
	@command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1 || { \
	  echo "installing chromium and chromium-driver (for the HTML browser test)"; \
	  (apt-get update -qq && apt-get install -y -qq chromium chromium-driver) >/dev/null 2>&1 || \
	  echo "warning: could not install chromium/chromium-driver; tests/test_render_html.py will fail"; }

# The README's pictures, drawn by gradscope itself from the samples.
pictures: setup
	$(BIN)/gradscope trace --quiet -o docs/detach.svg samples/detach.py >/dev/null
	$(BIN)/gradscope trace --quiet -o docs/no_grad.svg samples/no_grad.py >/dev/null
	$(BIN)/gradscope trace --quiet -o docs/legend.svg tests/scripts/all_kinds.py >/dev/null
	$(BIN)/gradscope trace --quiet -o docs/rnn_5000_steps.svg tests/scripts/rnn_unrolled.py >/dev/null
	$(BIN)/gradscope trace --quiet --format grads -o docs/grad_norms.svg tests/scripts/health_vanishing_mlp.py >/dev/null

demo: setup
	$(BIN)/gradscope trace samples/detach.py

test: setup browser
	$(BIN)/python -m pytest -q -n 2

bench: setup
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) tests/actual
