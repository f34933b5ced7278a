#!/usr/bin/env bash
# Golden end-to-end test of dadras run: tests/data/golden/run1.tsv holds 13
# documents of both kinds (P and I) that between them earn every reason code
# of adjudication.md (K01..K18), and one document malformed for intake;
# run1.expected.tsv holds the decisions computed by hand from the sample
# tables in rules/sso/tables (the computation is written out in
# tests/data/golden/README.md). Checks: the decisions file equals the hand
# computation byte for byte (threads 1 and 2); exit 1 (verified, one
# document rejected); the quarantine holds exactly the rejected document's
# raw lines; with a ledger it posts once; and the same batch with a trailer
# off by one is unverified: exit 2, decisions still written, nothing posted.
set -euo pipefail
: "${DADRAS:?}" "${SRC:?}" "${WORK:?}"
rm -rf "$WORK"; mkdir -p "$WORK"; cd "$WORK"
gold=$SRC/tests/data/golden
run() { "$DADRAS" run "$@" --rules "$SRC/rules/sso" --tables "$SRC/rules/sso/tables" --quiet; }

for t in 1 2; do
  status=0
  run "$gold/run1.tsv" --out "o$t" --threads "$t" 2>/dev/null || status=$?
  [ "$status" = 1 ] || { echo "FAIL: exit $status, want 1 (one document rejected)"; exit 1; }
  zstd -qdc "o$t/decisions.tsv.zst" > "d$t.tsv"
  diff -u "$gold/run1.expected.tsv" "d$t.tsv"
done
echo "ok: decisions equal the hand computation (threads 1 and 2); exit 1"

grep -v '^#' o1/quarantine.tsv > q.tsv
grep -E '^(P	RX-BAD	|L	1	D	D-PLAIN	10	50000	500000	350000	0			12345000000000000131$)' \
  "$gold/run1.tsv" > want_q.tsv
cmp want_q.tsv q.tsv
echo "ok: the quarantine holds exactly the rejected document's raw lines"

"$DADRAS" ledger init l.db >/dev/null
status=0
run "$gold/run1.tsv" --out p1 --ledger l.db 2>/dev/null || status=$?
[ "$status" = 1 ] || { echo "FAIL: exit $status with ledger"; exit 1; }
"$DADRAS" ledger --ledger l.db balances > bal.tsv
grep -q "^center:HO-UNI-1:payable	C	29160000	" bal.tsv || { cat bal.tsv; echo "FAIL: HO-UNI-1 payable"; exit 1; }
grep -q "^center:PH-GOV-1:daroyar	C	16000000	" bal.tsv || { cat bal.tsv; echo "FAIL: PH-GOV-1 Daroyar"; exit 1; }
echo "ok: verified totals posted per center"

sed 's/^T\t13\t/T\t14\t/' "$gold/run1.tsv" > bad_trailer.tsv
sed -i 's/^H\t1\tGOLD-1\t/H\t1\tGOLD-2\t/' bad_trailer.tsv
status=0
run bad_trailer.tsv --out u1 --ledger l.db 2>/dev/null || status=$?
[ "$status" = 2 ] || { echo "FAIL: exit $status for an unverified batch, want 2"; exit 1; }
[ -s u1/decisions.tsv.zst ] || { echo "FAIL: decisions not written for an unverified batch"; exit 1; }
grep -q '"ledger": "not posted (unverified)"' u1/summary.json || { echo "FAIL: summary"; exit 1; }
"$DADRAS" ledger --ledger l.db balances > bal2.tsv
cmp bal.tsv bal2.tsv
echo "ok: an unverified batch exits 2 and posts nothing"

# Progress: a line on stderr at a terminal, none when piped.
"$DADRAS" run "$gold/run1.tsv" --rules "$SRC/rules/sso" --tables "$SRC/rules/sso/tables" \
  --out pr1 >/dev/null 2>piped.txt || true
if grep -q "docs/s" piped.txt; then echo "FAIL: progress line when piped"; exit 1; fi
if command -v script >/dev/null; then
  script -qec "$DADRAS run $gold/run1.tsv --rules $SRC/rules/sso --tables $SRC/rules/sso/tables --out pr2 >/dev/null" tty.txt >/dev/null 2>&1 || true
  grep -q "docs/s" tty.txt || { echo "FAIL: no progress line at a terminal"; cat tty.txt; exit 1; }
  echo "ok: progress line at a terminal, none when piped"
fi
