#!/usr/bin/env bash
# dadras check end to end: the exit status of every fixture (both read
# paths, plain and zstd), zstd container damage made with the zstd CLI,
# usage errors (64), unreadable inputs and unwritable quarantines (74),
# several batches at once (the worst status wins), and the quarantine file.
set -u
: "${DADRAS:?}" "${SRC:?}" "${WORK:?}"
rm -rf "$WORK"; mkdir -p "$WORK"
fail=0
check() { # check WANT DESC CMD...
    local want=$1 desc=$2; shift 2
    "$@" >"$WORK/out" 2>"$WORK/err"
    local got=$?
    if [ "$got" != "$want" ]; then
        echo "FAIL $desc: exit $got, want $want"; sed -n 1,5p "$WORK/err"; fail=1
    fi
}
have_zstd=1; command -v zstd >/dev/null || have_zstd=0

n=0
for f in "$SRC"/tests/data/bad/*.tsv "$SRC"/tests/data/good/*.tsv; do
    want=$(sed -n '1s/.*exit=\([0-9]*\).*/\1/p' "$f")
    for io in uring pread; do
        check "$want" "$(basename "$f") ($io)" env ADJ_IO=$io "$DADRAS" check "$f"
    done
    if [ $have_zstd = 1 ]; then
        zstd -q -f -c "$f" >"$WORK/f.zst"
        check "$want" "$(basename "$f").zst" "$DADRAS" check "$WORK/f.zst"
    fi
    n=$((n + 1))
done
[ $n -ge 50 ] || { echo "FAIL only $n fixtures"; fail=1; }

good=$SRC/tests/data/good/base.tsv
# Quarantine: only rejected documents' lines and comments; both rejected docs there.
q=$WORK/q.tsv
check 1 "quarantine run" "$DADRAS" check --quarantine "$q" "$SRC/tests/data/bad/d_two_documents_rejected.tsv"
grep -v '^#' "$q" >"$WORK/q.body"
[ "$(wc -l <"$WORK/q.body")" = 5 ] || { echo "FAIL quarantine lines: $(cat "$WORK/q.body")"; fail=1; }
grep -q $'^P\tRX-A\t' "$WORK/q.body" && grep -q $'^I\tAD-C\t' "$WORK/q.body" ||
    { echo "FAIL quarantine misses a document"; fail=1; }
grep -q $'^P\tRX-B' "$WORK/q.body" && { echo "FAIL accepted document quarantined"; fail=1; }
# The quarantine (comments and all) is a valid batch body: wrapped in H/T it parses.
{ sed -n 2p "$good"; cat "$q"; printf 'T\t2\t3\t11300000\t10110000\t0\n'; } >"$WORK/resubmit.tsv"
check 1 "resubmitted quarantine" "$DADRAS" check "$WORK/resubmit.tsv"
grep -q "documents read 2, accepted 0, rejected 2" "$WORK/out" || { echo "FAIL resubmit"; cat "$WORK/out"; fail=1; }

# Usage and I/O errors.
check 64 "no arguments" "$DADRAS" check
check 64 "unknown option" "$DADRAS" check --frobnicate "$good"
check 64 "--quarantine without file" "$DADRAS" check "$good" --quarantine
check 0 "--help" "$DADRAS" check --help
check 64 "--threads 0" "$DADRAS" check --threads 0 "$good"
check 64 "--threads x" "$DADRAS" check --threads=x "$good"
check 0 "--threads 3" "$DADRAS" check --threads 3 "$good"
check 1 "--threads=1, rejected" "$DADRAS" check --threads=1 "$SRC/tests/data/bad/d_qty_zero.tsv"
check 74 "missing batch" "$DADRAS" check "$WORK/does-not-exist.zst"
check 74 "directory as batch" "$DADRAS" check "$WORK"
check 74 "unwritable quarantine" "$DADRAS" check --quarantine "$WORK/no/such/dir/q" "$good"
if [ -w /dev/full ]; then
    check 74 "quarantine on a full disk" "$DADRAS" check --quarantine /dev/full "$SRC/tests/data/bad/d_qty_zero.tsv"
