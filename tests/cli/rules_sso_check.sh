#!/usr/bin/env bash
# The shipped SSO rule set and its sample tables load without a diagnostic;
# usage errors exit 64.
set -eu
out=$("$DADRAS" rules check "$SRC/rules/sso" 2>&1)
[ "$out" = "$SRC/rules/sso: ok, 14 reasons" ] || { echo "unexpected: $out"; exit 1; }
set +e
"$DADRAS" rules check >/dev/null 2>&1; [ $? -eq 64 ] || { echo "usage must exit 64"; exit 1; }
"$DADRAS" rules check "$SRC/tests/rules/table_overlap" >/dev/null 2>&1; [ $? -eq 1 ] || exit 1
exit 0
