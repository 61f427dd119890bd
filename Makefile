# berth.engine — two commands for a newcomer on a fresh Debian machine (as root):
#   make demo   the main job: base image, Dockerfile build, a playbook that serves a web page
#   make test   the whole test suite (pytest as root + ansible-test sanity)
.PHONY: setup test unit sanity demo bench clean

VENV ?= .venv
PYTEST_ARGS ?=

setup:
	@bash scripts/setup-host.sh

test: setup
	$(VENV)/bin/pytest -q $(PYTEST_ARGS) tests
	bash scripts/sanity.sh

unit: setup
	$(VENV)/bin/pytest -q $(PYTEST_ARGS) tests/unit

sanity: setup
	bash scripts/sanity.sh

demo: setup
	bash scripts/demo.sh

bench: setup
	$(VENV)/bin/python bench/run.py $(BENCH_ARGS)

clean:
	rm -rf .venv .venv-* tests/output .pytest_cache
