#!/usr/bin/env bash
# dadras rules test / rules diff / explain on the shipped SSO set.
set -u
fail() { echo "FAIL: $*"; exit 1; }
rm -rf "$WORK"; mkdir -p "$WORK"

# 1. The shipped cases pass.
out=$("$DADRAS" rules test "$SRC/rules/sso") || fail "rules test exit $?: $out"
echo "$out" | tail -1 | grep -qx '10 passed, 0 failed' || fail "closing line: $out"

# 2. A wrong expectation fails with a diff and a non-zero exit.
cp -r "$SRC/rules/sso" "$WORK/sso"
sed -i 's/^RX1\t1\tA\t30\t9000000\t900000/RX1\t1\tA\t30\t9000000\t900001/' \
  "$WORK/sso/tests/01-daroyar-worked-example.case"
out=$("$DADRAS" rules test "$WORK/sso"); rc=$?
[ $rc -eq 1 ] || fail "failing case must exit 1, got $rc"
echo "$out" | grep -qx 'FAIL 01-daroyar-worked-example.case: doc RX1 line 1' || fail "no failure header: $out"
echo "$out" | grep -qx '  - patient 900001' || fail "no expected side: $out"
echo "$out" | grep -qx '  + patient 900000' || fail "no actual side: $out"
echo "$out" | tail -1 | grep -qx '9 passed, 1 failed' || fail "closing line: $out"

# 2b. A case whose batch does not verify (its trailer's line count is
#     wrong) proves nothing: it fails, whatever its decisions.
cp -r "$SRC/rules/sso" "$WORK/sso_t"
sed -i 's/^T\t1\t1\t9000000\t2100000\t6000000$/T\t1\t9\t9000000\t2100000\t6000000/' \
  "$WORK/sso_t/tests/01-daroyar-worked-example.case"
grep -q $'^T\t1\t9\t' "$WORK/sso_t/tests/01-daroyar-worked-example.case" || fail "fixture edit"
out=$("$DADRAS" rules test "$WORK/sso_t" 2>/dev/null); rc=$?
[ $rc -eq 1 ] || fail "an unverified case must exit 1, got $rc: $out"
echo "$out" | grep -qx 'FAIL 01-daroyar-worked-example.case: its batch is not verified (see the diagnostics above)' ||
  fail "no unverified failure: $out"
echo "$out" | tail -1 | grep -qx '9 passed, 1 failed' || fail "closing line: $out"

# 3. diff: the outpatient copay 3000 -> 3500 (a default in a copy, no params row)
#    lowers the insurer share of the two P lines that pay copay below their claim.
cp -r "$SRC/rules/sso" "$WORK/new"
sed -i 's/^param copay_outpatient_bp : bp = 3000/param copay_outpatient_bp : bp = 3500/' \
  "$WORK/new/10-declarations.rules"
printf 'name\tvalue\tfrom\tto\n' > "$WORK/new/tables/params.tsv"
sed '/^== expected/,$d' "$SRC/rules/sso/tests/03-over-65.case" > "$WORK/b.txt"
out=$("$DADRAS" rules diff "$SRC/rules/sso" "$WORK/new" "$WORK/b.txt") || fail "diff exit $?"
echo "$out" | head -1 | grep -qx "$WORK/b.txt: 3 lines, 2 changed; approved 1,200,000 -> 1,150,000 rials (-50,000)" \
  || fail "diff summary: $out"
echo "$out" | grep -q '^  K03 *2 lines (+2 gained, -0 lost)  approved -50,000 rials  e.g. E2:1 E3:1$' || fail "diff reason: $out"
echo "$out" | grep -q '^  PH-GOV-1 *1 lines  approved -25,000 rials  e.g. E2:1$' || fail "diff center: $out"
echo "$out" | grep -q '^  PH-PRV-1 *1 lines  approved -25,000 rials  e.g. E3:1$' || fail "diff center: $out"

# 4. explain: rules fired, lookups with rows, amounts, reasons.
sed '/^== expected/,$d' "$SRC/rules/sso/tests/05-quantity-and-authenticity.case" > "$WORK/q.txt"
out=$("$DADRAS" explain "$WORK/q.txt" --doc Q1 --rules "$SRC/rules/sso") || fail "explain exit $?"
for want in '  rule drug (30-lines.rules:7)' \
            '    lookup drugs[D-DAROYAR] on 1403/05/02 -> drugs.tsv line 2' \
            '    packs: 6 listed, 4 good, 1 reused, 1 invalid' \
            '    reason K08 (pack identifier already used) by rule drug at 30-lines.rules:15' \
            '    set patient = 1200000 rial'; do
  echo "$out" | grep -qxF -- "$want" || fail "explain lacks '$want'"
done
"$DADRAS" explain "$WORK/q.txt" --doc NOPE --rules "$SRC/rules/sso" >/dev/null 2>&1
[ $? -eq 1 ] || fail "unknown doc must exit 1"
"$DADRAS" explain "$WORK/q.txt" >/dev/null 2>&1
[ $? -eq 64 ] || fail "usage must exit 64"
echo ok
