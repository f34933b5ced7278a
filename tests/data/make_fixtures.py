#!/usr/bin/env python3
"""Writes the intake fixtures tests/data/bad/*.tsv and tests/data/good/*.tsv.

Each fixture is a small batch whose first line is a comment stating what
`dadras check` must report, read by tests/unit/test_batch_fixtures.c and
tests/cli/check_fixtures.sh:

    # expect exit=N [reason=E_NAME at=LINE:COL] [q=A-B,C-D | q=-]

reason/at: a diagnostic `FILE:LINE:COL: error: ... [E_NAME]` must be printed.
q: the fixture's lines (1-based, inclusive ranges) that the quarantine must
hold, in order, once `#` comment lines are removed ("-": nothing).

Expectations are derived here from batch-format.md by hand-written rules
(columns from field positions, trailers from the spec's counting rules), not
from the program's output. Run from the repo root after changing a case;
large fixtures (64 KiB lines, 10,001-line documents, zstd) are generated at
test time instead.
"""
import os
import re

HERE = os.path.dirname(os.path.abspath(__file__))
RIAL_MAX = 9 * 10**15
DIG = {**{chr(0x30 + i): i for i in range(10)}, **{chr(0x6F0 + i): i for i in range(10)},
       **{chr(0x660 + i): i for i in range(10)}}


def b(s):
    return s if isinstance(s, bytes) else s.encode()


def rial(field):
    try:
        t = field.decode()
    except UnicodeDecodeError:
        return None
    if not t or any(c not in DIG for c in t):
        return None
    v = int("".join(str(DIG[c]) for c in t))
    return v if v <= RIAL_MAX else None


def base():
    """The batch every case mutates: lines are lists of fields (str/bytes)."""
    return [
        ["H", "1", "B1403-07-KHZ-009", "KHZ", "1403/07", "1403/08/01", "EPRESC"],
        ["P", "RX-A", "PH100", "0013542419", "12345", "1403/07/01", "1403/07/02"],
        ["L", "1", "D", "1234567890", "2", "150000", "300000", "210000", "0", "", "",
         "12345067890123456789,12345067890123456790"],
        ["P", "RX-B", "PH100", "0013542419", "54321", "1403/07/10", "1403/07/11"],
        ["L", "1", "D", "6260001", "3", "100000", "300000", "240000", "60000"],
        ["L", "2", "D", "6260002", "1", "50000", "50000", "35000"],
        ["I", "AD-C", "HOS1", "0013542419", "1403/07/03", "1403/07/05", "B", "K35.8"],
        ["L", "1", "S", "901900", "1", "5000000", "5000000", "4500000", "", "12345", "G"],
        ["L", "2", "B", "BED1", "2", "3000000", "6000000", "5400000"],
    ]


def trailer(lines):
    lines = [l for l in lines if isinstance(l, list)]
    docs = sum(1 for l in lines if b(l[0]) in (b"P", b"I"))
    nl = sum(1 for l in lines if b(l[0]) == b"L")
    sums = [0, 0, 0]
    for l in lines:
        if b(l[0]) == b"L":
            for i in range(3):
                if len(l) > 6 + i:
                    v = rial(b(l[6 + i]))
                    sums[i] += v or 0
    return ["T", str(docs), str(nl)] + [str(s) for s in sums]


def col(fields, k):
    return 1 + sum(len(b(f)) + 1 for f in fields[:k])


def write(dirname, name, lines, expect, eol=b"\n", final_eol=True):
    body = []
    for l in lines:
        body.append(l if isinstance(l, bytes) else b"\t".join(b(f) for f in l))
    data = b"# expect " + expect.encode() + b"\n" + eol.join(body) + (eol if final_eol else b"")
    with open(os.path.join(HERE, dirname, name + ".tsv"), "wb") as f:
        f.write(data)


CASES = []


def case(name):
    def deco(fn):
        CASES.append((name, fn))
        return fn
    return deco


# File line numbers: 1 is the expect comment, so body index i is line i + 2.
def ln(i):
    return i + 2


def doc_case(name, idx, field, value, reason, q_lines=None, at_field=None):
    """Replaces body[idx][field] in the base batch; the document holding idx is rejected."""
    def fn():
        lines = base()
        if field is None:
            lines[idx] = value
        else:
            while len(lines[idx]) <= field:
                lines[idx].append("")
            lines[idx][field] = value
        lines.append(trailer(lines))
        f = at_field if at_field is not None else field
        c = col(lines[idx], f) if isinstance(lines[idx], list) else 1
        q = q_lines or doc_range(idx)
        return lines, f"exit=1 reason={reason} at={ln(idx)}:{c} q={q}"
    CASES.append((name, fn))


