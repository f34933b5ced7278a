/*
 * batch_parse_block and batch_merge on their own: every record type lands
 * in the doc.h structs with the right values (keys canonical, digits of any
 * script, dates as day numbers, uids packed), line numbers become absolute
 * after the merge, and parsing blocks out of order (as parallel workers do)
 * then merging them in order gives the same documents as any block size.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/base/ids.h"
#include "io/batch.h"

static const char good[] =
    "H\t1\tB-7\tKHZ\t1403/07\t1403/08/01\tEPRESC\r\n"
    "# comment\n"
    "P\tRX-\xD9\x8A\x31\tPH\xD9\x83\t\xDB\xB0\xDB\xB0\xDB\xB1\xDB\xB3\xDB\xB5\xDB\xB4\xDB\xB2"
    "\xDB\xB4\xDB\xB1\xDB\xB9\t12345\t1403/07/01\t1403-07-02\n"
    "L\t1\tD\t62600\xD9\x8A\t2\t150000\t300000\t210000\t90000\t\t\t"
    "12345067890123456789,12345167890123456789,abc\n"
    "\n"
    "I\tAD1\tHOS1\t0013542419\t1403/07/03\t1403/07/05\tM\tK35.8\n"
    "L\t1\tS\t901900\t1\t5000000\t5000000\t4500000\t\t12345\tF\n"
    "L\t2\tB\tBED1\t2\t3000000\t6000000\t5400000\n"
    "T\t2\t3\t11300000\t10110000\t90000\n";

struct parsed {
    struct doc docs[16];
    struct doc_line lines[16];
    uint64_t uids[16];
    size_t ndocs, nlines, nuids;
    struct batch_summary sum;
};

/* Reads `text` with the given sizes; parses every block first (keeping the
 * results), then merges them in order; gathers the accepted documents. */
static void parse_all(const char *text, size_t len, size_t read_bytes, size_t block_bytes,
                      struct parsed *out)
{
    memset(out, 0, sizeof *out);
    struct io_reader_options o = {.read_bytes = read_bytes, .block_bytes = block_bytes,
                                  .block_count = 16};
    struct io_reader *r;
    struct adj_diag dg;
    cr_assert_eq(io_reader_open_memory(&r, text, len, "t", &o, &dg), ADJ_OK);
    struct io_block *blocks[15];
    struct doc_chunk chunks[15];
    struct batch_block_result res[15];
    size_t nb = 0;
    for (;;) {
        struct io_block *b;
        cr_assert_eq(io_reader_next(r, &b), ADJ_OK);
        if (b == NULL) {
            break;
        }
        cr_assert_lt(nb, 15);
        blocks[nb] = b;
        cr_assert_eq(batch_chunk_init(&chunks[nb], io_reader_block_bytes_max(r)), ADJ_OK);
        cr_assert_eq(batch_result_init(&res[nb]), ADJ_OK);
        nb++;
    }
    /* Parse in reverse order: results must not depend on it. */
    for (size_t i = nb; i > 0; i--) {
        batch_parse_block(blocks[i - 1], &chunks[i - 1], &res[i - 1]);
    }
    struct batch_state st;
    batch_state_init(&st, "t", NULL);
    for (size_t i = 0; i < nb; i++) {
        cr_assert_eq(batch_merge(&st, blocks[i], &res[i], NULL), ADJ_OK);
        batch_chunk_rebase(&chunks[i], res[i].line_base);
        struct doc_chunk *c = &chunks[i];
        for (uint32_t d = 0; d < c->doc_count; d++) {
            struct doc doc = c->docs[d];
            doc.line_first = (uint32_t)out->nlines;
            /* Offsets within a block differ with the block size; the
             * length of the document's text does not. */
            doc.raw_end -= doc.raw_begin;
            doc.raw_begin = 0;
            for (uint32_t l = 0; l < doc.line_count; l++) {
                struct doc_line ln = c->lines[c->docs[d].line_first + l];
                uint32_t uf = ln.uid_first;
                ln.uid_first = (uint32_t)out->nuids;
                for (uint32_t u = 0; u < ln.uid_count; u++) {
                    out->uids[out->nuids++] = c->uids[uf + u];
                }
                out->lines[out->nlines++] = ln;
            }
            out->docs[out->ndocs++] = doc;
        }
        io_reader_release(r, blocks[i]);
        batch_chunk_free(&chunks[i]);
        batch_result_free(&res[i]);
    }
    struct io_stream_end end;
    io_reader_end(r, &end);
    batch_finish(&st, &end, &out->sum);
    io_reader_close(r);
}

