#!/usr/bin/env bash
# A big table file is parsed in two parts on two threads (rules/table.c);
# the result must not depend on it. DADRAS_TABLE_SPLIT_BYTES=1 splits every
# table with two or more rows, a huge value splits none. Compared, in full
# (every diagnostic with its source line and caret, and the exit status):
#  - every broken case of tests/rules/;
#  - generated province tables with errors injected in both halves of
#    insured.tsv and drugs.tsv (bad values, field counts, ranges out of
#    order, a duplicate key and an overlap across the halves), and with more
#    errors than are printed (the cap of 200 must fall on the same one);
#  - invalid UTF-8 in either half (the first bad byte is the same);
#  - `dadras run` decisions on the valid generated tables (text cells of
#    the second part are moved into the table's pool at the join).
# Named run_* so that it runs under TSan too (tools/test stage 3).
set -euo pipefail
: "${DADRAS:?}" "${SRC:?}" "${WORK:?}"
rm -rf "$WORK"; mkdir -p "$WORK"; cd "$WORK"
SPLIT=1
WHOLE=999999999999

check() { # check DIR -> stderr and status of `rules check` with and without splitting
  local dir=$1 a b
  a=$(cd "$dir" && DADRAS_TABLE_SPLIT_BYTES=$SPLIT "$DADRAS" rules check . 2>&1 >/dev/null; echo "exit $?")
  b=$(cd "$dir" && DADRAS_TABLE_SPLIT_BYTES=$WHOLE "$DADRAS" rules check . 2>&1 >/dev/null; echo "exit $?")
  if [ "$a" != "$b" ]; then
    echo "FAIL: $dir: diagnostics depend on the split"
    diff <(echo "$b") <(echo "$a") | head -20
    exit 1
  fi
}

n=0
for dir in "$SRC"/tests/rules/*/; do
  check "$dir"
  n=$((n + 1))
done
echo "ok: $n broken cases load identically split and whole"

"$DADRAS" gen --out g --scale 0.002 --insured 40000 --drugs 4000 --services 1500 \
  --physicians 2000 --centers 300 --zstd --seed 41 --quiet
rules_with() { # rules_with DIR: a rule set folder using tables DIR/tables
  mkdir -p "$1"
  cp "$SRC"/rules/sso/*.rules "$1"/
  [ -d "$1/tables" ] || cp -r g/tables "$1/tables"
}

# Valid tables: same decisions.
for mode in $SPLIT $WHOLE; do
  DADRAS_TABLE_SPLIT_BYTES=$mode "$DADRAS" run g/batch.tsv.zst --rules "$SRC/rules/sso" \
    --tables g/tables --quiet --out "o$mode"
  zstd -qdc "o$mode/decisions.tsv.zst" > "d$mode.tsv"
done
cmp "d$SPLIT.tsv" "d$WHOLE.tsv"
echo "ok: decisions identical split and whole"

# Errors in both halves.
rules_with bad
ins=bad/tables/insured.tsv
lines=$(wc -l < "$ins")
awk -v n="$lines" 'BEGIN { FS = OFS = "\t" }
  NR == 10 { $2 = "1390/13/01" }                 # bad date, first half
  NR == 20 { print; next }                       # kept, duplicated below
  NR == int(n * 0.75) { $3 = "X" }               # not in the enum, second half
  NR == int(n * 0.8) { print $1, $2; next }      # field count, second half
  NR == int(n * 0.9) { $4 = "1400/01/01"; $5 = "1399/01/01" }  # to before from
  { print }
  END { print "\n" }' "$ins" > tmp && mv tmp "$ins"
sed -n 20p "$ins" >> "$ins"                       # the same key and dates: duplicate across halves
drugs=bad/tables/drugs.tsv
awk 'BEGIN { FS = OFS = "\t" } NR == 3 { $2 = "x" } { print }' "$drugs" > tmp && mv tmp "$drugs"
sed -n 5p "$drugs" >> "$drugs"
check bad
grep -q . <(cd bad && "$DADRAS" rules check . 2>&1 | grep 'E_TABLE_DUP_KEY') ||
  { echo "FAIL: the injected duplicate was not found"; exit 1; }
echo "ok: errors in both halves: same diagnostics, same order"

# Invalid UTF-8 (checked on two threads too): in the second half, then also
# in the first, then a sequence cut by the end of a line.
rules_with utf8
ins=utf8/tables/insured.tsv
lines=$(wc -l < "$ins")
awk -v n="$lines" 'NR == int(n * 0.7) { $0 = $0 "\xff" } { print }' "$ins" > tmp && mv tmp "$ins"
check utf8
awk 'NR == 50 { $0 = $0 "\xc3" } { print }' "$ins" > tmp && mv tmp "$ins"
check utf8
grep -q 'E_UTF8_INVALID' <(cd utf8 && "$DADRAS" rules check . 2>&1) ||
  { echo "FAIL: invalid UTF-8 not reported"; exit 1; }
echo "ok: invalid UTF-8 in either half: the same first bad byte"

# More errors than are printed.
rules_with many
awk 'BEGIN { FS = OFS = "\t" } NR > 1 && NR % 97 == 0 { $2 = "13xx/01/01" } { print }' \
  many/tables/insured.tsv > tmp && mv tmp many/tables/insured.tsv
check many
echo "ok: over 200 errors: the same ones printed"
