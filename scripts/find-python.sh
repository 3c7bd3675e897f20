#!/usr/bin/env bash
# Prints the path of a working interpreter for the Lambda runtime's Python minor version (default 3.12).
# A pyenv shim for a version that is not selected exists but fails, so each candidate is run, not just found.
set -euo pipefail
want=${1:-3.12}
ok() { [ -n "$1" ] && "$1" -c "import sys; assert '%d.%d' % sys.version_info[:2] == '$want'" >/dev/null 2>&1; }
for c in "$(command -v "python$want" 2>/dev/null || true)" /usr/bin/python$want /usr/local/bin/python$want; do
  if ok "$c"; then echo "$c"; exit 0; fi
done
if command -v pyenv >/dev/null 2>&1; then
  for v in $(pyenv versions --bare 2>/dev/null | grep -E "^$want(\.[0-9]+)?$" | sort -V -r); do
    c="$(pyenv root)/versions/$v/bin/python$want"
    if ok "$c"; then echo "$c"; exit 0; fi
  done
fi
echo "error: Python $want is required (the Lambda runtime's version) and none was found." >&2
echo "       Install it (e.g. 'pyenv install $want' or 'apt-get install python$want') and re-run." >&2
exit 1
