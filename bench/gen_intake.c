/*
 * Deterministic generator of a large, valid batch (batch-format.md) for the
 * intake benchmark: bench/intake compiles and runs it. Not the product's
 * generator (`dadras gen` is); this one only needs realistic line shapes:
 * 80% prescriptions (1..6 drug lines, one 20-digit pack id per pack) and
 * 20% inpatient documents (2..20 service, supply and bed lines), Persian
 * digits in a few fields, and a trailer that verifies.
 * Usage: gen_intake MEGABYTES [SEED] > batch.tsv
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t state;
static uint64_t rnd(void)
{
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
}
static unsigned upto(unsigned n) { return (unsigned)(rnd() % n); }

static void nid(char out[11])
{
    unsigned s = 0;
    for (int i = 0; i < 9; i++) {
        out[i] = (char)('0' + upto(10));
        s += (unsigned)(out[i] - '0') * (unsigned)(10 - i);
    }
    if (out[0] == out[1]) {
        out[1] = (char)('0' + (out[0] - '0' + 1) % 10); /* never all equal */
        s = 0;
        for (int i = 0; i < 9; i++) {
            s += (unsigned)(out[i] - '0') * (unsigned)(10 - i);
        }
    }
    unsigned r = s % 11;
    out[9] = (char)('0' + (r < 2 ? r : 11 - r));
    out[10] = '\0';
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: gen_intake MEGABYTES [SEED]\n");
        return 64;
    }
    uint64_t target = strtoull(argv[1], NULL, 10) << 20;
    state = argc > 2 ? strtoull(argv[2], NULL, 10) : 88172645463325252ull;
    static char buf[1 << 20];
    setvbuf(stdout, buf, _IOFBF, sizeof buf);
    uint64_t bytes = 0, docs = 0, lines = 0;
    unsigned __int128 st = 0, si = 0, sd = 0;
    bytes += (uint64_t)printf("H\t1\tKHZ-1403-07-BENCH\tKHZ\t1403/07\t1403/08/01\tBENCH\n");
    char n[11];
    while (bytes < target) {
        docs++;
        nid(n);
        unsigned day = 1 + upto(28);
        if (upto(10) < 8) {
            bytes += (uint64_t)printf("P\tRX%010llu\tPH%04u\t%s\t%u\t1403/07/%02u\t1403/07/%02u\n",
                                      (unsigned long long)docs, upto(3000), n, 10000 + upto(80000),
                                      day, day + upto(3));
            unsigned nl = 1 + upto(6);
            for (unsigned l = 1; l <= nl; l++) {
                unsigned qty = 1 + upto(4);
                unsigned price = 1000 * (10 + upto(5000));
                uint64_t total = (uint64_t)qty * price;
                uint64_t ins = total * 7 / 10;
                uint64_t dar = upto(4) == 0 ? total / 10 : 0;
                bytes += (uint64_t)printf("L\t%u\tD\t%07u\t%u\t%u\t%llu\t%llu\t%llu\t\t\t", l,
                                          1000000 + upto(20000), qty, price,
                                          (unsigned long long)total, (unsigned long long)ins,
                                          (unsigned long long)dar);
                for (unsigned u = 0; u < qty; u++) {
                    bytes += (uint64_t)printf("%s62600%015llu", u ? "," : "",
                                              (unsigned long long)(rnd() % 1000000000000000ull));
                }
                bytes += (uint64_t)printf("\n");
                lines++;
                st += total;
                si += ins;
                sd += dar;
            }
        } else {
            bytes += (uint64_t)printf("I\tAD%010llu\tHOS%03u\t%s\t1403/07/%02u\t1403/07/%02u\t%c\tK%02u.%u\n",
                                      (unsigned long long)docs, upto(300), n, day, day + upto(3),
                                      upto(4) ? 'B' : 'M', upto(100), upto(10));
            unsigned nl = 2 + upto(19);
            for (unsigned l = 1; l <= nl; l++) {
                static const char kinds[] = "SSSKB";
                char k = kinds[upto(5)];
                unsigned qty = 1 + upto(3);
                unsigned price = 10000 * (1 + upto(900));
                uint64_t total = (uint64_t)qty * price;
                uint64_t ins = total * 9 / 10;
                if (k == 'S') {
                    bytes += (uint64_t)printf("L\t%u\tS\t%06u\t%u\t%u\t%llu\t%llu\t0\t%u\t%c\n", l,
                                              900000 + upto(9000), qty, price,
                                              (unsigned long long)total, (unsigned long long)ins,
                                              10000 + upto(80000), upto(3) ? 'G' : 'F');
                } else {
                    bytes += (uint64_t)printf("L\t%u\t%c\t%s%05u\t%u\t%u\t%llu\t%llu\t0\n", l, k,
                                              k == 'B' ? "BED" : "SUP", upto(99999), qty, price,
                                              (unsigned long long)total, (unsigned long long)ins);
                }
                lines++;
                st += total;
                si += ins;
            }
        }
    }
    printf("T\t%llu\t%llu\t%llu\t%llu\t%llu\n", (unsigned long long)docs,
           (unsigned long long)lines, (unsigned long long)st, (unsigned long long)si,
           (unsigned long long)sd);
    return 0;
}
