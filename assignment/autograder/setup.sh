#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder's image (an Ubuntu base image):
# Python 3.11 from the deadsnakes PPA, then the repository's pinned requirements in a venv.
# It cannot run in this repository's CI (no Gradescope image there); run_autograder is tested end to end.
set -euo pipefail
ROOT="${AUTOGRADER_ROOT:-/autograder}"
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends software-properties-common
add-apt-repository -y ppa:deadsnakes/ppa
apt-get update
apt-get install -y --no-install-recommends python3.11 python3.11-venv
python3.11 -m venv "$ROOT/venv"
"$ROOT/venv/bin/python" -m pip install --quiet -r "$ROOT/source/requirements.txt"
