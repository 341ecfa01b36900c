# One command for each routine job. CI runs `make test`, exactly as the README says.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
EXTRAS := dev

.PHONY: setup demo test lint bench bench-neo4j bench-api neo4j-install neo4j-start neo4j-stop browser clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[$(EXTRAS)]"
	touch $@

demo: setup
	$(BIN)/sybil-linker demo

neo4j-install: setup
	$(BIN)/sybil-linker neo4j install

neo4j-start: neo4j-install
	$(BIN)/sybil-linker neo4j start

neo4j-stop:
	$(BIN)/sybil-linker neo4j stop

browser:
	bash scripts/install-browser.sh

test: setup neo4j-install browser
	$(BIN)/python -m pytest -n 2 --dist loadgroup

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy linker graph_store api

bench: setup
	$(BIN)/python benchmarks/link_bench.py --accounts 20000 --seeds 1 2 3
	$(BIN)/python benchmarks/prompts_bench.py --prompts 1000000
	$(BIN)/python benchmarks/prompt_memory_bench.py --prompts 1000000 --replays 1 2 4

bench-neo4j: neo4j-start
	$(BIN)/python benchmarks/neo4j_load.py

bench-api: setup
	$(BIN)/python benchmarks/api_bench.py

clean:
	rm -rf $(VENV) demo test-output