def doc_range(idx):
    # Documents of base(): RX-A body 1..2, RX-B 3..5, AD-C 6..8.
    for lo, hi in ((1, 2), (3, 5), (6, 8)):
        if lo <= idx <= hi:
            return f"{ln(lo)}-{ln(hi)}"
    raise ValueError(idx)


doc_case("d_date_invalid_day", 3, 5, "1403/07/31", "E_DATE_INVALID")
doc_case("d_esfand30_common_year", 3, 6, "1404/12/30", "E_DATE_INVALID")
doc_case("d_date_month13", 6, 4, "1403/13/01", "E_DATE_INVALID")
doc_case("d_date_gregorian", 3, 5, "2024/03/20", "E_DATE_RANGE")
doc_case("d_date_format", 3, 5, "1403/7/10", "E_DATE_FORMAT")
doc_case("d_date_two_digit_year", 3, 5, "03/07/10", "E_DATE_FORMAT")
doc_case("d_dispense_before_rx", 3, 6, "1403/07/09", "E_DATE_ORDER")
doc_case("d_discharge_before_admit", 6, 5, "1403/07/02", "E_DATE_ORDER")
doc_case("d_nid_check_digit", 3, 3, "0013542418", "E_NATIONAL_ID_CHECK")
doc_case("d_nid_all_equal", 3, 3, "1111111111", "E_NATIONAL_ID_INVALID")
doc_case("d_nid_short", 3, 3, "13542419", "E_NATIONAL_ID_LENGTH")
doc_case("d_qty_zero", 4, 4, "0", "E_QTY_RANGE")
doc_case("d_qty_negative", 4, 4, "-3", "E_QTY_RANGE")
doc_case("d_qty_too_big", 4, 4, "1000001", "E_QTY_RANGE")
doc_case("d_amount_non_digit", 4, 5, "10a000", "E_AMOUNT_NOT_NUMERIC")
doc_case("d_amount_decimal", 4, 5, "100000.50", "E_AMOUNT_NOT_NUMERIC")
doc_case("d_amount_separator", 4, 5, "100,000", "E_AMOUNT_NOT_NUMERIC")
doc_case("d_amount_persian_separator", 4, 5, "۱۰۰٬۰۰۰", "E_AMOUNT_NOT_NUMERIC")
doc_case("d_amount_negative", 4, 7, "-240000", "E_NUMBER_SIGN")
doc_case("d_amount_int64_overflow", 4, 7, "9223372036854775808", "E_AMOUNT_RANGE")
doc_case("d_amount_above_rial_max", 4, 7, "9000000000000001", "E_AMOUNT_RANGE")
doc_case("d_total_mismatch", 4, 6, "300001", "E_TOTAL_MISMATCH")
doc_case("d_whitespace_in_amount", 4, 5, " 100000", "E_FIELD_WHITESPACE")
doc_case("d_whitespace_in_id", 3, 1, "RX-B ", "E_FIELD_WHITESPACE")
doc_case("d_empty_center", 3, 2, "", "E_FIELD_EMPTY")
doc_case("d_id_too_long", 3, 1, "X" * 33, "E_ID_FORMAT")
doc_case("d_code_too_long", 4, 3, "C" * 21, "E_CODE_FORMAT")
doc_case("d_mc_too_long", 3, 4, "123456789", "E_MC_FORMAT")
doc_case("d_line_kind_in_p", 4, 2, "S", "E_LINE_KIND")
doc_case("d_kind_unknown", 7, 2, "X", "E_ENUM_VALUE")
doc_case("d_stay_unknown", 6, 6, "Z", "E_ENUM_VALUE")
doc_case("d_tariff_unknown", 7, 10, "Q", "E_ENUM_VALUE")
doc_case("d_line_no_order", 5, 1, "3", "E_LINE_NO_ORDER")
doc_case("d_line_no_not_first", 4, 1, "2", "E_LINE_NO_ORDER")
doc_case("d_uid_bad_char", 2, 11, "12345067890123456789,1234-5", "E_UID_FORMAT")
doc_case("d_uid_empty_element", 2, 11, "12345067890123456789,,12345067890123456790",
         "E_UID_FORMAT")
doc_case("d_utf8_stray_continuation", 4, 3, b"626\x80001", "E_UTF8_INVALID")
doc_case("d_utf8_overlong", 4, 3, b"62\xc0\xaf01", "E_UTF8_INVALID")
doc_case("d_utf8_surrogate", 3, 2, b"PH\xed\xa0\x80", "E_UTF8_INVALID")
doc_case("d_utf8_truncated_at_eol", 3, 6, b"1403/07/11\xd8", "E_UTF8_INVALID")
doc_case("d_control_char", 4, 3, b"626\x01001", "E_CONTROL_CHAR")
doc_case("d_stray_cr", 4, 3, b"626\r001", "E_CONTROL_CHAR")
doc_case("d_nul_byte", 4, 3, b"626\x00001", "E_CONTROL_CHAR")
doc_case("d_record_type_unknown", 5, 0, "X", "E_RECORD_TYPE")
doc_case("d_record_type_long", 5, 0, "LL", "E_RECORD_TYPE")
doc_case("d_record_type_p_cr", 5, 0, b"P\rX", "E_RECORD_TYPE")


