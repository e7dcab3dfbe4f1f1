#!/usr/bin/env bash
# Single entry point. Needs only bash and Python 3.10+ (3.11 recommended).
#   bash workshop.sh run    set up, then run the whole workshop on the local S3 server
#   bash workshop.sh test   set up, then run the test suite (what CI runs)
#   bash workshop.sh setup  only set up (.venv, packages, Jupyter kernel "workshop")
set -euo pipefail
cd "$(dirname "$0")"
VENV=.venv
PYTHON=${PYTHON:-$(command -v python3.11 || command -v python3)}
STAMP=$VENV/.installed

PIP_QUIET=--quiet
pip_install() {
  # Drop only pip's notes about this machine's optional local package folders.
  "$VENV/bin/python" -m pip install $PIP_QUIET --disable-pip-version-check "$@" 2>&1 \
    | { grep --line-buffered -v "^WARNING: Location 'file:" || true; }
}

setup() {
  if [ ! -x "$VENV/bin/python" ]; then
    echo "==> creating $VENV with $($PYTHON --version)"
    "$PYTHON" -m venv "$VENV"
  fi
  # Reinstall only when the dependency list changed.
  if [ ! -f "$STAMP" ] || [ pyproject.toml -nt "$STAMP" ] || [ workshop.sh -nt "$STAMP" ]; then
    if [ ! -f "$STAMP" ]; then
      echo "==> installing packages (first time: a few minutes; pip lists each package as it comes)"
      PIP_QUIET=
    else
      echo "==> updating packages (the dependency list changed)"
    fi
    # The CPU wheel of torch; a bare 'torch' would pull a multi-GB CUDA build.
    pip_install "torch==2.13.0"
    pip_install -e ".[dev]"
    # anonymeter (notebook 06's privacy risks) pins numpy<1.27 and pyarrow<22, yet runs on numpy 2
    # with numba>=0.61 (a dependency above): installed without its pins, checked by the tests.
    pip_install --no-deps "anonymeter==1.1.0"
    "$VENV/bin/python" -m ipykernel install --sys-prefix --name workshop --display-name "Python (workshop)" >/dev/null
    touch "$STAMP"
  fi
  check_java
}

check_java() {
  # Local Spark (the cleaning job's Spark engine) needs Java 17+; everything else runs without it.
  local java=${JAVA_HOME:+$JAVA_HOME/bin/}java version
  if ! version=$("$java" -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1) || [ -z "$version" ]; then
    echo "==> note: no Java runtime found; local Spark needs Java 17+ (apt install openjdk-17-jre-headless," \
      "brew install openjdk@17, or conda install -c conda-forge openjdk=17). Everything else works without it."
  elif [ "$version" -lt 17 ]; then
    echo "==> note: Java $version found; local Spark needs Java 17+ (set JAVA_HOME to a newer one)."
  fi
}

cmd=${1:-help}
shift || true
case "$cmd" in
  setup) setup ;;
  run)   setup; exec "$VENV/bin/workshop" run "$@" ;;
  test)  setup; exec "$VENV/bin/python" -m pytest "$@" ;;
  *) sed -n '2,5p' "$0"; exit 2 ;;
esac
