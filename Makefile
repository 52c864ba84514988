# The two commands of the README: `make run` (the whole command centre) and `make test` (everything CI checks).
# Both set up the machine first (system packages + .venv), so they work on a fresh clone.
.PHONY: setup run test lint bench

setup:
	@bash scripts/bootstrap.sh

run: setup
	.venv/bin/gridwatch run

lint: setup
	.venv/bin/ruff check gridwatch geo ingest vision alerts dashboard patrol fleet demo centre bench tests
	.venv/bin/python -m mypy
	.venv/bin/lint-imports

test: lint
	.venv/bin/python -m pytest -q

bench: setup
	.venv/bin/python -m bench.run_all