@case("d_field_count_l_too_many")
def _():
    lines = base()
    lines[4] = lines[4] + ["", "", "", "extra"]
    lines.append(trailer(lines))
    return lines, f"exit=1 reason=E_FIELD_COUNT at={ln(4)}:{col(lines[4], 12)} q={doc_range(4)}"


@case("d_field_count_p_too_many")
def _():
    lines = base()
    lines[3] = lines[3] + ["extra"]
    lines.append(trailer(lines))
    return lines, f"exit=1 reason=E_FIELD_COUNT at={ln(3)}:{col(lines[3], 7)} q={doc_range(3)}"


@case("d_field_missing_l")
def _():
    lines = base()
    lines[5] = lines[5][:6]  # claimed_total and the rest omitted
    lines.append(trailer(lines))
    c = len(b"\t".join(b(f) for f in lines[5])) + 1
    return lines, f"exit=1 reason=E_FIELD_EMPTY at={ln(5)}:{c} q={doc_range(5)}"


@case("d_doc_no_lines")
def _():
    lines = base()
    del lines[4:6]  # RX-B keeps no L
    lines.append(trailer(lines))
    return lines, f"exit=1 reason=E_DOC_NO_LINES at={ln(3)}:1 q={ln(3)}-{ln(3)}"


@case("d_amount_overflow_product")
def _():
    lines = base()
    lines[4][4] = "1000000"
    lines[4][5] = "9000000000000000"
    lines[4][6] = "300000"  # any value: the product itself overflows int64
    lines.append(trailer(lines))
    return lines, f"exit=1 reason=E_AMOUNT_OVERFLOW at={ln(4)}:{col(lines[4], 6)} q={doc_range(4)}"


@case("d_two_documents_rejected")
def _():
    lines = base()
    lines[1][3] = "0013542418"
    lines[7][4] = "0"
    lines.append(trailer(lines))
    return lines, (f"exit=1 reason=E_QTY_RANGE at={ln(7)}:{col(lines[7], 4)} "
                   f"q={doc_range(1)},{doc_range(7)}")


# ---- accepted variants (exit 0) ----

@case("ok_persian_digits")
def _():
    lines = base()
    tr = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")
    lines[4][5] = "۱۰۰۰۰۰"
    lines[4][6] = "۳۰۰۰۰۰"
    lines[3][5] = lines[3][5].translate(tr)
    lines[3][3] = lines[3][3].translate(tr)
    lines.append(trailer(lines))
    return lines, "exit=0 q=-"


@case("ok_arabic_indic_digits")
def _():
    lines = base()
    tr = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
    lines[7][5] = lines[7][5].translate(tr)
    lines[7][6] = lines[7][6].translate(tr)
    lines[6][4] = lines[6][4].translate(tr)
    lines.append(trailer(lines))
    return lines, "exit=0 q=-"


@case("ok_leading_zeros")
def _():
    lines = base()
    lines[5][5] = "00050000"
    lines.append(trailer(lines))
    return lines, "exit=0 q=-"


@case("ok_yeh_kaf_in_keys")
def _():
    lines = base()
    lines[3][2] = "داروخانه كريمي"  # Arabic kaf and yeh
    lines.append(trailer(lines))
    return lines, "exit=0 q=-"


@case("ok_esfand30_leap_year")
def _():
    lines = base()
    lines[3][5] = "1403/12/30"
    lines[3][6] = "1404-01-01"
    lines.append(trailer(lines))
    return lines, "exit=0 q=-"


@case("ok_blank_and_comment_lines")
def _():
    lines = base()
    lines.insert(3, b"")
    lines.insert(5, b"# between lines of a document")
    lines.append(trailer(lines))
    return lines, "exit=0 q=-"


# ---- batch-level (exit 2) ----

@case("b_no_header")
def _():
    lines = base()[1:]
    lines.append(trailer(lines))
    return lines, "exit=2 reason=E_BATCH_NO_HEADER at=2:1 q=-"


@case("b_second_header")
def _():
    lines = base()
    lines.insert(3, list(lines[0]))
    lines.append(trailer(lines))
    return lines, f"exit=2 reason=E_BATCH_SECOND_HEADER at={ln(3)}:1 q=-"


@case("b_no_trailer")
def _():
    lines = base()
    return lines, f"exit=2 reason=E_TRAILER_MISSING at={ln(len(lines) - 1)}:0 q=-"


