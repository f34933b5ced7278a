#!/usr/bin/env bash
# A document the rule set fails on (here an overflow: a drug priced at the
# rial maximum, 10,000 units) is rejected late, like an intake reject: its
# position and error on stderr, its raw lines byte for byte in the
# quarantine, no decision rows, and it marks nothing, so a later document
# with its pack id is not K08 and one with its doc id is not K09. The rest
# of the batch is adjudicated and posted; exit 1; read = adjudicated +
# rejected; the same bytes for one thread and two.
set -euo pipefail
: "${DADRAS:?}" "${SRC:?}" "${WORK:?}"
rm -rf "$WORK"; mkdir -p "$WORK"; cd "$WORK"
fail() { echo "FAIL: $*"; exit 1; }

cp -r "$SRC/rules/sso/tables" tables
printf 'D-HUGE\t10000\t9000000000000000\t9000000000000000\t0\t\t1400/01/01\t\n' >> tables/drugs.tsv

# F2 overflows (on its first line, after that line's pack id was asked
# for). F3 repeats that pack id and F4 repeats F2's doc id: both
# must be adjudicated as if F2 had never been read. The batch is written
# with printf so that the tabs and the CR of F2's header are exact.
{
  printf 'H\t1\tRULEFAIL-1\tKHZ\t1403/05\t1403/06/01\tTEST\n'
  printf 'P\tF1\tPH-GOV-1\t0012345679\t1001\t1403/05/01\t1403/05/02\n'
  printf 'L\t1\tD\tD-PLAIN\t10\t50000\t500000\t350000\t0\t\t\t55555000000000000001\n'
  printf 'P\tF2\tPH-GOV-1\t0012345679\t1001\t1403/05/01\t1403/05/02\r\n'
  printf '# a comment inside the document stays with it\n'
  printf 'L\t1\tD\tD-HUGE\t10000\t1\t10000\t10000\t0\t\t\t55555000000000000002\n'
  printf 'L\t2\tD\tD-PLAIN\t10\t50000\t500000\t350000\t0\t\t\t55555000000000000003\n'
  printf 'P\tF3\tPH-GOV-1\t0012345679\t1001\t1403/05/01\t1403/05/02\n'
  printf 'L\t1\tD\tD-PLAIN\t10\t50000\t500000\t350000\t0\t\t\t55555000000000000002\n'
  printf 'P\tF2\tPH-GOV-1\t0012345679\t1001\t1403/05/03\t1403/05/03\n'
  printf 'L\t1\tD\tD-PLAIN\t10\t50000\t500000\t350000\t0\t\t\t55555000000000000004\n'
  printf 'T\t4\t5\t2010000\t1410000\t0\n'
} > b.tsv

for t in 1 2; do
  "$DADRAS" ledger init "l$t.db" >/dev/null
  status=0
  "$DADRAS" run b.tsv --rules "$SRC/rules/sso" --tables tables --out "o$t" --threads "$t" \
    --ledger "l$t.db" >"out$t.txt" 2>"err$t.txt" || status=$?
  [ "$status" = 1 ] || { cat "out$t.txt" "err$t.txt"; fail "threads $t: exit $status, want 1"; }
  grep -q "b.tsv:4:1: error: .*document 'F2' rejected \[E_RULE_OVERFLOW\]" "err$t.txt" ||
    { cat "err$t.txt"; fail "threads $t: no positioned E_RULE_OVERFLOW diagnostic"; }
  grep -q "documents: 4 read, 3 adjudicated, 1 rejected" "out$t.txt" ||
    { cat "out$t.txt"; fail "threads $t: counts do not add up"; }
  grep -q "ledger: posted" "out$t.txt" || { cat "out$t.txt"; fail "threads $t: not posted"; }
  grep -q '"documents": {"read": 4, "adjudicated": 3, "rejected": 1' "o$t/summary.json" ||
    fail "threads $t: summary.json counts"
  zstd -dcq "o$t/decisions.tsv.zst" > "d$t.tsv"
done
cmp -s d1.tsv d2.tsv || fail "decisions differ between 1 and 2 threads"
cmp -s o1/quarantine.tsv o2/quarantine.tsv || fail "quarantines differ between 1 and 2 threads"

