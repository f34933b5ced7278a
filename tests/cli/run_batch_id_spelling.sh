#!/usr/bin/env bash
# The batch id is the ledger's idempotency key, and ids are compared after
# folding Arabic yeh (U+064A) and kaf (U+0643) into the Persian letters
# (batch-format.md): a batch spelled with the other letter is the same
# batch. Posted once; the other spelling with other content is refused
# (refused, exit 2), the ledger unchanged.
set -euo pipefail
: "${DADRAS:?}" "${SRC:?}" "${WORK:?}"
rm -rf "$WORK"; mkdir -p "$WORK"; cd "$WORK"
fail() { echo "FAIL: $*"; exit 1; }
gold=$SRC/tests/data/golden/run1.tsv
rules=(--rules "$SRC/rules/sso" --tables "$SRC/rules/sso/tables")
arabic=$(printf 'GOLD-\xd9\x8a\xd9\x83')   # yeh U+064A, kaf U+0643
persian=$(printf 'GOLD-\xdb\x8c\xda\xa9')  # yeh U+06CC, kaf U+06A9
grep -v '^#' "$gold" | sed "s/^H\t1\tGOLD-1\t/H\t1\t$arabic\t/" > a.tsv
{ grep -v '^#' "$gold" | sed "s/^H\t1\tGOLD-1\t/H\t1\t$persian\t/"; echo '# one more line'; } > p.tsv
grep -q "$arabic" a.tsv && grep -q "$persian" p.tsv || fail "fixtures"
"$DADRAS" ledger init l.db >/dev/null
status=0
"$DADRAS" run a.tsv "${rules[@]}" --out oa --ledger l.db >out.txt 2>err.txt || status=$?
[ "$status" -le 1 ] || { cat out.txt err.txt; fail "first run exited $status"; }
grep -q "ledger: posted" out.txt || { cat out.txt; fail "first spelling not posted"; }
"$DADRAS" ledger --ledger l.db dump > before.txt
status=0
"$DADRAS" run p.tsv "${rules[@]}" --out op --ledger l.db >out.txt 2>err.txt || status=$?
[ "$status" = 2 ] || { cat out.txt err.txt; fail "other spelling, other content: exit $status, want 2"; }
grep -q "refused (same batch id, other content)" out.txt || { cat out.txt err.txt; fail "no conflict reported"; }
"$DADRAS" ledger --ledger l.db dump > after.txt
cmp -s before.txt after.txt || fail "the refused batch changed the ledger"
[ "$(sqlite3 l.db 'SELECT count(*) FROM batch')" = 1 ] || fail "two batch rows for one batch id"
echo "ok: one batch id, two spellings"
