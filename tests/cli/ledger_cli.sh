#!/usr/bin/env bash
# dadras ledger end to end: init, post a run's totals twice (posts once),
# debts, offsets with refusals, payments, the clause 5 report, verify, exit
# statuses, and that the stock sqlite3 shell reads the file (the README's
# queries in notes/ledger.md).
set -euo pipefail
: "${DADRAS:?}" "${WORK:?}"
rm -rf "$WORK"; mkdir -p "$WORK/out"; cd "$WORK"
fail() { echo "FAIL: $*" >&2; exit 1; }
expect_rc() { local want=$1; shift; set +e; "$@" >out.txt 2>err.txt; local rc=$?; set -e
  [ "$rc" = "$want" ] || { cat out.txt err.txt >&2; fail "$* exited $rc, expected $want"; }; }

expect_rc 0 "$DADRAS" ledger init l.db
grep -q 'ledger created' out.txt || fail "init message"
expect_rc 0 "$DADRAS" ledger init l.db
grep -q 'already a ledger' out.txt || fail "second init must leave the ledger as is"
expect_rc 64 "$DADRAS" ledger balances            # which ledger?
expect_rc 64 "$DADRAS" ledger --ledger l.db frobnicate
export DADRAS_LEDGER=l.db

printf 'batch\tB1\t0123456789abcdef0123456789abcdef\tKHZ\t1403/05\t1\t3\t2\t2\n' >out/totals.tsv
printf 'center\tC1\tGOV\t1000000\t300000\ncenter\tC2\tPRV\t500000\t0\ncenter\tC3\tSSO\t700\t0\n' >>out/totals.tsv
printf 'batch\tB2\tfedcba9876543210fedcba9876543210\tKHZ\t1403/05\t0\t1\t0\t0\ncenter\tC1\tGOV\t5\t0\nend\t2\n' >>out/totals.tsv
printf 'D1\nD2\n' >out/settled_docs.txt
printf '\x05\0\0\0\0\0\0\0\x03\0\0\0\0\0\0\0' >out/settled_packs.u64
expect_rc 2 "$DADRAS" ledger post out              # B2 is unverified: refused
grep -q 'batch B1: posted' out.txt || fail "B1 not posted"
grep -q 'E_LEDGER_UNVERIFIED' err.txt || fail "B2 must be refused as unverified"
expect_rc 2 "$DADRAS" ledger post out
grep -q 'batch B1: already posted' out.txt || fail "second post must be a no-op"
# Same batch id, other totals: refused, nothing changes.
"$DADRAS" ledger dump >before.txt
sed -i 's/^center\tC2\tPRV\t500000/center\tC2\tPRV\t500001/' out/totals.tsv
expect_rc 2 "$DADRAS" ledger post out
grep -q 'E_LEDGER_CONFLICT' err.txt || fail "conflict not reported"
"$DADRAS" ledger dump >after.txt
cmp -s before.txt after.txt || fail "a refused post changed the ledger"
# A truncated run output is refused.
head -n 3 out/totals.tsv >out/t && mv out/t out/totals.tsv
expect_rc 2 "$DADRAS" ledger post out

printf 'employer\tworkshop\tamount\tperiod\thard_to_collect\n' >debts.tsv
printf 'E1\tW1\t400000\t1395/02\t1\nE1\tW2\t200000\t1394/11\t1\nE1\tW3\t900000\t1398/01\t1\nE2\tW1\t5000\t1390/01\t0\n' >>debts.tsv
expect_rc 0 "$DADRAS" ledger debts import debts.tsv
grep -q '4 applied' out.txt || fail "debts"
expect_rc 0 "$DADRAS" ledger debts import debts.tsv
grep -q '4 already applied' out.txt || fail "debts must be idempotent"
printf 'E1\tW1\t9223372036854775808\t1395/02\t1\n' >huge.tsv
expect_rc 2 "$DADRAS" ledger debts import huge.tsv
grep -q 'E_LEDGER_AMOUNT' err.txt || fail "int64 overflow amount must be refused"

printf 'A1\tE1\tC1\t500000\tGOV-77\t1403/06/10\n' >off.tsv
printf 'A2\tE1\tC2\t200000\tGOV-78\t1403/06/11\n' >>off.tsv   # over debt (100,000 left)
printf 'A3\tE2\tC1\t1000\tG\t1403/06/11\n' >>off.tsv          # not hard to collect
printf 'A4\tE1\tC3\t100\tG\t1403/06/11\n' >>off.tsv           # SSO sector
printf 'A1\tE1\tC1\t500001\tGOV-77\t1403/06/10\n' >>off.tsv   # other values
printf 'A5\tE1\tC2\t100000\tGOV-79\t1403/06/12\n' >>off.tsv   # ok
expect_rc 1 "$DADRAS" ledger offset apply off.tsv
grep -q '2 applied, 0 already applied (no-op), 4 refused' out.txt || { cat out.txt; fail "offsets"; }
for e in E_LEDGER_OVER_DEBT E_LEDGER_SECTOR E_LEDGER_AGREEMENT_CONFLICT; do
  grep -q "$e" err.txt || fail "missing $e"
done
grep -q '^off.tsv:3: error' err.txt || fail "refusals must name the line"
expect_rc 1 "$DADRAS" ledger offset apply off.tsv
grep -q '0 applied, 2 already applied' out.txt || fail "offsets must be idempotent"