@case("b_trailer_doc_count")
def _():
    lines = base()
    t = trailer(lines)
    t[1] = str(int(t[1]) + 1)
    lines.append(t)
    return lines, f"exit=2 reason=E_TRAILER_COUNT at={ln(len(lines) - 1)}:{col(t, 1)} q=-"


@case("b_trailer_line_count")
def _():
    lines = base()
    t = trailer(lines)
    t[2] = str(int(t[2]) - 1)
    lines.append(t)
    return lines, f"exit=2 reason=E_TRAILER_COUNT at={ln(len(lines) - 1)}:{col(t, 2)} q=-"


for _i, _n in ((3, "total"), (4, "insurer"), (5, "daroyar")):
    def _mk(i=_i):
        lines = base()
        t = trailer(lines)
        t[i] = str(int(t[i]) + 1)
        lines.append(t)
        return lines, f"exit=2 reason=E_TRAILER_SUM at={ln(len(lines) - 1)}:{col(t, i)} q=-"
    CASES.append((f"b_trailer_sum_{_n}", _mk))


@case("b_trailer_counts_rejected_too")
def _():
    # A trailer that left the rejected document out: unverified.
    lines = base()
    lines[3][3] = "0013542418"
    t = trailer(lines[:3] + lines[6:])
    lines.append(t)
    return lines, f"exit=2 reason=E_TRAILER_COUNT at={ln(len(lines) - 1)}:{col(t, 1)} q={doc_range(3)}"


@case("b_trailer_bad_field")
def _():
    lines = base()
    t = trailer(lines)
    t[1] = "three"
    lines.append(t)
    return lines, f"exit=2 reason=E_NUMBER_NOT_NUMERIC at={ln(len(lines) - 1)}:{col(t, 1)} q=-"


@case("b_l_before_any_document")
def _():
    lines = base()
    lines.insert(1, ["L", "1", "D", "999", "1", "10", "10", "5"])
    lines.append(trailer(lines))
    return lines, f"exit=2 reason=E_LINE_BEFORE_DOC at={ln(1)}:1 q=-"


@case("b_record_after_trailer")
def _():
    lines = base()
    lines.insert(6, trailer(lines[:6]))
    return lines, f"exit=2 reason=E_AFTER_TRAILER at={ln(7)}:1 q=-"


@case("b_two_trailers")
def _():
    lines = base()
    lines.append(trailer(lines))
    lines.append(trailer(lines[:-1]))
    return lines, f"exit=2 reason=E_AFTER_TRAILER at={ln(len(lines) - 1)}:1 q=-"


@case("b_header_version")
def _():
    lines = base()
    lines[0][1] = "2"
    lines.append(trailer(lines))
    return lines, f"exit=2 reason=E_BATCH_VERSION at={ln(0)}:{col(lines[0], 1)} q=-"


@case("b_header_period")
def _():
    lines = base()
    lines[0][4] = "1403/7"
    lines.append(trailer(lines))
    return lines, f"exit=2 reason=E_MONTH_FORMAT at={ln(0)}:{col(lines[0], 4)} q=-"


@case("b_unknown_record_between_documents")
def _():
    lines = base()
    lines.insert(1, ["Z", "what"])
    lines.append(trailer(lines))
    return lines, f"exit=2 reason=E_RECORD_TYPE at={ln(1)}:1 q=-"


@case("b_only_comments")
def _():
    return [b"# nothing but a comment"], "exit=2 reason=E_BATCH_NO_HEADER at=0:0 q=-"


def main():
    for name, fn in CASES:
        lines, expect = fn()
        d = "good" if name.startswith("ok_") else "bad"
        write(d, name, lines, expect)
    # Line-end variants of the base batch.
    lines = base()
    lines.append(trailer(lines))
    write("good", "ok_crlf", lines, "exit=0 q=-", eol=b"\r\n")
    write("good", "ok_no_final_newline", lines, "exit=0 q=-", final_eol=False)
    write("good", "base", lines, "exit=0 q=-")
    # A UTF-8 BOM is tolerated before the first record only (the expect
    # comment comes first here, so the BOM sits before line 1's '#').
    with open(os.path.join(HERE, "good", "base.tsv"), "rb") as f:
        data = f.read()
    with open(os.path.join(HERE, "good", "ok_bom.tsv"), "wb") as f:
        f.write(b"\xef\xbb\xbf" + data)
    bad = data.replace(b"\nP\tRX-B", b"\n\xef\xbb\xbfP\tRX-B")
    with open(os.path.join(HERE, "bad", "b_bom_not_at_start.tsv"), "wb") as f:
        f.write(bad.replace(b"exit=0 q=-", b"exit=2 reason=E_RECORD_TYPE at=5:1 q=3-7"))
    print(len(CASES) + 5, "fixtures")


main()
