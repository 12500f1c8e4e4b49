# Two entry points (see README): `make demo` and `make test`. Everything else is set up on demand.
PYTHON ?= python3.11
UV_VERSION := 0.13.9
UV := .tools/bin/uv
export UV_PYTHON_DOWNLOADS := never
export OMP_WAIT_POLICY := passive

.PHONY: setup services demo test lint bench clean

$(UV):
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

.venv/.synced: $(UV) pyproject.toml uv.lock
	$(UV) sync --frozen --extra spark --python $(PYTHON)
	touch $@

setup: .venv/.synced

# The service tests start a real PostgreSQL server of their own, the browser tests drive
# Debian's Chromium through Playwright (no browser download), and the Spark engine's tests start
# a local Spark session, which needs a Java runtime; install them when missing.
services:
	@command -v java >/dev/null 2>&1 || test -x "$${JAVA_HOME:-/nonexistent}/bin/java" || \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless)
	@command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql)
	@test -x /usr/bin/chromium || \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium)

demo: setup
	$(UV) run --frozen --no-sync riskml demo

lint: setup
	$(UV) run --frozen --no-sync ruff check src tests serve benchmarks
	$(UV) run --frozen --no-sync ruff format --check src tests serve benchmarks
	$(UV) run --frozen --no-sync mypy

test: setup services lint
	$(UV) run --frozen --no-sync pytest

bench: setup
	$(UV) run --frozen --no-sync python -m benchmarks

clean:
	rm -rf .venv .tools
