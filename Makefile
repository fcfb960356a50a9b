# Two commands on a fresh clone: `make demo` and `make test`. Each sets itself up.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The CPU build of torch that lies on this kind of machine; never let pip pick a (CUDA) release.
TORCH ?= torch==2.13.0
STAMP := $(VENV)/.installed

.PHONY: setup demo test bench clean graphviz browser pictures html-pictures vendor gold

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

# The HTML tests drive real headless browsers: Debian's chromium + chromium-driver, and firefox-esr.
browser:
	@command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1 || { \
	  echo "installing chromium and chromium-driver (for the HTML browser test)"; \
	  (apt-get update -qq && apt-get install -y -qq chromium chromium-driver) >/dev/null 2>&1 || \
	  echo "warning: could not install chromium/chromium-driver; tests/test_render_html.py will fail"; }
	@command -v firefox-esr >/dev/null 2>&1 || { \
	  echo "installing firefox-esr (for the HTML browser test in Firefox)"; \
	  (apt-get update -qq && apt-get install -y -qq firefox-esr) >/dev/null 2>&1 || \
	  echo "warning: could not install firefox-esr; tests/test_render_html_firefox.py will fail"; }

# The README's pictures, drawn by gradscope itself from the samples.
pictures: setup
	$(BIN)/gradscope trace --quiet -o docs/detach.svg samples/detach.py >/dev/null
	$(BIN)/gradscope trace --quiet -o docs/no_grad.svg samples/no_grad.py >/dev/null
	$(BIN)/gradscope trace --quiet -o docs/legend.svg tests/scripts/all_kinds.py >/dev/null
	$(BIN)/gradscope trace --quiet -o docs/rnn_5000_steps.svg tests/scripts/rnn_unrolled.py >/dev/null
	$(BIN)/gradscope trace --quiet --format grads -o docs/grad_norms.svg tests/scripts/health_vanishing_mlp.py >/dev/null
	$(BIN)/gradscope trace --quiet -o docs/resnet_frozen_stem.svg tests/scripts/models/resnet_frozen_stem.py >/dev/null
	$(BIN)/gradscope trace --quiet --module-depth 2 -o docs/resnet_frozen_stem_collapsed.svg \
	  tests/scripts/models/resnet_frozen_stem.py >/dev/null
	$(BIN)/gradscope trace --quiet -o docs/gan_step.svg tests/scripts/models/gan_step.py >/dev/null
	$(MAKE) --no-print-directory html-pictures

# Screenshots of the HTML page after real clicks (headless chromium), for the README.
html-pictures: setup browser
	mkdir -p tests/actual
	$(BIN)/gradscope trace --quiet -o tests/actual/resnet_frozen_stem.html tests/scripts/models/resnet_frozen_stem.py >/dev/null
	$(BIN)/python docs/shoot_html.py tests/actual/resnet_frozen_stem.html docs/html_resnet_frozen_stem.png \
	  --close model.blocks.0 --close model.blocks.1 --click model.stem.0.weight
	$(BIN)/gradscope trace --quiet -o tests/actual/gan_step.html tests/scripts/models/gan_step.py >/dev/null
	$(BIN)/python docs/shoot_html.py tests/actual/gan_step.html docs/html_gan_step.png --click G.0.weight

# The HTML page's JavaScript, copied from npm (versions in gradscope/render/vendor/README.md).
VENDOR := gradscope/render/vendor
vendor:
	rm -rf .vendor-tmp && mkdir -p .vendor-tmp
	cd .vendor-tmp && npm pack --silent @hpcc-js/wasm-graphviz@1.29.2 svg-pan-zoom@3.6.2 >/dev/null && \
	  for f in *.tgz; do mkdir -p "$${f%.tgz}" && tar xzf "$$f" -C "$${f%.tgz}"; done
	cp .vendor-tmp/hpcc-js-wasm-graphviz-1.29.2/package/dist/index.js $(VENDOR)/hpcc-js-wasm-graphviz.js
	cp .vendor-tmp/hpcc-js-wasm-graphviz-1.29.2/package/LICENSE $(VENDOR)/hpcc-js-wasm-graphviz.LICENSE
	cp .vendor-tmp/svg-pan-zoom-3.6.2/package/dist/svg-pan-zoom.min.js $(VENDOR)/svg-pan-zoom.min.js
	cp .vendor-tmp/svg-pan-zoom-3.6.2/package/LICENSE $(VENDOR)/svg-pan-zoom.LICENSE
	rm -rf .vendor-tmp

# Everything the tests compare with that gradscope generates: tests/data captures, then the gold files.
gold: setup
	for s in samples/*.py; do n=$$(basename "$$s" .py); [ -f "tests/data/sample_$$n.json" ] || continue; \
	  $(BIN)/gradscope trace --quiet --json "tests/data/sample_$$n.json" "$$s" >/dev/null 2>&1 || true; done
	UPDATE_GOLD=1 $(BIN)/python -m pytest -q tests/test_render_dot.py tests/test_tree_gold.py

demo: setup
	$(BIN)/gradscope trace samples/detach.py

test: setup browser
	$(BIN)/python -m pytest -q -n 2

bench: setup
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) tests/actual
