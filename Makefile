# The README's two commands: `make demo` and `make test`. Both start from a fresh clone
# with only Python 3.11 and make: they create .venv and install the pinned dependencies.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
INSTALLED := $(VENV)/.installed
# dbt runs from the project root (profiles.yml and relative paths resolve there).
DBT := $(BIN)/dbt
export PATH := $(BIN):$(PATH)
export OPENBLAS_NUM_THREADS := 1

.PHONY: install demo test pytest lint build sample summary clean prod-state slim-ci

$(INSTALLED): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e ".[dev]"
	@touch $@

install: $(INSTALLED)

# The service's extra (FastAPI, uvicorn, httpx) on top: `make serve` needs it (the tests too: install-test), the demo not.
SERVE_INSTALLED := $(VENV)/.installed-serve
$(SERVE_INSTALLED): pyproject.toml $(INSTALLED)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e ".[dev,serve]"
	@touch $@

.PHONY: install-serve serve
install-serve: $(SERVE_INSTALLED)

# What the tests need on top of dev, in one pip run: the serve extra (the service's API tests),
# the tracking extra (mlflow-skinny, about 15 s more: the MLflow tests log fits to a local file
# store, docs/tracking.md) and the spark extra (pyspark and dbt-spark, about 50 s more: the
# cross-engine tests on a local SparkSession, which skip with the reason without Java;
# docs/spark.md). `segrec track` needs tracking, the demo none of them.
TEST_INSTALLED := $(VENV)/.installed-test
$(TEST_INSTALLED): pyproject.toml $(INSTALLED)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e ".[dev,serve,tracking,spark]"
	@touch $@

.PHONY: install-test
install-test: $(TEST_INSTALLED)

## serve: the recommendation service over the demo's exports/ on 127.0.0.1:8000 (docs/serving.md)
serve: install-serve
	$(BIN)/segrec serve --exports exports

## demo: install, build and test the warehouse on the embedded sample, then write the run log,
## the exports (Parquet, Tableau .hyper, audiences), the HTML report and the static docs
demo: install
	mkdir -p target
	$(DBT) build --target dev
	$(BIN)/segrec runlog --db target/segrec.duckdb
	$(BIN)/segrec export --db target/segrec.duckdb --out exports --allow-demo-salt
	$(BIN)/segrec report --db target/segrec.duckdb --out reports/segment_report.html
	$(DBT) docs generate --static --target dev
	$(BIN)/segrec summary --db target/segrec.duckdb
	@echo "report: reports/segment_report.html  exports: exports/  docs: target/static_index.html"

## docs: regenerate docs/architecture-dag.md (the DAG by layer and domain) from the parsed project;
## tests/python/test_layering.py fails when the committed page no longer matches the models
.PHONY: docs
docs: install
	$(DBT) parse --target dev
	$(BIN)/segrec docs --manifest target/manifest.json --out docs/architecture-dag.md

## test: the whole suite (sqlfluff, ruff, pytest incl. dbt builds on fixtures, the service's API tests, MLflow logging
## and the core marts built on local Spark and compared with DuckDB)
test: install lint pytest

# two workers, one test file each at a time (module fixtures build dbt once); conftest.py
# starts the dbt files first
pytest: install-test
	$(BIN)/pytest -n 2 --dist loadfile --no-loadscope-reorder

## test-spark: the whole sample built on local Spark (dbt-spark, session method; the Python models through
## segrec's session submission helper) with its data tests, compared with the DuckDB build
## (tests/python/test_spark_cross_engine.py; docs/spark.md).
## Installs the spark extra (pyspark, ~500 MB) into $(VENV); needs Java 17 or 21.
.PHONY: test-spark
SPARK_INSTALLED := $(VENV)/.installed-spark
$(SPARK_INSTALLED): pyproject.toml $(INSTALLED)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e ".[dev,spark]"
	@touch $@

test-spark: $(SPARK_INSTALLED)
	SEGREC_SPARK_FULL=1 $(BIN)/pytest tests/python/test_spark_cross_engine.py

