
/*
 * velro: JSON, pure C (no nginx): a parser that reads a text into a tree
 * allocated from a pool, lookups in that tree, and a writer of compact
 * JSON into a growing buffer.
 *
 * The parser accepts what jansson's json_loadb() accepts with
 * JSON_DECODE_ANY, JSON_REJECT_DUPLICATES and JSON_ALLOW_NUL, and only
 * that, with the same values (integers are long long, reals double), at
 * a fraction of the cost: one allocation per few KB instead of several
 * per value.  The one difference: a NUL byte right after a number or a
 * literal outside strings is bad JSON here (jansson skips it).
 *
 * Decisions:
 *  - strings are valid UTF-8 once unescaped (no lone surrogate); they may
 *    hold NUL (from \u0000), object keys may not;
 *  - a duplicate key is found as it comes, before a later syntax error
 *    (as jansson does): the error is then VELRO_JSON_EDUP;
 *  - VELRO_JSON_MAX_DEPTH values may be open at once (jansson's
 *    JSON_PARSER_MAX_DEPTH: a scalar inside 2047 arrays is the most);
 *    max_depth, when not 0, bounds the containers nested (a tree's
 *    depth, as velro_json_t.depth counts it);
 *  - a pool made with a max takes at most that many bytes of memory:
 *    a larger text fails with VELRO_JSON_ENOMEM;
 *  - the writer escapes '"', '\\' and control characters (\n, \r, \t,
 *    others as \u00XX), writes each byte of invalid UTF-8 as U+FFFD, reals
 *    as the shortest text that reads back the same (as JavaScript writes
 *    them, with ".0" when there is no fraction, so that a real stays a
 *    real), and no white space.
 */


#ifndef _VELRO_JSON_H_INCLUDED_
#define _VELRO_JSON_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>


#define VELRO_JSON_NULL        0
#define VELRO_JSON_FALSE       1
#define VELRO_JSON_TRUE        2
#define VELRO_JSON_INTEGER     3
#define VELRO_JSON_REAL        4
#define VELRO_JSON_STRING      5
#define VELRO_JSON_ARRAY       6
#define VELRO_JSON_OBJECT      7

#define VELRO_JSON_MAX_DEPTH   2048    /* jansson's JSON_PARSER_MAX_DEPTH */

/* why velro_json_parse() returned NULL */
#define VELRO_JSON_OK          0
#define VELRO_JSON_EINVAL      1       /* not JSON */
#define VELRO_JSON_EDUP        2       /* a duplicate object key */
#define VELRO_JSON_EDEPTH      3       /* nested too deep */
#define VELRO_JSON_ENOMEM      4       /* out of memory, or over the max */


typedef struct velro_json_s  velro_json_t;

struct velro_json_s {
    int                type;    /* VELRO_JSON_x */
    int                depth;   /* containers nested, 0 for a scalar */
    size_t             len;     /* string bytes; elements or members */
    char              *key;     /* its name, in an object */
    size_t             klen;
    velro_json_t      *next;    /* the next element or member */

    union {
        char          *str;     /* NUL-terminated, may hold NUL */
        velro_json_t  *child;   /* first element or member */
        long long      integer;
        double         real;
    } u;
};


typedef struct velro_json_block_s  velro_json_block_t;

typedef struct {
    char                *pos;
    char                *end;
    velro_json_block_t  *blocks;
    size_t               size;      /* of the next block */
    size_t               total;     /* bytes taken */
    size_t               max;       /* 0: no limit */
} velro_json_pool_t;


/*
 * A pool for the tree of a text of len bytes (its first block is sized
 * for it, up to 64 KB); max bounds the memory it takes (0: no bound).
 * Everything allocated from it goes with velro_json_pool_free().
 */
void velro_json_pool_init(velro_json_pool_t *pool, size_t len, size_t max);
void *velro_json_alloc(velro_json_pool_t *pool, size_t n);
void velro_json_pool_free(velro_json_pool_t *pool);

/*
 * The value that is all of buf (white space around it allowed), or NULL
 * with *error (when not NULL) saying why; max_depth 0: no bound but
 * VELRO_JSON_MAX_DEPTH.
 */
velro_json_t *velro_json_parse(velro_json_pool_t *pool, const char *buf,
    size_t len, int max_depth, int *error);

/* an object's member, or NULL (also when o is not an object) */
velro_json_t *velro_json_get(const velro_json_t *o, const char *key);
velro_json_t *velro_json_getn(const velro_json_t *o, const char *key,
    size_t len);

/* a string's value and length: 1, or 0 when j is NULL or not a string */
int velro_json_string(const velro_json_t *j, const char **s, size_t *len);

/*
 * The inside of a JSON string (without its quotes) unescaped into out,
 * which has room for len + 1 bytes (the result is never longer than the
 * text); NUL-terminated, *out_len not counting the NUL.  Returns 0, or -1
 * when the text is not a valid string's inside (a control character, an
 * unescaped quote, a bad escape, a lone surrogate, invalid UTF-8).
 */
int velro_json_unescape(const char *s, size_t len, char *out,
    size_t *out_len);


/* helpers the parser uses, for other pure code too */

/* the length of the valid UTF-8 sequence at p (1 to 4), or 0 */
size_t velro_json_utf8_len(const unsigned char *p, size_t n);

/* a hex digit's value, or -1 (inline: UUID readers call it per digit) */
static inline int
velro_json_hexval(unsigned char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }

    c |= 0x20;

    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }

    return -1;
}

/* FNV-1a, the hash of the parser's key tables */
uint32_t velro_json_hash(const char *s, size_t len);


/*
 * The writer: text is added to a velro_json_buf_t (start it zeroed, or
 * with data malloc()ed of size bytes); it grows with realloc().  An
 * allocation failure sets failed, after which nothing is added: check it
 * once at the end.  data is free()d by the caller.
 */

typedef struct {
    char              *data;
    size_t             len;
    size_t             size;
    int                failed;
} velro_json_buf_t;


void velro_json_buf_add(velro_json_buf_t *buf, const void *p, size_t n);
void velro_json_buf_str(velro_json_buf_t *buf, const char *s);

/* a JSON string: quotes around velro_json_write_chars() */
void velro_json_write_string(velro_json_buf_t *buf, const char *s,
    size_t len);

/* the inside of a JSON string, escaped */
void velro_json_write_chars(velro_json_buf_t *buf, const char *s,
    size_t len);

void velro_json_write_integer(velro_json_buf_t *buf, long long n);
void velro_json_write_real(velro_json_buf_t *buf, double d);

/* a tree, compact (members in their order) */
void velro_json_write(velro_json_buf_t *buf, const velro_json_t *j);


#endif /* _VELRO_JSON_H_INCLUDED_ */
