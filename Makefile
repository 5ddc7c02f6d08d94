# Everything a fresh machine needs lives here: `make demo` and `make test` install what they use.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
DEBIAN_PACKAGES := ffmpeg espeak-ng sox redis-server wrk chromium chromium-driver

.PHONY: demo test test-all bench system-deps install clean

demo: install
	$(VENV)/bin/receptionist demo

# The import contracts first (docs/architecture.md): a broken boundary fails the run before any test.
test: install
	$(VENV)/bin/lint-imports
	$(PY) -m pytest -q

test-all: install
	$(VENV)/bin/lint-imports
	$(PY) -m pytest -q -m ''

bench: install
	$(PY) bench/transcribe.py
	$(PY) bench/webhook.py
	$(PY) bench/post_call.py
	$(PY) bench/relay.py
	$(PY) bench/call_list.py --postgres

install: system-deps $(VENV)/.installed

# Debian packages: audio tools for decoding and synthetic speech, a Redis binary for the demo,
# wrk for the webhook benchmark, headless Chromium and its driver for the dashboard's browser test.
# Skipped when everything is already on the PATH.
system-deps:
	@missing=""; for bin in ffmpeg espeak-ng sox redis-server wrk chromium chromedriver; do command -v $$bin >/dev/null || missing="$$missing $$bin"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages for:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $(DEBIAN_PACKAGES) >/dev/null; \
	fi

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -U pip
	$(PY) -m pip install -q -e '.[test]'
	touch $@

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
