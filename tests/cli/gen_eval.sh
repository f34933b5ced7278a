#!/usr/bin/env bash
# dadras eval: a decisions file that says exactly what the truth says scores
# 1.000 everywhere (plain or zstd); a missed reason lowers recall and an
# extra one precision (exit 1 with --strict, 0 without); files that do not
# line up exit 2; usage errors exit 64.
set -euo pipefail
: "${DADRAS:?}" "${WORK:?}"
rm -rf "$WORK"; mkdir -p "$WORK"
d=$WORK/p
"$DADRAS" gen --out "$d" --seed 9 --prescriptions 1500 --inpatient 300 --centers 60 \
  --insured 3000 --physicians 100 --drugs 400 --daroyar 20 --services 300 \
  --supplies 100 --pairs 30 --anomaly-rate 0.15 --malformed-rate 0.01 --quiet

# What a perfect engine writes: D rows with the document's reasons (every
# L row repeats them), L rows with the line's reasons; intake rejects absent.
awk 'BEGIN { FS = OFS = "\t" }
FNR == NR { if ($1 == "doc_id") next
  if ($2 == 0) { nd[$1]++; docr[$1 SUBSEP nd[$1]] = $3 } else linr[$1 SUBSEP nd[$1] SUBSEP $2] = $3
  next }
$1 == "P" || $1 == "I" { id = $2; seen[id]++; r = docr[id SUBSEP seen[id]]; skip = (r == "INTAKE")
  if (!skip) print "D", id, "A", 0, 0, 0, 0, 0, r; next }
$1 == "L" { if (skip) next; lr = (r != "") ? r : linr[id SUBSEP seen[id] SUBSEP $2]
  print "L", id, $2, "A", 0, 0, 0, 0, 0, 0, 0, 0, lr }
$1 == "T" { print "T", 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 }' "$d/truth.tsv" "$d/batch.tsv" >"$WORK/perfect.tsv"

"$DADRAS" eval "$WORK/perfect.tsv" "$d/truth.tsv" --strict >"$WORK/out.txt"
grep -q "^all .* 1.000   1.000$" "$WORK/out.txt" || { cat "$WORK/out.txt"; exit 1; }
grep -q "^INTAKE " "$WORK/out.txt"
zstd -q -f "$WORK/perfect.tsv" -o "$WORK/perfect.tsv.zst"
"$DADRAS" eval "$WORK/perfect.tsv.zst" "$d/truth.tsv" --strict >/dev/null

# One K10 missed: recall below 1, precision still 1.
awk 'BEGIN { FS = OFS = "\t" } $1 == "L" && $13 == "K10" && !done { $13 = ""; done = 1 } { print }' \
  "$WORK/perfect.tsv" >"$WORK/miss.tsv"
set +e
"$DADRAS" eval "$WORK/miss.tsv" "$d/truth.tsv" --strict >"$WORK/out.txt"; rc=$?
set -e
[ "$rc" -eq 1 ] || { echo "expected exit 1, got $rc"; exit 1; }
grep -Eq "^K10 .* 1\.000   0\.[0-9]{3}$" "$WORK/out.txt" || { cat "$WORK/out.txt"; exit 1; }
"$DADRAS" eval "$WORK/miss.tsv" "$d/truth.tsv" >/dev/null   # not strict: 0

# One reason too many on a clean line: precision below 1.
awk 'BEGIN { FS = OFS = "\t" } $1 == "L" && $13 == "" && !done { $13 = "K03"; done = 1 } { print }' \
  "$WORK/perfect.tsv" >"$WORK/extra.tsv"
set +e
"$DADRAS" eval "$WORK/extra.tsv" "$d/truth.tsv" --strict >"$WORK/out.txt"; rc=$?
set -e
[ "$rc" -eq 1 ] || { echo "expected exit 1, got $rc"; exit 1; }
grep -Eq "^K03 .* 0\.[0-9]{3}   1\.000$" "$WORK/out.txt" || { cat "$WORK/out.txt"; exit 1; }

# A document the truth does not have: the files do not line up.
printf 'D\tNOPE\tA\t0\t0\t0\t0\t0\t\n' | cat "$WORK/perfect.tsv" - >"$WORK/extra_doc.tsv"
set +e
"$DADRAS" eval "$WORK/extra_doc.tsv" "$d/truth.tsv" >/dev/null 2>&1; rc=$?
"$DADRAS" eval "$WORK/perfect.tsv" >/dev/null 2>&1; rc_usage=$?
"$DADRAS" eval "$WORK/nonexistent" "$d/truth.tsv" >/dev/null 2>&1; rc_io=$?
set -e
[ "$rc" -eq 2 ] && [ "$rc_usage" -eq 64 ] && [ "$rc_io" -eq 74 ] || {
  echo "exit codes: misaligned $rc (want 2), usage $rc_usage (64), io $rc_io (74)"; exit 1; }

# A decisions file whose zstd frame is cut short, or a folder, is never
# scored as if it were whole (adjudication.md's decisions file has D and L
# rows only, so a plain file cut at a row boundary cannot be told apart).
head -c $(( $(stat -c %s "$WORK/perfect.tsv.zst") / 2 )) "$WORK/perfect.tsv.zst" >"$WORK/cut.tsv.zst"
set +e
"$DADRAS" eval "$WORK/cut.tsv.zst" "$d/truth.tsv" >/dev/null 2>&1; rc_cut=$?
"$DADRAS" eval "$WORK" "$d/truth.tsv" >/dev/null 2>&1; rc_dir=$?
set -e
[ "$rc_cut" -eq 2 ] && [ "$rc_dir" -eq 74 ] || {
  echo "exit codes: cut zstd $rc_cut (want 2), folder $rc_dir (74)"; exit 1; }
