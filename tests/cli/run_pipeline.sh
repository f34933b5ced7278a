#!/usr/bin/env bash
# dadras run, end to end on a generated province sample. Checks, on real
# output: (1) decisions are byte-identical for --threads 1, 2 and 8 and for
# two runs; (2) the invariants on every line and document (patient +
# insurer + daroyar = gross; approved <= claimed; deduction = claimed -
# approved; D rows = sums of their L rows; T row = sums of all L rows);
# (3) summary.json agrees with the T row and read = adjudicated + rejected;
# (4) with a ledger: the batch posts once, verify passes, and a rerun against
# its own settled history marks every line K09 and posts nothing new.
# Property-style: repeated over generated batches of different seeds, anomaly
# rates and (second seed) documents malformed for intake.
set -euo pipefail
: "${DADRAS:?}" "${SRC:?}" "${WORK:?}"
rm -rf "$WORK"; mkdir -p "$WORK"
top=$WORK

for case in "11 0.05 0" "12 0.20 0.01"; do
read -r seed rate malformed <<<"$case"
echo "== seed $seed, anomaly rate $rate, malformed rate $malformed"
mkdir -p "$top/s$seed"; cd "$top/s$seed"
"$DADRAS" gen --out g --scale 0.002 --insured 30000 --drugs 3000 --services 1500 \
  --physicians 2000 --centers 300 --zstd --seed "$seed" --anomaly-rate "$rate" \
  --malformed-rate "$malformed" --quiet
want_exit=0
[ "$malformed" != 0 ] && want_exit=1
run() {
  local status=0
  "$DADRAS" run g/batch.tsv.zst --rules "$SRC/rules/sso" --tables g/tables --quiet "$@" 2>/dev/null || status=$?
  [ "$status" = "$want_exit" ] || { echo "FAIL: dadras run $* exited $status, want $want_exit"; exit 1; }
}

for t in 1 2 8; do
  run --out "o$t" --threads "$t"
  zstd -qdc "o$t/decisions.tsv.zst" > "d$t.tsv"
done
run --out o2b --threads 2
zstd -qdc o2b/decisions.tsv.zst > d2b.tsv
cmp d1.tsv d2.tsv
cmp d1.tsv d8.tsv
cmp d2.tsv d2b.tsv
echo "ok: identical decisions for threads 1, 2, 8 and a second run"
# Tiny intake blocks: duplicates (K09) and reused packs (K08) now fall in
# other blocks than their originals, so the ordered commit must catch and
# redo the workers' speculative decisions; the result must not change.
for t in 1 3; do
  run --out "b$t" --threads "$t" --block-bytes 2048
  zstd -qdc "b$t/decisions.tsv.zst" | cmp - d1.tsv
done
redone=$(grep -o '"rechecked_across_blocks": [0-9]*' b3/summary.json | sed 's/.*: //')
[ "$redone" -gt 0 ] || { echo "FAIL: no document was rechecked across blocks"; exit 1; }
echo "ok: identical decisions with tiny blocks ($redone documents rechecked at commit)"

awk -F'\t' '
  function fail(msg) { print "FAIL line " NR ": " msg; bad = 1; exit 1 }
  $1 == "D" {
    if (doc != "") check_doc()
    doc = $2; ndocs++
    ci = $4; cd = $5; ai = $6; ad = $7; de = $8
    if (ai > ci || ad > cd) fail("approved above claimed")
    if (ci + cd - ai - ad != de) fail("D deduction != claimed - approved")
    sai = 0; sad = 0; sde = 0
    next
  }
  $1 == "L" {
    if ($2 != doc) fail("L outside its document")
    nlines++
    if ($7 + $8 + $9 != $6) fail("patient + insurer + daroyar != gross")
    if ($4 !~ /^[APR]$/) fail("bad status")
    if ($4 == "A" && ($12 != 0 || $13 != "")) fail("status A with a deduction or reason")
    sai += $10; sad += $11; sde += $12
    g += $6; p += $7; i += $8; dy += $9; tai += $10; tad += $11; tde += $12
    next
  }
  $1 == "T" {
    check_doc(); doc = ""
    if ($2 != ndocs || $3 != nlines) fail("T counts")
    if ($4 != g || $5 != p || $6 != i || $7 != dy) fail("T gross/patient/insurer/daroyar")
    if ($10 != tai || $11 != tad || $12 != tde) fail("T approved/deduction")
    seen_t = 1; next
  }
  { fail("unknown row") }
  function check_doc() {
    if (sai != ai || sad != ad || sde != de) fail("D money != sum of its L rows (" doc ")")
  }
  END { if (!bad && !seen_t) { print "FAIL: no T row"; exit 1 } }
' d1.tsv
echo "ok: invariants hold on every row"

# summary.json agrees with the decisions file.
json_num() { grep -o "\"$1\": [0-9-]*" "$2" | head -n 1 | sed 's/.*: //'; }
t_row=$(tail -n 1 d1.tsv)
t_docs=$(cut -f2 <<<"$t_row"); t_ai=$(cut -f10 <<<"$t_row")
read_docs=$(grep -o '"documents": {"read": [0-9]*' o1/summary.json | sed 's/.*: //')
adj_docs=$(grep -o '"documents": {[^}]*}' o1/summary.json | grep -o '"adjudicated": [0-9]*' | sed 's/.*: //')
rej_docs=$(grep -o '"documents": {[^}]*}' o1/summary.json | grep -o '"rejected": [0-9]*' | sed 's/.*: //')
[ "$t_docs" = "$adj_docs" ] || { echo "FAIL: T docs $t_docs != summary $adj_docs"; exit 1; }
[ $((adj_docs + rej_docs)) = "$read_docs" ] || { echo "FAIL: read != adjudicated + rejected"; exit 1; }
[ "$(json_num approved_insurer o1/summary.json)" = "$t_ai" ] || { echo "FAIL: summary approved_insurer"; exit 1; }
echo "ok: summary.json agrees with the T row; read = adjudicated + rejected"

# Ledger: post once, verify, rerun = all K09 and nothing new.
"$DADRAS" ledger init l.db >/dev/null
run --out p1 --threads 2 --ledger l.db
"$DADRAS" ledger --ledger l.db verify >/dev/null
"$DADRAS" ledger --ledger l.db balances > bal1.tsv
grep -q '"ledger": "posted"' p1/summary.json || { echo "FAIL: first run did not post"; exit 1; }
run --out p2 --threads 2 --ledger l.db
grep -q '"ledger": "already posted"' p2/summary.json || { echo "FAIL: rerun did not say already posted"; exit 1; }
"$DADRAS" ledger --ledger l.db balances > bal2.tsv
cmp bal1.tsv bal2.tsv
zstd -qdc p2/decisions.tsv.zst | awk -F'\t' '$1 == "L" && $13 !~ /K09/ { print "FAIL: rerun line without K09: " $0; exit 1 }'
"$DADRAS" ledger --ledger l.db verify >/dev/null
echo "ok: posted once; rerun marks every line K09 and posts nothing new"
done