fi
# Several batches: the worst status wins.
check 0 "two good" "$DADRAS" check "$good" "$SRC/tests/data/good/ok_crlf.tsv"
check 1 "good + rejected" "$DADRAS" check "$good" "$SRC/tests/data/bad/d_qty_zero.tsv"
check 2 "rejected + unverified" "$DADRAS" check "$SRC/tests/data/bad/d_qty_zero.tsv" "$SRC/tests/data/bad/b_no_trailer.tsv"
check 74 "unverified + missing" "$DADRAS" check "$SRC/tests/data/bad/b_no_trailer.tsv" "$WORK/missing"

# zstd container damage (the zstd CLI writes checksummed frames).
if [ $have_zstd = 1 ]; then
    z=$WORK/good.zst
    zstd -q -f -c "$good" >"$z"
    size=$(stat -c %s "$z")
    check 0 "zstd" "$DADRAS" check "$z"
    head -c $((size - 7)) "$z" >"$WORK/trunc.zst"
    check 2 "truncated zstd" "$DADRAS" check "$WORK/trunc.zst"
    grep -q E_ZSTD_TRUNCATED "$WORK/err" || { echo "FAIL no E_ZSTD_TRUNCATED"; fail=1; }
    { cat "$z"; printf 'trailing junk'; } >"$WORK/garbage.zst"
    check 2 "garbage after frame" "$DADRAS" check "$WORK/garbage.zst"
    grep -q E_ZSTD_TRAILING_GARBAGE "$WORK/err" || { echo "FAIL no E_ZSTD_TRAILING_GARBAGE"; fail=1; }
    head -c 200 "$good" | zstd -q -c >"$WORK/multi.zst"
    tail -c +201 "$good" | zstd -q -c >>"$WORK/multi.zst"
    check 0 "multi-frame zstd" "$DADRAS" check "$WORK/multi.zst"
    : >"$WORK/empty.zst"
    check 2 "empty file" "$DADRAS" check "$WORK/empty.zst"
    grep -q E_INPUT_EMPTY "$WORK/err" || { echo "FAIL no E_INPUT_EMPTY"; fail=1; }
    printf '' | zstd -q -c >"$WORK/emptyframe.zst"
    check 2 "empty frame" "$DADRAS" check "$WORK/emptyframe.zst"
fi

# Generated at test time: a line over 64 KiB, a 10,001-line document.
{
    sed -n 2,4p "$good"
    printf 'P\tBIG\tPH1\t0013542419\t1\t1403/07/01\t1403/07/02\n'
    awk 'BEGIN { for (i = 1; i <= 10001; i++) printf "L\t%d\tD\tC\t1\t100\t100\t70\t0\n", i }'
    printf 'P\tLONG\tPH1\t0013542419\t1\t1403/07/01\t1403/07/02\nL\t1\tD\t'
    head -c 70000 /dev/zero | tr '\0' x; printf '\n'
    printf 'T\t3\t10003\t%d\t%d\t0\n' $((300000 + 10001 * 100)) $((210000 + 10001 * 70))
} >"$WORK/big.tsv"
check 1 "10,001 lines and a 70 KB line" "$DADRAS" check --quarantine "$WORK/bigq" "$WORK/big.tsv"
grep -q "rejected 1 E_DOC_TOO_MANY_LINES" "$WORK/out" && grep -q "rejected 1 E_LINE_TOO_LONG" "$WORK/out" ||
    { echo "FAIL big: $(cat "$WORK/out")"; fail=1; }
[ "$(grep -vc '^#' "$WORK/bigq")" = 10003 ] || { echo "FAIL big quarantine"; fail=1; }

# A quarantine that is one of the batches would empty it before it is
# read: refused (64), the batch untouched.
cp "$SRC/tests/data/good/base.tsv" "$WORK/self.tsv"
check 64 "quarantine is the batch" "$DADRAS" check "$WORK/self.tsv" --quarantine "$WORK/self.tsv"
cmp -s "$SRC/tests/data/good/base.tsv" "$WORK/self.tsv" || { echo "FAIL the batch was changed"; fail=1; }

exit $fail
