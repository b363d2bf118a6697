#!/usr/bin/env bash
# Print the path of a Python 3.10 interpreter: python3.10 on PATH, then pyenv's installs.
set -u
is310() { "$1" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 10) else 1)' >/dev/null 2>&1; }
candidates=()
[ -n "${PYTHON310:-}" ] && candidates+=("$PYTHON310")
command -v python3.10 >/dev/null 2>&1 && candidates+=("$(command -v python3.10)")
for root in "${PYENV_ROOT:-}" "${REAL_HOME:-$HOME}/.pyenv" /root/.pyenv; do
  [ -n "$root" ] && for p in "$root"/versions/3.10*/bin/python3.10; do [ -x "$p" ] && candidates+=("$p"); done
done
candidates+=(/usr/local/bin/python3.10 /usr/bin/python3.10)
for p in "${candidates[@]}"; do
  if [ -x "$p" ] && is310 "$p"; then echo "$p"; exit 0; fi
done
cat >&2 <<'MSG'
No Python 3.10 found. Rasa 3.6 needs exactly Python 3.10.
Get one, then run make again:
  - with pyenv:  pyenv install 3.10.13
  - on Debian/Ubuntu: install python3.10 and python3.10-venv (deadsnakes PPA on Ubuntu)
  - or point to one:  make setup PYTHON310=/path/to/python3.10
MSG
exit 1
