#!/usr/bin/env bash
# The ledger's settled-id index (LEDGER.idx, core/ledger.h): `dadras run
# --ledger` maps it instead of loading the history, and must answer exactly
# as the ledger would. Every case compares the decisions of a run using
# the index with those of a run against a copy of the same ledger without
# one (the history loaded from the ledger), byte for byte, and checks which
# path was taken (DADRAS_INDEX_TRACE):
#   missing -> loaded and written; used; posted since by another process
#   (`dadras ledger post`) -> used + the new batch loaded from the ledger;
#   bit flips in the header, the pack table, the doc bytes, truncation,
#   garbage -> damaged, loaded and rewritten; a batch reversed since -> stale.
set -euo pipefail
: "${DADRAS:?}" "${SRC:?}" "${WORK:?}"
rm -rf "$WORK"; mkdir -p "$WORK"; cd "$WORK"
export DADRAS_INDEX_TRACE=1

gen() { # gen DIR SEED PERIOD
  "$DADRAS" gen --out "$1" --scale 0.002 --insured 30000 --drugs 3000 --services 1500 \
    --physicians 2000 --centers 300 --zstd --seed "$2" --period "$3" --quiet
}
gen g1 31 1403/10
gen g2 32 1403/11

# run NAME BATCH_DIR LEDGER [args]: decisions into NAME.tsv, trace into NAME.err
run() {
  local name=$1 g=$2 ledger=$3
  shift 3
  local status=0
  "$DADRAS" run "$g/batch.tsv.zst" --rules "$SRC/rules/sso" --tables "$g/tables" --quiet \
    --out "o_$name" --ledger "$ledger" "$@" 2> "$name.err" || status=$?
  [ "$status" = 0 ] || { echo "FAIL: run $name exited $status"; cat "$name.err"; exit 1; }
  zstd -qdc "o_$name/decisions.tsv.zst" > "$name.tsv"
}
expect_trace() { # expect_trace NAME PATTERN
  grep -q "$2" "$1.err" || { echo "FAIL: $1: trace lacks '$2':"; cat "$1.err"; exit 1; }
}
# same_as_ledger NAME BATCH_DIR: a run of the same batch against a copy of
# the ledger before NAME ran, without its index, decides the same.
snapshot() { rm -f ref.db ref.db-wal ref.db-shm ref.db.idx; cp l.db ref.db; }
same_as_ledger() {
  run "$1_ref" "$2" ref.db
  expect_trace "$1_ref" "index: missing"
  cmp "$1.tsv" "$1_ref.tsv" || { echo "FAIL: $1: decisions differ from the ledger's history"; exit 1; }
}
idx_field() { # the header's uint64 field N (0-based, after magic) of l.db.idx
  od -An -t u8 -j $((8 + 8 * $1)) -N 8 l.db.idx | tr -d ' '
}
flip_byte() { # flip_byte FILE OFFSET
  local b
  b=$(od -An -t u1 -j "$2" -N 1 "$1" | tr -d ' ')
  printf "$(printf '\\%03o' $((b ^ 0x40)))" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}

"$DADRAS" ledger init l.db >/dev/null

# 1. No index yet: loaded from the ledger, posted, index written.
snapshot
run first g1 l.db
expect_trace first "index: missing"
expect_trace first "index: written"
[ -s l.db.idx ] || { echo "FAIL: no l.db.idx after the first run"; exit 1; }
grep -q '"ledger": "posted"' o_first/summary.json || { echo "FAIL: first run did not post"; exit 1; }
same_as_ledger first g1
echo "ok: missing index -> history from the ledger, index written"

# 2. The index holds exactly the ledger: used, nothing loaded, nothing written.
snapshot
run again g1 l.db
expect_trace again "index: used, 0 ids loaded from the ledger, rewrite at end: no"
! grep -q "index: written" again.err || { echo "FAIL: a fresh index was rewritten"; exit 1; }
grep -q '"ledger": "already posted"' o_again/summary.json || { echo "FAIL: rerun not already posted"; exit 1; }
awk -F'\t' '$1 == "L" && $13 !~ /K09/ { print "FAIL: rerun line without K09: " $0; exit 1 }' again.tsv
same_as_ledger again g1
echo "ok: fresh index used; rerun all K09, identical to the ledger's history"

# 3. Another process posts a batch: the index is behind; the run loads only
# that batch from the ledger and answers for both.
"$DADRAS" run g2/batch.tsv.zst --rules "$SRC/rules/sso" --tables g2/tables --quiet --out x2 2>/dev/null
"$DADRAS" ledger --ledger l.db post x2 >/dev/null
snapshot
run behind g2 l.db
grep -q "index: used, [1-9][0-9]* ids loaded from the ledger" behind.err ||
  { echo "FAIL: behind: the new batch was not loaded:"; cat behind.err; exit 1; }
awk -F'\t' '$1 == "L" && $13 !~ /K09/ { print "FAIL: batch posted by another process not seen: " $0; exit 1 }' behind.tsv
same_as_ledger behind g2
# The first batch still answers from the index in the same run shape.
snapshot
run behind1 g1 l.db
same_as_ledger behind1 g1
echo "ok: a batch posted by \`dadras ledger post\` is loaded beside the index"

# 4. Damage: every case is refused by a checksum (or the header) and the
# history comes from the ledger; the index is written anew.
run rebuild g1 l.db   # makes sure the index holds both batches
expect_trace rebuild "index: used"
[ -s l.db.idx ] || { echo "FAIL: no index"; exit 1; }
cp l.db.idx good.idx
pack_off=$(idx_field 4)
arena_off=$(idx_field 10)
size=$(stat -c %s good.idx)
for damage in header pack arena truncate garbage empty; do
  cp good.idx l.db.idx
  case $damage in
    header) flip_byte l.db.idx 40 ;;
    pack) flip_byte l.db.idx $((pack_off + 4096 + 3)) ;;
    arena) flip_byte l.db.idx $((arena_off + 5)) ;;
    truncate) truncate -s $((size / 2)) l.db.idx ;;
    garbage) head -c "$size" /dev/urandom > l.db.idx ;;
    empty) : > l.db.idx ;;
  esac
  snapshot
  run "bad_$damage" g1 l.db
  expect_trace "bad_$damage" "index: damaged"
  expect_trace "bad_$damage" "index: written"
  same_as_ledger "bad_$damage" g1
  cmp -s l.db.idx good.idx || { echo "FAIL: $damage: the rewritten index differs from the good one"; exit 1; }
done
echo "ok: header, pack table, doc bytes flipped, truncated, random, empty -> damaged, rebuilt"

# 5. A batch the index holds is reversed: stale, everything from the ledger;
# the reversed batch's documents are no longer "seen before".
entry=$(sqlite3 l.db "SELECT entry_id FROM batch WHERE batch_id = (SELECT min(batch_id) FROM batch)")
"$DADRAS" ledger --ledger l.db reverse "$entry" 1403/12/01 "index test" >/dev/null
snapshot
run reversed g1 l.db
expect_trace reversed "index: stale"
same_as_ledger reversed g1
echo "ok: a reversal since the index was written -> stale, history from the ledger"
"$DADRAS" ledger --ledger l.db verify >/dev/null
