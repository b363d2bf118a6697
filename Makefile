# 密云法治服务助手. `make run` and `make test` are all a newcomer needs; see README.md.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV        := .venv
PY          := $(VENV)/bin/python
RASA        := $(VENV)/bin/rasa
STAMP       := $(VENV)/.installed
MODEL       := models/miyun.tar.gz

# Nothing is written to the user's home: caches, telemetry config and temp files stay here.
export REAL_HOME := $(HOME)
export HOME := $(CURDIR)/.cache/home
export TMPDIR := $(CURDIR)/.cache/tmp
export XDG_CACHE_HOME := $(CURDIR)/.cache/xdg
export XDG_CONFIG_HOME := $(CURDIR)/.cache/config
export PIP_CACHE_DIR := $(CURDIR)/.cache/pip
export KERAS_HOME := $(CURDIR)/.cache/keras
export MPLCONFIGDIR := $(CURDIR)/.cache/matplotlib
export MIYUN_CACHE_DIR := $(CURDIR)/.cache/tmp
export RASA_TELEMETRY_ENABLED := false
export SQLALCHEMY_SILENCE_UBER_WARNING := 1
export TF_CPP_MIN_LOG_LEVEL := 3
export PYTHONPATH := $(CURDIR)
export NO_PROXY := 127.0.0.1,localhost
export no_proxy := 127.0.0.1,localhost
export MIYUN_ACTION_PORT ?= 5055
export MIYUN_RASA_PORT ?= 5005
export MIYUN_ACTION_ENDPOINT ?= http://127.0.0.1:$(MIYUN_ACTION_PORT)/webhook
export MIYUN_TRACKER_DIALECT ?= sqlite
export MIYUN_TRACKER_DB ?= $(CURDIR)/var/trackers.db
export MIYUN_TRACKER_HOST ?=
export MIYUN_TRACKER_USER ?=
export MIYUN_TRACKER_PASSWORD ?=
export MIYUN_LOCK_STORE ?= in_memory
export MIYUN_REDIS_HOST ?= 127.0.0.1
export MIYUN_REDIS_PORT ?= 6379
export MIYUN_REDIS_DB ?= 1
export MIYUN_REDIS_PASSWORD ?=
export MIYUN_RUNTIME_DSN ?=

.PHONY: help setup browser services document-tools run test pytest train content evaluate bench bench-compare gateway wechat-menu staff-admin retention run-cluster bench-cluster lock clean

help:
	@echo "make run       set up if needed, build content, train if changed, start the assistant"
	@echo "make test      set up if needed and run every test and gate"
	@echo "make pytest T=...  only the named tests (pytest arguments), with the project environment"
	@echo "make train     train the Rasa model if data, domain or config changed"
	@echo "make evaluate  NLU gate, search gate and the LawBench routing report"
	@echo "make bench     speed and memory benchmark -> bench/results.md"
	@echo "make setup     create .venv with the pinned packages (a no-op when done)"
	@echo "make gateway   only the channel gateway (web chat, WeChat, Telegram)"
	@echo "make wechat-menu  print the JSON for WeChat's menu API"
	@echo "make staff-admin NAME=x  create the first staff console admin"
	@echo "make retention apply the retention period (referrals, conversations, logs); run it daily"
	@echo "make run-cluster   3 Rasa + 2 action servers + Redis + PostgreSQL + nginx (deploy/README.md)"
	@echo "make bench-cluster load and fault bench of the cluster -> bench/cluster.md"

# The cache folders are made on every run: a shared or restored .venv skips the stamp's recipe.
setup: $(STAMP)
	@mkdir -p $(HOME) $(TMPDIR) $(XDG_CACHE_HOME) $(XDG_CONFIG_HOME)
	@$(PY) -m scripts.fetch_statutes

$(STAMP): pyproject.toml constraints.txt scripts/find_python.sh
	@mkdir -p $(HOME) $(TMPDIR) $(XDG_CACHE_HOME) $(XDG_CONFIG_HOME)
	@py=$$(scripts/find_python.sh) || exit 1; \
	  [ -x $(PY) ] || { echo "creating $(VENV) with $$py"; $$py -m venv $(VENV); }
	$(PY) -m pip install --quiet --disable-pip-version-check setuptools==70.3.0 wheel
	# One resolve for everything, pinned by constraints.txt: a later separate install can break rasa.
	$(PY) -m pip install --quiet --disable-pip-version-check --no-build-isolation -c constraints.txt -e ".[test]"
	$(PY) -m pip check
	@touch $(STAMP)

browser:
	@bash scripts/install_browser.sh

# PostgreSQL for the runtime-store contract tests (a throwaway server per run), plus
# Redis and nginx for the cluster profile: Debian packages, installed only if missing.
services:
	@bash scripts/cluster_setup.sh

# A CJK font for the documents' PDFs and poppler-utils for their tests: Debian packages, only if missing.
document-tools:
	@bash scripts/install_document_tools.sh

content: setup
	@$(PY) -m miyun.knowledge.cli publish --by "make" --note "从 content/ 源文件构建 / built from content/ sources"

train: setup
	@$(PY) -m scripts.train_if_changed

run: setup content train
	@$(PY) -m scripts.run_all

test: setup browser services document-tools content train
	$(PY) -m pytest
	$(RASA) data validate --data nlu stories --domain domain --config config.yml --fail-on-warnings
	$(RASA) test core --stories tests/conversations --model $(MODEL) --endpoints endpoints.yml \
	  --fail-on-prediction-errors --out .cache/rasa-test-results
	$(PY) -m scripts.evaluate --gate

# Only some tests, with the project's environment: make pytest T="tests/test_cli.py -k validate"
pytest: setup content train
	$(PY) -m pytest $(T)

evaluate: setup content train
	$(PY) -m scripts.evaluate

bench: setup content train
	$(PY) -m scripts.bench

bench-compare: setup content
	$(PY) -m scripts.bench.compare

gateway: setup
	$(PY) -m bot

wechat-menu: setup
	@$(PY) -m bot.wechat_menu

staff-admin: setup
	@[ -n "$(NAME)" ] || { echo "usage: make staff-admin NAME=管理员"; exit 1; }
	$(PY) -m miyun.staff.cli create-user "$(NAME)" --role admin

retention: setup
	$(PY) -m miyun.privacy.cli run

run-cluster: setup content train
	@bash scripts/cluster_setup.sh
	@MIYUN_ENV=production $(PY) -m scripts.cluster

bench-cluster: setup content train
	@bash scripts/cluster_setup.sh
	$(PY) -m scripts.bench.cluster

lock: setup
	@{ echo "# Full lock of the one pip resolve (pip freeze of a working .venv). Regenerate with 'make lock'."; \
	  $(PY) -m pip freeze --exclude-editable | grep -vi '^miyun'; echo "setuptools==70.3.0"; } > constraints.txt

clean:
	rm -rf .cache models var