## bench-spark-als: ALS on Spark (var ml_engine spark) against implicit on the same temporal hold-out: offline
## metrics at k=10 and fit time on the sample and UCI Online Retail (each built into SPARK_ALS_WORK when
## missing, only the models the hold-out needs; a dataset absent from ../shared/datasets is skipped); writes
## bench/results/spark_als.json and prints the table of docs/spark.md. Needs Java. Never part of `make test`.
.PHONY: bench-spark-als
SPARK_ALS_WORK ?= /tmp/segrec-bench-spark-als
bench-spark-als: $(SPARK_INSTALLED)
	$(BIN)/python -m bench.bench_spark_als --work $(SPARK_ALS_WORK)

lint: install
	$(BIN)/ruff check segrec tests bench models
	$(BIN)/sqlfluff lint models macros tests --processes 2

## sample: regenerate the committed sample (must reproduce it byte for byte)
sample: install
	$(BIN)/segrec generate --customers 2000 --days 120 --random-state 42 --out data/sample

## prod-state: the manifest of the current build, the state slim CI compares pull requests against
prod-state: install
	$(DBT) compile --target dev --target-path prod-state

## slim-ci: build and test only changed models and their children, deferring the rest to prod-state
slim-ci: install
	$(DBT) build --select state:modified+ --defer --state prod-state --target dev

## run-dataset: ingest one public dataset from ../shared/datasets (DATASET=online_retail, uci_online_retail, online_retail_ii,
## cdnow, diginetica, rees46 or olist) and build, export and report it into runs/$(DATASET), leaving the
## demo's target/ and exports/ untouched
.PHONY: run-dataset results
run-dataset: install
	@test -n "$(DATASET)" || { echo "usage: make run-dataset DATASET=online_retail (see: segrec run -h)"; exit 2; }
	$(BIN)/segrec run $(DATASET) --out runs/$(DATASET) --allow-demo-salt

## results: regenerate docs/results.md from the per-dataset runs under runs/
results: install
	$(BIN)/segrec results --runs runs --out docs/results.md

## bench: build the whole project on generated shops of BENCH_SIZES events (default 1M 10M; e.g.
## BENCH_SIZES="100k 1M") in BENCH_WORK (default /tmp/segrec-bench), write bench/results/<size>.json
## and docs/performance.md; BENCH_INCREMENTAL=1/0 forces the incremental comparison (default: on up
## to 1M events). Slow and never part of `make test`; run one benchmark at a time on a quiet machine.
.PHONY: bench bench-docs
BENCH_SIZES ?= 1M 10M
BENCH_WORK ?= /tmp/segrec-bench
BENCH_DOCS := $(BIN)/python -m bench.report --results bench/results --out docs/performance.md
bench: install
	$(BIN)/python -m bench.bench_build --sizes $(BENCH_SIZES) --work $(BENCH_WORK) --results bench/results
	$(BENCH_DOCS)

## bench-bandit: regret of the Thompson-sampling strategy allocation against an even split and the
## oracle on simulated click rates; writes bench/results/bandit/regret.json and docs/bandits.md (~30 s)
.PHONY: bench-bandit
bench-bandit: install
	$(BIN)/python -m bench.bench_bandit

## bench-rerank: the re-ranking control's trade-off curve (var recommendation_rerank): NDCG@10 against
## long-tail share and the other bias metrics per setting, on the sample and UCI Online Retail (each built
## into RERANK_WORK when missing: the UCI run takes ~6 min); writes bench/results/rerank/<name>.json, then
## `make results` puts the curve into docs/results.md. Never part of `make test`.
.PHONY: bench-rerank
RERANK_WORK ?= /tmp/segrec-bench-rerank
bench-rerank: install
	$(BIN)/python -m bench.bench_rerank --work $(RERANK_WORK)

## bench-docs: regenerate docs/performance.md from the existing bench/results/*.json
bench-docs: install
	$(BENCH_DOCS)

clean:
	rm -rf target logs $(VENV)
