#!/usr/bin/env bash
# Every broken rule/table case in tests/rules/CASE/ must produce exactly the
# diagnostics (file:line:col, message, [E_NAME]) listed in CASE/expected, and
# exit 1; a case whose expected file is empty must load and exit 0.
set -u
fail=0
n=0
for dir in "$SRC"/tests/rules/*/; do
  case_name=$(basename "$dir")
  n=$((n + 1))
  got=$(cd "$dir" && "$DADRAS" rules check . 2>&1 >/dev/null | grep ': error: ')
  status=$(cd "$dir" && "$DADRAS" rules check . >/dev/null 2>&1; echo $?)
  want=$(cat "$dir/expected")
  if [ "$got" != "$want" ]; then
    echo "FAIL $case_name: diagnostics differ"
    diff <(echo "$want") <(echo "$got")
    fail=1
  fi
  if [ -s "$dir/expected" ]; then want_status=1; else want_status=0; fi
  if [ "$status" != "$want_status" ]; then
    echo "FAIL $case_name: exit $status, expected $want_status"
    fail=1
  fi
done
[ "$n" -ge 25 ] || { echo "only $n cases"; fail=1; }
echo "$n cases"
exit $fail
