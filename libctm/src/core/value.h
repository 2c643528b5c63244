/* value.h - one typed column value, as the store reads it and an entry encodes it (internal). */
#ifndef CTM_VALUE_H
#define CTM_VALUE_H

#include <stdint.h>

/* Value tags of the canonical encoding. */
enum ctm__vtag {
    CTM_V_ABSENT = 0,  /* no value: the "old" of an insert, the "new" of a delete */
    CTM_V_NULL = 1,
    CTM_V_INT = 2,     /* 8 bytes, big-endian two's complement */
    CTM_V_REAL = 3,    /* 8 bytes, IEEE 754 binary64 bits, big-endian */
    CTM_V_TEXT = 4,    /* u32 length + UTF-8 bytes */
    CTM_V_BLOB = 5,    /* u32 length + bytes */
    CTM_V_DIGEST = 6,  /* 32 bytes: SHA-256 of the canonical encoding of a secret value */
};

typedef struct ctm__value {
    int tag;                 /* enum ctm__vtag */
    int64_t i;               /* CTM_V_INT */
    double r;                /* CTM_V_REAL */
    const uint8_t *p;        /* TEXT / BLOB bytes, DIGEST 32 bytes (borrowed) */
    uint32_t n;              /* TEXT / BLOB length */
} ctm__value;

#endif
