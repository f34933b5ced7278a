#!/usr/bin/env python3
"""A second, independent reading of adjudication.md, used only to check that
dadras gen's ground truth is exactly what the spec computes (gen_oracle.sh).

It is written from the spec text, not from core/gen.c, so that a mistake in
the generator's pricing or in an anomaly's design shows up as a precision or
recall below 1.000 in `dadras eval`. Slow and simple on purpose: small
batches only. Reads a plain batch and the tables folder; writes a decisions
file in the format of adjudication.md "Decisions file" (no T row needed by
eval). Intake checks are limited to what gen's malformed documents use
(national code check digit, claimed_total = qty * unit_price).

usage: gen_oracle.py BATCH TABLES_DIR OUT_DECISIONS
"""
import sys
from collections import defaultdict

LEAP = {1, 5, 9, 13, 17, 22, 26, 30}


def is_leap(y):
    return y % 33 in LEAP


YEAR_START = {}
acc = 0
for _y in range(1300, 1501):
    YEAR_START[_y] = acc
    acc += 366 if is_leap(_y) else 365


def days(s):
    y, m, d = int(s[0:4]), int(s[5:7]), int(s[8:10])
    doy = (m - 1) * 31 + d if m <= 7 else 186 + (m - 7) * 30 + d
    return YEAR_START[y] + doy


def rnd(x, bp):
    assert x >= 0
    return (x * bp + 5000) // 10000


def nid_ok(s):
    if len(s) != 10 or not s.isdigit() or len(set(s)) == 1:
        return False
    sm = sum(int(s[i]) * (10 - i) for i in range(9))
    r = sm % 11
    return int(s[9]) == (r if r < 2 else 11 - r)


def load(path):
    with open(path, encoding="utf-8") as f:
        head = f.readline().rstrip("\n").split("\t")
        rows = []
        for line in f:
            v = line.rstrip("\n").split("\t")
            v += [""] * (len(head) - len(v))
            rows.append(dict(zip(head, v)))
    return rows


def ranged(rows, keyf):
    t = defaultdict(list)
    for r in rows:
        t[keyf(r)].append(r)
    return t


def in_range(r, dos, f="from", t="to"):
    return r[f] != "" and r[f] <= dos and (r[t] == "" or dos <= r[t])


def find(table, key, dos):
    for r in table.get(key, ()):
        if in_range(r, dos):
            return r
    return None


