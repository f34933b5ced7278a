/*
 * The settled-id index: the run's K08/K09 history tables kept in a file
 * beside the ledger (LEDGER.idx) and mapped at startup instead of rebuilt
 * from the ledger's BLOBs. What makes it safe to trust is in core/ledger.h;
 * this file is the format, the checks and the atomic write.
 */
#include "core/ledger.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "core/base/assert.h"
#include "core/base/idset.h"

#define LGX_MAGIC "DDRSIDX1"
#define LGX_BYTE_ORDER UINT64_C(0x0102030405060708)
/* Sections start at page boundaries so the tables map page-aligned. */
#define LGX_ALIGN 4096u
/* Longest path of the index: the ledger path (struct ledger keeps 512
 * bytes) plus ".idx.XXXXXX". */
#define LGX_PATH_MAX 640

struct lgx_hash {
    uint64_t low, high;
};

struct lgx_header {
    char magic[8];
    uint64_t byte_order;
    uint64_t file_bytes;
    uint64_t state_off, state_bytes;
    uint64_t pack_off, pack_capacity, pack_count;
    uint64_t doc_off, doc_capacity, doc_count;
    uint64_t arena_off, arena_bytes;
    uint32_t pack_load_quarters, doc_load_quarters;
    struct lgx_hash hash_state, hash_packs, hash_doc_slots, hash_arena;
    uint64_t header_hash; /* XXH3-64 of the bytes before this field. */
};
_Static_assert(sizeof(struct lgx_header) <= LGX_ALIGN, "header fits its page");

struct ledger_index {
    void *map;
    size_t bytes;
};

const char *ledger_index_status_name(enum ledger_index_status status)
{
    switch (status) {
    case LEDGER_INDEX_OK: return "used";
    case LEDGER_INDEX_MISSING: return "missing";
    case LEDGER_INDEX_STALE: return "stale (a batch it holds was reversed)";
    case LEDGER_INDEX_DAMAGED: return "damaged";
    }
    return "?";
}

static uint64_t lgx_align(uint64_t n)
{
    return (n + LGX_ALIGN - 1) / LGX_ALIGN * LGX_ALIGN;
}

static struct lgx_hash lgx_hash(const void *p, size_t n)
{
    XXH128_hash_t h = XXH3_128bits(p, n);
    return (struct lgx_hash){h.low64, h.high64};
}

static bool lgx_hash_eq(struct lgx_hash a, struct lgx_hash b)
{
    return a.low == b.low && a.high == b.high;
}

static uint64_t lgx_header_hash(const struct lgx_header *h)
{
    return XXH3_64bits(h, offsetof(struct lgx_header, header_hash));
}

/* A section [off, off + bytes) lies inside the file and after the header. */
static bool lgx_section_ok(uint64_t off, uint64_t bytes, uint64_t file_bytes)
{
    return off >= LGX_ALIGN && off % LGX_ALIGN == 0 && off <= file_bytes &&
           bytes <= file_bytes - off;
}

/* Header checks that need no section read; sizes are checked with
 * divisions so no product can overflow. */
static bool lgx_header_ok(const struct lgx_header *h, uint64_t file_bytes)
{
    return memcmp(h->magic, LGX_MAGIC, 8) == 0 && h->byte_order == LGX_BYTE_ORDER &&
           h->header_hash == lgx_header_hash(h) && h->file_bytes == file_bytes &&
           lgx_section_ok(h->state_off, h->state_bytes, file_bytes) &&
           h->pack_capacity <= file_bytes / sizeof(uint64_t) &&
           lgx_section_ok(h->pack_off, h->pack_capacity * sizeof(uint64_t), file_bytes) &&
           h->doc_capacity <= file_bytes / sizeof(struct idset_str_slot) &&
           lgx_section_ok(h->doc_off, h->doc_capacity * sizeof(struct idset_str_slot), file_bytes) &&
           lgx_section_ok(h->arena_off, h->arena_bytes, file_bytes);
}

struct lgx_docs_check {
    const unsigned char *base;
    const struct lgx_header *h;
    bool ok;
};

static void *lgx_check_docs(void *arg)
{
    struct lgx_docs_check *c = arg;
    const struct lgx_header *h = c->h;
    c->ok = lgx_hash_eq(lgx_hash(c->base + h->doc_off, h->doc_capacity * sizeof(struct idset_str_slot)),
                        h->hash_doc_slots) &&
            lgx_hash_eq(lgx_hash(c->base + h->arena_off, h->arena_bytes), h->hash_arena);
    return NULL;
}