Test(batch, every_record_type_into_structs)
{
    struct parsed p;
    parse_all(good, sizeof good - 1, 0, 0, &p);
    cr_assert(p.sum.verified, "%s", adj_err_name(p.sum.first_batch_error.code));
    cr_assert_eq(p.sum.docs_read, 2);
    cr_assert_eq(p.sum.docs_accepted, 2);
    cr_assert_eq(p.sum.lines_read, 3);
    cr_assert_str_eq(p.sum.header.batch_id, "B-7");
    cr_assert_str_eq(p.sum.header.province, "KHZ");
    cr_assert_str_eq(p.sum.header.source, "EPRESC");
    cr_assert_eq(p.sum.header.period.year, 1403);
    cr_assert_eq(p.sum.header.period.month, 7);
    cr_assert_eq(p.sum.header.created.day, 1);
    cr_assert_eq(p.ndocs, 2);

    const struct doc *rx = &p.docs[0];
    cr_assert_eq(rx->kind, DOC_KIND_P);
    cr_assert_eq(rx->src_line, 3);
    cr_assert_str_eq(rx->doc_id_raw, "RX-\xD9\x8A\x31", "as read");
    cr_assert_str_eq(rx->doc_id, "RX-\xDB\x8C\x31", "Arabic yeh folded to Persian yeh");
    cr_assert_str_eq(rx->center, "PH\xDA\xA9", "Arabic kaf folded to keheh");
    cr_assert_eq(rx->patient_nid, 13542419u, "Persian digits");
    cr_assert_eq(rx->prescriber_mc, 12345);
    cr_assert_eq(rx->date1.day, 1);
    cr_assert_eq(rx->date2.day, 2, "YYYY-MM-DD accepted");
    cr_assert_eq(rx->date2_days - rx->date1_days, 1);
    cr_assert_eq(rx->line_count, 1);

    const struct doc_line *d = &p.lines[rx->line_first];
    cr_assert_eq(d->src_line, 4);
    cr_assert_eq(d->line_no, 1);
    cr_assert_eq(d->kind, LINE_KIND_D);
    cr_assert_str_eq(d->code, "62600\xDB\x8C");
    cr_assert_eq(d->code_len, 7);
    cr_assert_eq(d->qty, 2);
    cr_assert_eq(d->unit_price_rials, 150000);
    cr_assert_eq(d->claimed_total_rials, 300000);
    cr_assert_eq(d->claimed_insurer_rials, 210000);
    cr_assert_eq(d->claimed_daroyar_rials, 90000);
    cr_assert_eq(d->has_physician, 0);
    cr_assert_eq(d->tariff_class, TARIFF_NONE);
    cr_assert_eq(d->uid_count, 3);
    cr_assert_eq(p.uids[d->uid_first], ids_uid_pack("12345067890123456789", 20));
    cr_assert_eq(p.uids[d->uid_first + 1], IDS_UID_INVALID, "6th digit 1: not unit level");
    cr_assert_eq(p.uids[d->uid_first + 2], IDS_UID_INVALID, "well formed, not valid");

    const struct doc *in = &p.docs[1];
    cr_assert_eq(in->kind, DOC_KIND_I);
    cr_assert_eq(in->src_line, 6);
    cr_assert_eq(in->stay, DOC_STAY_M);
    cr_assert_str_eq(in->diagnosis, "K35.8");
    cr_assert_eq(in->line_count, 2);
    const struct doc_line *s = &p.lines[in->line_first];
    cr_assert_eq(s->kind, LINE_KIND_S);
    cr_assert_eq(s->has_physician, 1);
    cr_assert_eq(s->physician_mc, 12345);
    cr_assert_eq(s->tariff_class, TARIFF_F);
    cr_assert_eq(s->claimed_daroyar_rials, 0, "absent means 0");
    cr_assert_eq(s[1].kind, LINE_KIND_B);
    cr_assert_eq(s[1].src_line, 8);
    cr_assert_eq(s[1].line_no, 2);
}

Test(batch, same_documents_for_every_block_size)
{
    struct parsed ref;
    parse_all(good, sizeof good - 1, 0, 0, &ref);
    const size_t reads[] = {1, 2, 5, 33};
    const size_t blocks[] = {1, 40, 120};
    for (size_t i = 0; i < 4; i++) {
        for (size_t j = 0; j < 3; j++) {
            struct parsed p;
            parse_all(good, sizeof good - 1, reads[i], blocks[j], &p);
            cr_assert_eq(p.ndocs, ref.ndocs);
            cr_assert_eq(p.nlines, ref.nlines);
            cr_assert_eq(p.nuids, ref.nuids);
            cr_assert(memcmp(p.docs, ref.docs, sizeof(struct doc) * ref.ndocs) == 0,
                      "read %zu block %zu", reads[i], blocks[j]);
            cr_assert(memcmp(p.lines, ref.lines, sizeof(struct doc_line) * ref.nlines) == 0);
            cr_assert(memcmp(p.uids, ref.uids, sizeof(uint64_t) * ref.nuids) == 0);
            cr_assert(p.sum.verified);
        }
    }
}