printf 'C1\t100000\t1403/07/01\tP1\nC1\t10000000\t1403/07/01\tP2\n' >pay.tsv
expect_rc 1 "$DADRAS" ledger pay pay.tsv
grep -q 'E_LEDGER_OVER_PAYABLE' err.txt || fail "overpayment"

expect_rc 0 "$DADRAS" ledger balances
grep -q $'^center:C1:payable\tC\t400000\t600000\t1000000$' out.txt || { cat out.txt; fail "C1 payable"; }
grep -q $'^center:C1:daroyar\tC\t300000\t0\t300000$' out.txt || fail "daroyar is never offset"
expect_rc 0 "$DADRAS" ledger balances --table
expect_rc 0 "$DADRAS" ledger statement center:C1:payable
[ "$(tail -n 1 out.txt | cut -f7)" = 400000 ] || fail "statement running balance"
expect_rc 2 "$DADRAS" ledger statement center:NOPE:payable
expect_rc 0 "$DADRAS" ledger report offsets 1403/06
[ "$(tail -n +2 out.txt | wc -l)" = 3 ] || { cat out.txt; fail "report rows"; }
grep -q $'^E1\tW2\t1394/11\tA1\tGOV-77\t1403/06/10\tC1\t200000$' out.txt || fail "oldest debt first"
expect_rc 0 "$DADRAS" ledger report offsets 1403/06 --table
grep -q '600,000' out.txt || fail "report total"
expect_rc 0 "$DADRAS" ledger verify
grep -q 'verify: ok' out.txt || fail "verify"
expect_rc 0 "$DADRAS" ledger settled
grep -q 'settled: 2 doc ids (6 bytes), 2 pack ids' out.txt || { cat out.txt; fail "settled"; }

# Corrections are reversing entries: reverse the payment P1 (entry 8).
pay_entry=$("$DADRAS" ledger statement sso:bank | awk -F'\t' '$3 == "payment" && $4 == "P1" {print $1}')
[ -n "$pay_entry" ] || fail "payment entry"
expect_rc 0 "$DADRAS" ledger reverse "$pay_entry" 1403/07/02 "paid twice by mistake"
grep -q 'reversed by entry' out.txt || fail "reverse"
expect_rc 0 "$DADRAS" ledger reverse "$pay_entry" 1403/07/02 "paid twice by mistake"
grep -q 'already reversed' out.txt || fail "reverse must be idempotent"
expect_rc 2 "$DADRAS" ledger reverse "$pay_entry" 1403/07/03 "other reason"
grep -q 'E_LEDGER_REVERSAL_CONFLICT' err.txt || fail "reverse conflict"
expect_rc 0 "$DADRAS" ledger balances
grep -q $'^center:C1:payable\tC\t500000\t' out.txt || { cat out.txt; fail "payable after reversal"; }
expect_rc 0 "$DADRAS" ledger verify

# The stock shell reads it (notes/ledger.md queries).
if command -v sqlite3 >/dev/null; then
  n=$(sqlite3 l.db "SELECT count(*) FROM entry")
  [ "$n" -gt 0 ] || fail "sqlite3 shell"
  sqlite3 -tabs l.db "SELECT a.name, -a.balance FROM account a WHERE a.name LIKE 'center:%:payable' ORDER BY 2 DESC" >q1.txt
  grep -q $'^center:C2:payable\t400000$' q1.txt || { cat q1.txt; fail "query 1"; }
  # Tampering through the shell is caught.
  sqlite3 l.db "UPDATE account SET balance = balance + 7 WHERE name = 'sso:treatment'"
  expect_rc 2 "$DADRAS" ledger verify
  grep -q 'cached balance differs' out.txt || fail "verify must report the tampering"
  set +e; sqlite3 l.db "DELETE FROM posting" 2>/dev/null; rc=$?; set -e
  [ "$rc" != 0 ] || fail "the shell must not be able to delete postings"
fi
# A damaged file is refused before anything is written (quick_check).
cp l.db bad.db
printf '\x00\x00\x00\x00' | dd of=bad.db bs=1 seek=16384 conv=notrunc status=none
expect_rc 2 "$DADRAS" ledger --ledger bad.db pay pay.tsv
grep -q 'E_LEDGER_CORRUPT' err.txt || { cat err.txt; fail "a damaged ledger must be refused"; }
# A consistent ledger whose total debits pass int64 (520 batches of 9e15
# rials each side): verify sums in 128 bits and says ok (SQLite's sum()
# failed with an overflow, reported as a SQL error).
mkdir -p big/out
for i in $(seq 1 520); do
  printf 'batch\tBIG%d\t%032x\tKHZ\t1403/05\t1\t1\t0\t0\n' "$i" "$i"
  printf 'center\tC1\tGOV\t9000000000000000\t9000000000000000\n'
done > big/out/totals.tsv
printf 'end\t520\n' >> big/out/totals.tsv
: > big/out/settled_docs.txt; : > big/out/settled_packs.u64
expect_rc 0 "$DADRAS" ledger init big/l.db
expect_rc 0 "$DADRAS" ledger --ledger big/l.db post big/out
grep -q '520 posted' out.txt || { cat out.txt; fail "the big batches were not posted"; }
expect_rc 0 "$DADRAS" ledger --ledger big/l.db verify
grep -q 'verify: ok' out.txt || { cat out.txt err.txt; fail "verify of a ledger past int64 in total"; }
echo "ledger cli: ok"
