# Sourced by demo.sh and test.sh: make (once) and use the project's virtual environment, so
# the install works on a stock Debian Python, which refuses `pip install` outside one.
# Sets PY to that environment's python.  An active virtual environment is used as it is.
if [ -n "${VIRTUAL_ENV:-}" ]; then
    PY="$VIRTUAL_ENV/bin/python"
else
    if [ ! -x .venv/bin/python ]; then
        if ! python3 -m venv .venv 2>/dev/null; then
            rm -rf .venv
            if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
                echo "python3 has no venv module: installing Debian's python3-venv" >&2
                apt-get install -y -q python3-venv >/dev/null || apt-get update -q >/dev/null
                apt-get install -y -q python3-venv >/dev/null
                python3 -m venv .venv
            else
                echo "error: python3 -m venv failed; install your system's venv package" \
                    "(Debian: apt-get install python3-venv) and run this again" >&2
                exit 2
            fi
        fi
    fi
    PY="$PWD/.venv/bin/python"
fi