Test(batch, rejected_document_positions_are_block_relative_then_absolute)
{
    static const char text[] = "H\t1\tB\tKHZ\t1403/07\t1403/08/01\tS\n"
                               "P\tA\tC\t0013542419\t1\t1403/07/01\t1403/07/02\n"
                               "L\t1\tD\tX\t1\t10\t10\t7\n"
                               "P\tB\tC\t0013542419\t1\t1403/07/01\t1403/07/02\n"
                               "L\t1\tD\tX\t0\t10\t10\t7\n"
                               "T\t2\t2\t20\t14\t0\n";
    struct io_reader_options o = {.read_bytes = 1, .block_bytes = 1};
    struct io_reader *r;
    struct adj_diag dg;
    cr_assert_eq(io_reader_open_memory(&r, text, sizeof text - 1, "t", &o, &dg), ADJ_OK);
    struct doc_chunk c;
    struct batch_block_result res;
    cr_assert_eq(batch_chunk_init(&c, io_reader_block_bytes_max(r)), ADJ_OK);
    cr_assert_eq(batch_result_init(&res), ADJ_OK);
    struct batch_state st;
    batch_state_init(&st, "t", NULL);
    int seen = 0;
    for (;;) {
        struct io_block *b;
        cr_assert_eq(io_reader_next(r, &b), ADJ_OK);
        if (b == NULL) {
            break;
        }
        batch_parse_block(b, &c, &res);
        if (res.reject_count > 0) {
            /* Block "P B ... L ..." alone: relative lines 1 and 2. */
            cr_assert_eq(res.reject_count, 1);
            cr_assert_eq(res.rejects[0].code, ADJ_E_QTY_RANGE);
            cr_assert_eq(res.rejects[0].doc_line, 1);
            cr_assert_eq(res.rejects[0].line, 2);
            cr_assert_eq(res.rejects[0].column, 9, "the qty field");
            cr_assert_str_eq(res.rejects[0].doc_id, "B");
            cr_assert_eq(res.rejects[0].raw_begin, 0);
            cr_assert_eq(res.rejects[0].raw_end, b->len);
            seen++;
        }
        batch_merge(&st, b, &res, NULL);
        if (res.reject_count > 0) {
            cr_assert_eq(res.line_base, 3);
        }
        io_reader_release(r, b);
    }
    cr_assert_eq(seen, 1);
    struct batch_summary s;
    batch_finish(&st, NULL, &s);
    cr_assert(s.verified);
    cr_assert_eq(s.docs_rejected, 1);
    cr_assert_eq(s.rejected_by_reason[ADJ_E_QTY_RANGE], 1);
    cr_assert_eq(batch_summary_exit_code(&s), 1);
    batch_chunk_free(&c);
    batch_result_free(&res);
    io_reader_close(r);
}

struct collect {
    struct parsed *p;
    uint64_t chunks;
};

static void collect_chunk(void *ctx, const struct doc_chunk *c)
{
    struct collect *col = ctx;
    struct parsed *out = col->p;
    cr_assert_eq(c->seq, col->chunks, "chunks arrive in order");
    col->chunks++;
    for (uint32_t d = 0; d < c->doc_count; d++) {
        struct doc doc = c->docs[d];
        doc.line_first = (uint32_t)out->nlines;
        doc.raw_end -= doc.raw_begin; /* as in parse_all */
        doc.raw_begin = 0;
        for (uint32_t l = 0; l < doc.line_count; l++) {
            struct doc_line ln = c->lines[c->docs[d].line_first + l];
            uint32_t uf = ln.uid_first;
            ln.uid_first = (uint32_t)out->nuids;
            for (uint32_t u = 0; u < ln.uid_count; u++) {
                out->uids[out->nuids++] = c->uids[uf + u];
            }
            out->lines[out->nlines++] = ln;
        }
        out->docs[out->ndocs++] = doc;
    }
}

Test(batch, read_callbacks_give_the_same_documents)
{
    struct parsed ref;
    parse_all(good, sizeof good - 1, 0, 0, &ref);
    struct io_reader_options o = {.read_bytes = 3, .block_bytes = 1};
    struct parsed got;
    memset(&got, 0, sizeof got);
    struct collect col = {&got, 0};
    batch_read_memory(good, sizeof good - 1, "t", &o, collect_chunk, &col, NULL, NULL, &got.sum);
    cr_assert(got.sum.verified);
    cr_assert_gt(col.chunks, 2, "several blocks");
    cr_assert_eq(got.ndocs, ref.ndocs);
    cr_assert(memcmp(got.docs, ref.docs, sizeof(struct doc) * ref.ndocs) == 0);
    cr_assert(memcmp(got.lines, ref.lines, sizeof(struct doc_line) * ref.nlines) == 0);

    /* From a file with three parser threads: same documents, same order. */
    char path[] = "/tmp/adj_batch_XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, good, sizeof good - 1), (ssize_t)(sizeof good - 1));
    close(fd);
    memset(&got, 0, sizeof got);
    col.chunks = 0;
    cr_assert_eq(batch_read_file(path, &o, 3, collect_chunk, &col, NULL, NULL, &got.sum), ADJ_OK);
    unlink(path);
    cr_assert(got.sum.verified);
    cr_assert_eq(got.ndocs, ref.ndocs);
    cr_assert(memcmp(got.docs, ref.docs, sizeof(struct doc) * ref.ndocs) == 0);
    cr_assert(memcmp(got.lines, ref.lines, sizeof(struct doc_line) * ref.nlines) == 0);
    cr_assert(memcmp(got.uids, ref.uids, sizeof(uint64_t) * ref.nuids) == 0);
}
