# One command to set up and run each thing; the virtual environment is created on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DEMO_DIR ?= data/demo
RUN_DIR ?= runs/demo

.PHONY: demo test lint format bench talkingdata clean

$(BIN)/graphguard: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

## demo: simulate a world, detect in it, print the cluster report and the evaluation
demo: $(BIN)/graphguard
	$(BIN)/graphguard simulate $(DEMO_DIR) --overwrite
	$(BIN)/graphguard detect $(DEMO_DIR)/events.parquet --labels $(DEMO_DIR)/labels.parquet --out $(RUN_DIR) --overwrite
	$(BIN)/graphguard evaluate $(RUN_DIR) --truth $(DEMO_DIR)/truth.parquet

## test: the whole test suite (what CI runs)
test: $(BIN)/graphguard
	$(BIN)/python -m pytest -q

lint: $(BIN)/graphguard
	$(BIN)/ruff check graphguard tests benchmarks
	$(BIN)/ruff format --check graphguard tests benchmarks

format: $(BIN)/graphguard
	$(BIN)/ruff format graphguard tests benchmarks
	$(BIN)/ruff check --fix graphguard tests benchmarks

## bench: 1M and 10M events through detect, plus the pandas+networkx comparison
bench: $(BIN)/graphguard
	$(BIN)/pip install --quiet -e '.[dev,bench]'
	$(BIN)/python benchmarks/bench_detect.py

## talkingdata: the real TalkingData click sample through detect (needs ../shared/data)
talkingdata: $(BIN)/graphguard
	$(BIN)/graphguard detect ../shared/data/talkingdata-adtracking-sample/train_sample.csv \
		--data talkingdata --graph talkingdata --out runs/talkingdata --overwrite

clean:
	rm -rf runs $(DEMO_DIR)