static void lgx_index_path(char *out, size_t cap, const char *ledger_path)
{
    int n = snprintf(out, cap, "%s.idx", ledger_path);
    ADJ_ASSERT(n > 0 && (size_t)n < cap && "ledger path too long for its index");
}

enum ledger_index_status ledger_index_map(const char *ledger_path, struct ledger_index **out,
                                          struct idset_u64 *packs, struct idset_str *docs,
                                          char **state)
{
    *out = NULL;
    *state = NULL;
    memset(packs, 0, sizeof *packs);
    memset(docs, 0, sizeof *docs);
    char path[LGX_PATH_MAX];
    lgx_index_path(path, sizeof path, ledger_path);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return errno == ENOENT ? LEDGER_INDEX_MISSING : LEDGER_INDEX_DAMAGED;
    }
    struct stat st;
    struct lgx_header h;
    if (fstat(fd, &st) != 0 || st.st_size < (off_t)LGX_ALIGN ||
        pread(fd, &h, sizeof h, 0) != (ssize_t)sizeof h || !lgx_header_ok(&h, (uint64_t)st.st_size)) {
        close(fd);
        return LEDGER_INDEX_DAMAGED;
    }
    /* Read-only and private: nothing is copied, and the file is never
     * written through it. Not MAP_POPULATE: mapping 1 GB up front on this
     * thread cost more system time (0.6-0.8 s against 0.5 s, measured)
     * than the faults the two checksum threads take in parallel below. */
    void *map = mmap(NULL, (size_t)h.file_bytes, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED) {
        return LEDGER_INDEX_DAMAGED;
    }
    const unsigned char *base = map;
    bool ok = lgx_hash_eq(lgx_hash(base + h.state_off, h.state_bytes), h.hash_state) &&
              memchr(base + h.state_off, '\0', h.state_bytes) == NULL;
    if (ok) {
        /* The doc sections are hashed on a second thread while this one
         * hashes the pack table (the larger half). */
        struct lgx_docs_check dc = {.base = base, .h = &h, .ok = false};
        pthread_t thread;
        bool threaded = pthread_create(&thread, NULL, lgx_check_docs, &dc) == 0;
        if (!threaded) {
            lgx_check_docs(&dc);
        }
        bool packs_ok = lgx_hash_eq(lgx_hash(base + h.pack_off, h.pack_capacity * sizeof(uint64_t)),
                                    h.hash_packs);
        if (threaded) {
            pthread_join(thread, NULL);
        }
        ok = packs_ok && dc.ok &&
             idset_u64_borrow(packs, (uint64_t *)(void *)(base + h.pack_off), h.pack_capacity,
                              h.pack_count, h.pack_load_quarters) &&
             idset_str_borrow(docs, (struct idset_str_slot *)(void *)(base + h.doc_off),
                              h.doc_capacity, h.doc_count, (char *)(base + h.arena_off),
                              h.arena_bytes, h.doc_load_quarters);
    }
    struct ledger_index *index = ok ? calloc(1, sizeof *index) : NULL;
    char *text = ok ? malloc((size_t)h.state_bytes + 1) : NULL;
    if (index == NULL || text == NULL) {
        free(index);
        free(text);
        munmap(map, (size_t)h.file_bytes);
        memset(packs, 0, sizeof *packs);
        memset(docs, 0, sizeof *docs);
        return LEDGER_INDEX_DAMAGED;
    }
    memcpy(text, base + h.state_off, (size_t)h.state_bytes);
    text[h.state_bytes] = '\0';
    index->map = map;
    index->bytes = (size_t)h.file_bytes;
    *out = index;
    *state = text;
    return LEDGER_INDEX_OK;
}

void ledger_index_unmap(struct ledger_index *index)
{
    if (index != NULL) {
        munmap(index->map, index->bytes);
        free(index);
    }
}

/* Writes all of p[0..n) at offset off. */
static bool lgx_pwrite_all(int fd, const void *p, uint64_t n, uint64_t off)
{
    const char *c = p;
    /* Bounded: every pass writes at least one byte or fails. */
    while (n > 0) {
        size_t part = n > (UINT64_C(1) << 30) ? (size_t)1 << 30 : (size_t)n;
        ssize_t w = pwrite(fd, c, part, (off_t)off);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            return false;
        }
        c += w;
        n -= (uint64_t)w;
        off += (uint64_t)w;
    }
    return true;
}