def main():
    batch, tdir, out = sys.argv[1:4]
    T = {n: load(f"{tdir}/{n}.tsv") for n in
         ["centers", "physicians", "insured", "drugs", "services", "kfactors",
          "supplies", "beds", "pairs", "params"]}
    centers = {r["center"]: r for r in T["centers"]}
    phys = {r["mc"]: r for r in T["physicians"]}
    insured = ranged(T["insured"], lambda r: r["nid"])
    drugs = ranged(T["drugs"], lambda r: r["irc"])
    services = ranged(T["services"], lambda r: r["code"])
    kf = ranged(T["kfactors"], lambda r: (r["sector"], r["flag"]))
    supplies = ranged(T["supplies"], lambda r: r["code"])
    beds = ranged(T["beds"], lambda r: r["grade"])
    pairs = T["pairs"]
    params = ranged(T["params"], lambda r: r["name"])
    defaults = {"copay_outpatient_bp": "3000", "copay_inpatient_bp": "1000",
                "copay_temporary_bp": "3000", "full_cover_age": "65",
                "faculty_uplift_bp": "17000", "daroyar_start": "1401/04/23",
                "rx_valid_days": "30"}

    def param(name, dos):
        r = find(params, name, dos)
        return r["value"] if r else defaults.get(name)

    def basis(sector, dos):
        v = param("insurer_basis_" + sector, dos)
        return v if v else sector

    seen_docs = set()
    consumed = set()
    outf = open(out, "w", encoding="utf-8")

    def adjudicate(h, lines):
        kind = h[0]
        doc_id, center_id, nid = h[1], h[2], h[3]
        if kind == "P":
            rx, disp = h[5], h[6]
            dos = disp
        else:
            admit, disch, stay = h[4], h[5], h[6]
            dos = admit
        # intake (only what gen breaks)
        if not nid_ok(nid):
            return
        for ln in lines:
            if int(ln[4]) * int(ln[5]) != int(ln[6]):
                return
        doc_r = []
        person = None
        for r in insured.get(nid, ()):
            if in_range(r, dos, "covered_from", "covered_to"):
                person = r
        if person is None:
            doc_r.append("K01")
        c_row = centers.get(center_id)
        if c_row is None or not in_range(c_row, dos, "contract_from", "contract_to"):
            doc_r.append("K16")
        if kind == "P":
            p = phys.get(h[4])
            if p is None or not in_range(p, rx, "licensed_from", "licensed_to"):
                doc_r.append("K17")
            if days(disp) - days(rx) > int(param("rx_valid_days", dos)):
                doc_r.append("K18")
        if doc_id in seen_docs:
            doc_r.append("K09")
        seen_docs.add(doc_id)
        rs = ",".join(sorted(doc_r))
        if doc_r:
            outf.write("\t".join(["D", doc_id, "R", "0", "0", "0", "0", "0", rs]) + "\n")
            for ln in lines:  # approved 0: the deduction is the whole claim
                ded = int(ln[7]) + int(ln[8] or 0)
                outf.write("\t".join(["L", doc_id, ln[1], "R"] + ["0"] * 7 + [str(ded), rs]) + "\n")
            return
        sector = c_row["sector"]
        age = None
        b = person["birth_date"]
        age = int(dos[0:4]) - int(b[0:4]) - (1 if (dos[5:7], dos[8:10]) < (b[5:7], b[8:10]) else 0)
        if kind == "P":
            c = int(param("copay_outpatient_bp", dos))
        elif stay == "B":
            c = int(param("copay_inpatient_bp", dos))
        else:
            c = int(param("copay_temporary_bp", dos))
        if sector == "SSO":
            c = 0
        if sector in ("GOV", "UNI") and (age >= int(param("full_cover_age", dos)) or c_row["deprived"] == "1"):
            c = 0
        s_codes = [ln[3] for ln in lines if ln[2] == "S"]
        out_rows = []
        for idx, ln in enumerate(lines):
            lk, code, qty, up = ln[2], ln[3], int(ln[4]), int(ln[5])
            cl_ins, cl_dar = int(ln[7]), int(ln[8] or 0)
            reasons = set()
            rejected = False
            qa = qty
            gross = patient = insurer = daroyar = 0
            if lk == "D":
                d = find(drugs, code, dos)
                if d is None:
                    reasons.add("K02")
                    rejected = True
                else:
                    mx = d["max_qty"]
                    if mx != "" and qty > int(mx):
                        qa = int(mx)
                        reasons.add("K10")
                    uids = ln[11].split(",") if len(ln) > 11 and ln[11] else []
                    good = 0
                    inv = reused = False
                    for u in uids:
                        if not (len(u) == 20 and u.isdigit() and u[5] == "0"):
                            inv = True
                        elif u in consumed:
                            reused = True
                        else:
                            good += 1
                            consumed.add(u)
                    pu = int(d["pack_units"])
                    needed = -(-qa // pu)
                    if good < needed:
                        qa = min(qa, good * pu)
                        if reused:
                            reasons.add("K08")
                        if inv or len(uids) < needed:
                            reasons.add("K07")
                    pn, po = int(d["price_new"]), int(d["price_old"])
                    if up > pn:
                        reasons.add("K03")
                    listed = d["daroyar"] == "1" and dos >= param("daroyar_start", dos) and pn > po
                    base = po if listed else pn
                    gross = qa * pn
                    patient = rnd(qa * base, c)
                    insurer = qa * base - patient
                    daroyar = qa * (pn - po) if listed else 0
            elif lk == "S":
                s = find(services, code, dos)
                if s is None:
                    reasons.add("K02")
                    rejected = True
                else:
                    if (s["sex"] not in ("-", person["sex"])) or age < int(s["age_min"]) or age > int(s["age_max"]):
                        reasons.add("K13")
                        rejected = True
                    for pr in pairs:
                        if pr["code2"] == code and in_range(pr, dos) and any(
                                j != idx and lines[j][2] == "S" and lines[j][3] == pr["code1"] for j in range(len(lines))):
                            reasons.add("K12")
                            rejected = True
                    bs = basis(sector, dos)
                    kc = find(kf, (sector, s["flag"]), dos)
                    kb = find(kf, (bs, s["flag"]), dos)
                    if kc is None or kb is None:
                        reasons.add("K02")
                        rejected = True
                if not rejected:
                    mx = s["max_qty"]
                    if mx != "" and qty > int(mx):
                        qa = int(mx)
                        reasons.add("K10")
                    rp, rt = int(s["rvu_prof"]), int(s["rvu_tech"])
                    price_c = (rp * int(kc["k_prof"]) + rt * int(kc["k_tech"]) + 50) // 100
                    price_b = (rp * int(kb["k_prof"]) + rt * int(kb["k_tech"]) + 50) // 100
                    prof_b = (rp * int(kb["k_prof"]) + 50) // 100
                    uplift = 0
                    eligible = False
                    if len(ln) > 10 and ln[10] == "F":
                        p = phys.get(ln[9])
                        eligible = (p is not None and p["fulltime_from"] != "" and
                                    in_range(p, dos, "fulltime_from", "fulltime_to") and
                                    p["private_practice"] == "0" and sector in ("UNI", "GOV"))
                        if eligible:
                            uplift = qa * (rnd(prof_b, int(param("faculty_uplift_bp", dos))) - prof_b)
                        else:
                            reasons.add("K05")
                    bound = price_c + (uplift // qa if eligible and qa else 0)
                    if up > bound:
                        reasons.add("K03")
                    gross = qa * price_b + uplift
                    patient = rnd(qa * price_b, c)
                    insurer = gross - patient
            elif lk in ("K", "B"):
                if lk == "K":
                    k = find(supplies, code, dos)
                    price = int(k["price"]) if k else None
                    mx = k["max_qty"] if k else ""
                    lim = int(mx) if mx != "" else None
                else:
                    bd = find(beds, c_row["grade"], dos)
                    price = int(bd["price_per_day"]) if bd else None
                    lim = max(1, days(disch) - days(admit))
                if price is None:
                    reasons.add("K02")
                    rejected = True
                else:
                    if lim is not None and qty > lim:
                        qa = lim
                        reasons.add("K10")
                    if up > price:
                        reasons.add("K03")
                    gross = qa * price
                    patient = rnd(gross, c)
                    insurer = gross - patient
            if rejected:
                qa = gross = patient = insurer = daroyar = 0
                reasons -= {"K03", "K05", "K10"}
            ai = min(cl_ins, insurer)
            ad = min(cl_dar, daroyar)
            if cl_dar > daroyar:
                reasons.add("K06")
            if cl_ins > insurer and not reasons:
                reasons.add("K03")
            ded = cl_ins + cl_dar - ai - ad
            st = "A" if not reasons and ded == 0 else ("R" if ai + ad == 0 and reasons else "P")
            out_rows.append(["L", doc_id, ln[1], st, str(qa), str(gross), str(patient), str(insurer),
                             str(daroyar), str(ai), str(ad), str(ded), ",".join(sorted(reasons))])
        sts = {r[3] for r in out_rows}
        dst = "A" if sts == {"A"} else "R" if sts == {"R"} else "P"
        outf.write("\t".join(["D", doc_id, dst, "0", "0", "0", "0", "0", ""]) + "\n")
        for r in out_rows:
            outf.write("\t".join(r) + "\n")

    head, lines = None, []
    with open(batch, encoding="utf-8") as f:
        for raw in f:
            v = raw.rstrip("\n").split("\t")
            if v[0] in ("P", "I", "T"):
                if head:
                    adjudicate(head, lines)
                head, lines = (v if v[0] != "T" else None), []
            elif v[0] == "L":
                lines.append(v)
    outf.close()


if __name__ == "__main__":
    main()
