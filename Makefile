# The two set-up commands of the README. Each installs what it needs first.
DURATION ?= 60

.PHONY: demo test lint

# The district (docs/district.md), narrated from 07:30 simulated, 30x; Ctrl-C stops it.
demo:
	@scripts/setup.sh demo
	.venv/bin/silverguard sim district --narrate --morning --start 07:30 --speed 30 --duration $(DURATION)

test:
	@scripts/setup.sh test
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy
	.venv/bin/lint-imports
	.venv/bin/python -m pytest

lint:
	.venv/bin/ruff check .
	.venv/bin/mypy
	.venv/bin/lint-imports