struct lgx_hash_job {
    const void *p;
    size_t n;
    struct lgx_hash out;
};

static void *lgx_hash_job_run(void *arg)
{
    struct lgx_hash_job *job = arg;
    job->out = lgx_hash(job->p, job->n);
    return NULL;
}

enum adj_err ledger_index_write(const char *ledger_path, const char *state,
                                const struct idset_u64 *packs, const struct idset_str *docs,
                                struct adj_diag *diag)
{
    char path[LGX_PATH_MAX], tmp[LGX_PATH_MAX];
    lgx_index_path(path, sizeof path, ledger_path);
    int n = snprintf(tmp, sizeof tmp, "%s.XXXXXX", path);
    ADJ_ASSERT(n > 0 && (size_t)n < sizeof tmp);
    ADJ_ASSERT(packs->slots != NULL && docs->slots != NULL && docs->arena != NULL);

    struct lgx_header h;
    memset(&h, 0, sizeof h);
    memcpy(h.magic, LGX_MAGIC, 8);
    h.byte_order = LGX_BYTE_ORDER;
    h.state_off = LGX_ALIGN;
    h.state_bytes = strlen(state);
    h.pack_off = lgx_align(h.state_off + h.state_bytes);
    h.pack_capacity = packs->mask + 1;
    h.pack_count = packs->count;
    h.pack_load_quarters = packs->load_quarters;
    h.doc_off = lgx_align(h.pack_off + h.pack_capacity * sizeof(uint64_t));
    h.doc_capacity = docs->mask + 1;
    h.doc_count = docs->count;
    h.doc_load_quarters = docs->load_quarters;
    h.arena_off = lgx_align(h.doc_off + h.doc_capacity * sizeof(struct idset_str_slot));
    h.arena_bytes = docs->arena_bytes;
    h.file_bytes = h.arena_off + h.arena_bytes;
    h.hash_state = lgx_hash(state, h.state_bytes);
    /* The pack table on a second thread, the doc sections here. */
    struct lgx_hash_job pj = {.p = packs->slots, .n = h.pack_capacity * sizeof(uint64_t)};
    pthread_t thread;
    bool threaded = pthread_create(&thread, NULL, lgx_hash_job_run, &pj) == 0;
    if (!threaded) {
        lgx_hash_job_run(&pj);
    }
    h.hash_doc_slots = lgx_hash(docs->slots, h.doc_capacity * sizeof(struct idset_str_slot));
    h.hash_arena = lgx_hash(docs->arena, h.arena_bytes);
    if (threaded) {
        pthread_join(thread, NULL);
    }
    h.hash_packs = pj.out;
    h.header_hash = lgx_header_hash(&h);

    int fd = mkstemp(tmp);
    if (fd < 0) {
        adj_diag_set(diag, ADJ_E_OPEN, tmp, 0, 0, "%s", strerror(errno));
        return ADJ_E_OPEN;
    }
    (void)fchmod(fd, 0644);
    char page[LGX_ALIGN];
    memset(page, 0, sizeof page);
    memcpy(page, &h, sizeof h);
    bool ok = ftruncate(fd, (off_t)h.file_bytes) == 0 && lgx_pwrite_all(fd, page, sizeof page, 0) &&
              lgx_pwrite_all(fd, state, h.state_bytes, h.state_off) &&
              lgx_pwrite_all(fd, packs->slots, h.pack_capacity * sizeof(uint64_t), h.pack_off) &&
              lgx_pwrite_all(fd, docs->slots, h.doc_capacity * sizeof(struct idset_str_slot),
                             h.doc_off) &&
              lgx_pwrite_all(fd, docs->arena, h.arena_bytes, h.arena_off);
    int saved = errno;
    if (close(fd) != 0 && ok) {
        ok = false;
        saved = errno;
    }
    if (ok && rename(tmp, path) != 0) {
        ok = false;
        saved = errno;
    }
    if (!ok) {
        (void)unlink(tmp);
        adj_diag_set(diag, saved == ENOSPC ? ADJ_E_LEDGER_DISK_FULL : ADJ_E_IO, path, 0, 0,
                     "cannot write the settled-id index: %s", strerror(saved));
        return saved == ENOSPC ? ADJ_E_LEDGER_DISK_FULL : ADJ_E_IO;
    }
    return ADJ_OK;
}
