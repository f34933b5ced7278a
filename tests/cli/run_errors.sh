#!/usr/bin/env bash
# dadras run when things go wrong: each case must end with the exit status
# of batch-format.md (64 usage, 74 unreadable/unwritable, 2 unverified) and
# a message naming the problem, never a crash; and a broken rule set stops
# the run before anything is read or written.
set -euo pipefail
: "${DADRAS:?}" "${SRC:?}" "${WORK:?}"
rm -rf "$WORK"; mkdir -p "$WORK"; cd "$WORK"
gold=$SRC/tests/data/golden/run1.tsv
rules=(--rules "$SRC/rules/sso" --tables "$SRC/rules/sso/tables")

expect() { # expect STATUS PATTERN -- ARGS...
  local want=$1 pattern=$2; shift 3
  local status=0
  "$DADRAS" run "$@" >out.txt 2>err.txt || status=$?
  if [ "$status" != "$want" ]; then
    echo "FAIL: dadras run $* exited $status, want $want"; cat err.txt; exit 1
  fi
  grep -q -- "$pattern" err.txt || { echo "FAIL: no '$pattern' in stderr of dadras run $*"; cat err.txt; exit 1; }
  echo "ok: exit $want: $pattern"
}

expect 64 "no batch given" -- "${rules[@]}"
expect 64 "required" -- "$gold"
expect 64 "threads" -- "$gold" "${rules[@]}" --threads 0
expect 64 "unknown option" -- "$gold" "${rules[@]}" --frobnicate
expect 74 "E_OPEN" -- "$WORK/missing.tsv" "${rules[@]}" --out o1
: > empty.tsv
expect 2 "E_INPUT_EMPTY" -- empty.tsv "${rules[@]}" --out o2
# A regular file whose size says 0 but whose read fails (procfs): 74,
# not "empty".
expect 74 "E_READ" -- /proc/self/mem "${rules[@]}" --out o2b
head -c 4096 /dev/urandom > noise.bin
expect 2 "E_" -- noise.bin "${rules[@]}" --out o3
head -c 300 "$gold" | zstd -q > cut.zst
expect 2 "E_TRAILER_MISSING" -- cut.zst "${rules[@]}" --out o4
zstd -q -c "$gold" | head -c 200 > trunc.zst
expect 2 "E_ZSTD_TRUNCATED" -- trunc.zst "${rules[@]}" --out o5
touch file_not_dir
expect 74 "cannot create output folder" -- "$gold" "${rules[@]}" --out file_not_dir/x
mkdir broken_rules
printf 'this is not a rule file\n' > broken_rules/x.rules
expect 64 "rule set did not load" -- "$gold" --rules broken_rules --tables "$SRC/rules/sso/tables" --out o6
[ ! -e o6 ] || { echo "FAIL: a broken rule set still wrote output"; exit 1; }
# Totals past int64 (1,025 lines of 9e15 rials): the batch stops with
# E_OVERFLOW, exit 2, never an abort or a wrapped total.
{
  printf 'H\t1\tOVER\tKHZ\t1403/06\t1403/06/30\tT\n'
  for i in $(seq 1 1025); do
    printf 'P\tR%d\tPH-GOV-1\t0012345679\t1001\t1403/05/01\t1403/05/02\n' "$i"
    printf 'L\t1\tD\tD-PLAIN\t1\t9000000000000000\t9000000000000000\t9000000000000000\t0\n'
  done
  printf 'T\t1025\t1025\t0\t0\t0\n'
} > over.tsv
expect 2 "E_OVERFLOW" -- over.tsv "${rules[@]}" --out o_over --threads 2
zstd -dcq o_over/decisions.tsv.zst | grep -q -- '-[0-9]' && { echo "FAIL: a negative (wrapped) amount"; exit 1; }
# A ledger that does not exist is not created by run (a mistyped path
# would mean an empty history: every settled pack and document again).
expect 74 "dadras ledger init" -- "$gold" "${rules[@]}" --out o_noledger --ledger "$WORK/typo.db"
[ ! -e "$WORK/typo.db" ] || { echo "FAIL: run created a ledger"; exit 1; }
# A rule or table file that cannot be read is an unreadable file: 74.
expect 74 "E_RULE_FILE" -- "$gold" --rules "$SRC/rules/sso" --tables "$WORK/no_tables" --out o6b
expect 74 "E_RULE_FILE" -- "$gold" --rules "$WORK/no_rules" --tables "$SRC/rules/sso/tables" --out o6c
[ ! -e o6b ] && [ ! -e o6c ] || { echo "FAIL: an unreadable rule set still wrote output"; exit 1; }
"$DADRAS" ledger init damaged.db >/dev/null
head -c 3000 /dev/urandom | dd of=damaged.db bs=1 seek=4096 conv=notrunc 2>/dev/null
expect 74 "E_LEDGER_CORRUPT" -- "$gold" "${rules[@]}" --out o7 --ledger damaged.db
[ ! -e o7/decisions.tsv.zst ] || { echo "FAIL: a damaged ledger still let the run adjudicate"; exit 1; }