# The quarantine: one comment naming the error and position, then F2's raw
# lines (the CR dropped with the line end, as for every quarantined line).
head -1 o1/quarantine.tsv | grep -q '^# b.tsv:4:1: E_RULE_OVERFLOW: .*(document .F2.)$' ||
  { cat o1/quarantine.tsv; fail "quarantine comment"; }
tail -n +2 o1/quarantine.tsv > q_body.tsv
sed -n '4,7p' b.tsv | tr -d '\r' > want_body.tsv
cmp -s q_body.tsv want_body.tsv || { diff want_body.tsv q_body.tsv; fail "quarantine body"; }

# No rows for the failed document; F3 and the later F2 stand on their own.
! grep -q $'^[DL]\tF2\t.*D-HUGE' d1.tsv || fail "a row of the failed document"
[ "$(grep -c $'^D\t' d1.tsv)" = 3 ] || { cat d1.tsv; fail "want 3 document rows"; }
grep $'^L\tF3\t1\t' d1.tsv | grep -q K08 && fail "F3 got K08 for a pack only the failed document used"
grep $'^D\tF2\t' d1.tsv | grep -q K09 && fail "the later F2 got K09 for a document that was never adjudicated"
grep -q $'^D\tF3\tA\t' d1.tsv || { cat d1.tsv; fail "F3 should be approved"; }
grep -q $'^D\tF2\tA\t' d1.tsv || { cat d1.tsv; fail "the later F2 should be approved"; }

# A corrected table takes the quarantined document (with a header and a
# trailer around it) without complaint.
head -n -1 tables/drugs.tsv > t2 && mv t2 tables/drugs.tsv
printf 'D-HUGE\t10000\t90000\t90000\t0\t\t1400/01/01\t\n' >> tables/drugs.tsv
{
  printf 'H\t1\tRULEFAIL-2\tKHZ\t1403/05\t1403/06/01\tTEST\n'
  grep -v '^#' o1/quarantine.tsv
  printf 'T\t1\t2\t510000\t360000\t0\n'
} > again.tsv
status=0
"$DADRAS" run again.tsv --rules "$SRC/rules/sso" --tables tables --out o3 --threads 2 \
  >out3.txt 2>err3.txt || status=$?
[ "$status" = 0 ] || { cat out3.txt err3.txt; fail "resubmitted document: exit $status, want 0"; }
# Every line fits but their sum does not: 1,100 lines of a drug a table
# prices at 9e15 rials. The document is rejected the same way (it aborted
# on an assertion before).
printf 'D-HUGE1\t1\t9000000000000000\t9000000000000000\t0\t\t1400/01/01\t\n' >> tables/drugs.tsv
{
  printf 'H\t1\tRULEFAIL-3\tKHZ\t1403/05\t1403/06/01\tTEST\n'
  printf 'P\tG1\tPH-GOV-1\t0012345679\t1001\t1403/05/01\t1403/05/02\n'
  for i in $(seq 1 1100); do
    printf 'L\t%d\tD\tD-HUGE1\t1\t1\t1\t1\t0\t\t\t5555500000000000%04d\n' "$i" "$i"
  done
  printf 'T\t1\t1100\t1100\t1100\t0\n'
} > sum.tsv
for t in 1 2; do
  status=0
  "$DADRAS" run sum.tsv --rules "$SRC/rules/sso" --tables tables --out "s$t" --threads "$t" \
    >"sout$t.txt" 2>"serr$t.txt" || status=$?
  [ "$status" = 1 ] || { cat "sout$t.txt" "serr$t.txt"; fail "sum overflow, threads $t: exit $status, want 1"; }
  grep -q "document 'G1' rejected \[E_RULE_OVERFLOW\]" "serr$t.txt" || { cat "serr$t.txt"; fail "sum overflow not reported"; }
  [ "$(grep -vc '^#' "s$t/quarantine.tsv")" = 1101 ] || fail "sum overflow: quarantine"
done
echo "ok: late reject of a document the rule set fails on"
