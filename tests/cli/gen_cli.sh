#!/usr/bin/env bash
# dadras gen from the command line: same seed, same bytes; --zstd holds the
# same batch; --scale takes decimals and ratios; bad options are usage
# errors (64) and an unwritable folder is an I/O error (74).
set -euo pipefail
: "${DADRAS:?}" "${WORK:?}"
rm -rf "$WORK"; mkdir -p "$WORK"
small=(--prescriptions 800 --inpatient 200 --centers 40 --insured 2000 --physicians 60
       --drugs 200 --daroyar 10 --services 200 --supplies 50 --pairs 20 --quiet)
"$DADRAS" gen --out "$WORK/a" --seed 3 "${small[@]}"
"$DADRAS" gen --out "$WORK/b" --seed 3 "${small[@]}" --zstd
"$DADRAS" gen --out "$WORK/c" --seed 4 "${small[@]}"
cmp "$WORK/a/batch.tsv" <(zstd -dc "$WORK/b/batch.tsv.zst")
cmp "$WORK/a/truth.tsv" "$WORK/b/truth.tsv"
for t in "$WORK"/a/tables/*.tsv; do cmp "$t" "$WORK/b/tables/${t##*/}"; done
! cmp -s "$WORK/a/batch.tsv" "$WORK/c/batch.tsv"

# --scale 1/2 and 0.5 are the same and halve the documents.
"$DADRAS" gen --out "$WORK/h1" --seed 3 "${small[@]}" --scale 1/2
"$DADRAS" gen --out "$WORK/h2" --seed 3 "${small[@]}" --scale 0.5
cmp "$WORK/h1/batch.tsv" "$WORK/h2/batch.tsv"
docs=$(awk -F'\t' '$1 == "T" { print $2 }' "$WORK/h1/batch.tsv")
[ "$docs" -eq 500 ] || { echo "scale 1/2 gave $docs documents"; exit 1; }

# The H record names the batch and period; the T record counts everything.
head -1 "$WORK/a/batch.tsv" | grep -q "^H	1	KHZ-140310-3	KHZ	1403/10	"
awk -F'\t' '$1 == "P" || $1 == "I" { d++ } $1 == "L" { l++; t += $7 }
  $1 == "T" { if ($2 != d || $3 != l || $4 != t) { print "T mismatch"; exit 1 } }' "$WORK/a/batch.tsv"

rc_of() { set +e; "$@" >/dev/null 2>&1; local rc=$?; set -e; echo $rc; }
[ "$(rc_of "$DADRAS" gen)" -eq 64 ]
[ "$(rc_of "$DADRAS" gen --out "$WORK/x" --scale abc)" -eq 64 ]
[ "$(rc_of "$DADRAS" gen --out "$WORK/x" --bogus 1)" -eq 64 ]
[ "$(rc_of "$DADRAS" gen --out "$WORK/x" --period 1399/01)" -eq 64 ]
[ "$(rc_of "$DADRAS" gen --out /proc/nonexistent/x "${small[@]}")" -eq 74 ]
