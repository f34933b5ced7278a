#!/usr/bin/env bash
# The generator's ground truth against an independent reading of
# adjudication.md (gen_oracle.py, written from the spec text, not from
# core/gen.c): with a high anomaly rate, every reason must come out with
# precision and recall 1.000, and every line of a clean document must be
# approved as claimed (status A).
set -euo pipefail
: "${DADRAS:?}" "${SRC:?}" "${WORK:?}"
command -v python3 >/dev/null || { echo "skip: no python3"; exit 77; }
rm -rf "$WORK"; mkdir -p "$WORK"
d=$WORK/p
"$DADRAS" gen --out "$d" --seed 5 --prescriptions 2500 --inpatient 700 --centers 120 \
  --insured 6000 --physicians 300 --drugs 1500 --daroyar 80 --services 800 \
  --supplies 200 --pairs 50 --anomaly-rate 0.25 --malformed-rate 0.01 --quiet
python3 "$SRC/tests/cli/gen_oracle.py" "$d/batch.tsv" "$d/tables" "$WORK/decisions.tsv"
"$DADRAS" eval "$WORK/decisions.tsv" "$d/truth.tsv" --strict
# Clean lines (no reason) are approved exactly as claimed.
bad=$(awk -F'\t' '$1 == "L" && $13 == "" && $4 != "A"' "$WORK/decisions.tsv" | wc -l)
[ "$bad" -eq 0 ] || { echo "$bad clean lines not approved as claimed"; exit 1; }
