/* weights/reader_internal.h — what reader.c (header, bounds, CRCs, entry
 * points) shares with sections.c (metadata, tensor table, graph): a cursor
 * over one section of the untrusted file whose every read is bounds-checked,
 * and whose every failure formats a message naming the field and the value. */
#ifndef CC_READER_INTERNAL_H
#define CC_READER_INTERNAL_H

#include "core/namemap.h"
#include "model.h"

#include <stdint.h>

typedef unsigned long long cc_ull;  /* u64 for %llu */


typedef struct {
    const unsigned char *b;  /* the file */
    uint64_t size;
    const char *file;        /* its name in messages */
    cc_error *err;
    cc_model *m;
    uint64_t pos, end;       /* cursor in the current section */
    const char *section;     /* "metadata", "graph" or "tensor table" */
    char item[160];          /* what is being read, for messages: "node 'layer1.0.conv1'" */
    uint64_t sec_off[3], sec_size[3];  /* metadata, graph, tensor table */
    uint64_t data_off, data_size;
    cc_namemap tensors;      /* tensor name -> index */
    cc_namemap names;        /* node and alias names -> node */
    int made_here;           /* cc_model_adopt: the data CRC is not checked */
} cc_reader;

static inline uint32_t cc_le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t cc_le64(const unsigned char *p)
{
    return (uint64_t)cc_le32(p) | (uint64_t)cc_le32(p + 4) << 32;
}

/* "<file>: <message>", returns st. */
cc_status cc_rd_fail(cc_reader *r, cc_status st, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
cc_status cc_rd_nomem(cc_reader *r, size_t bytes);


void *cc_rd_alloc(cc_reader *r, size_t bytes);  /* from the model's pool */
void cc_rd_begin(cc_reader *r, const char *section, uint64_t off, uint64_t size);
uint64_t cc_rd_left(const cc_reader *r);
cc_status cc_rd_u32(cc_reader *r, uint32_t *v, const char *field);
cc_status cc_rd_u64(cc_reader *r, uint64_t *v, const char *field);
cc_status cc_rd_f64(cc_reader *r, double *v, const char *field);
/* A str field: at most 4096 bytes of UTF-8 without NUL, copied NUL-terminated. */
cc_status cc_rd_str(cc_reader *r, const char **out, const char *field);
/* count entries of at least min_bytes each must fit in what remains. */
cc_status cc_rd_count(cc_reader *r, uint32_t count, uint64_t min_bytes, const char *field);
/* The section must be consumed exactly. */
cc_status cc_rd_finish(cc_reader *r);

/* sections.c */
cc_status cc_read_metadata(cc_reader *r);
cc_status cc_read_tensors(cc_reader *r);
cc_status cc_read_graph(cc_reader *r);


#endif
