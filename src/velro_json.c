
/*
 * velro: JSON, pure C: the parser and the lookups (the writer is
 * velro_json_write.c).
 */


#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "velro_json.h"


#define VELRO_JSON_LINEAR_KEYS  16      /* more members: a hash for dups */
#define VELRO_JSON_POOL_BLOCK   (64 * 1024)     /* blocks grow up to this */


struct velro_json_block_s {
    velro_json_block_t  *next;
    void                *align;
};


typedef struct {
    const unsigned char  *p;
    const unsigned char  *end;
    velro_json_pool_t    *pool;
    int                   depth;    /* values open, counted as jansson does */
    int                   nest;     /* containers open */
    int                   max_nest; /* 0: no bound */
    int                   error;    /* VELRO_JSON_x, 0 for EINVAL */
} velro_json_parser_t;


/* an object's keys so far, in a hash once there are many */

typedef struct {
    velro_json_t        **table;
    size_t                size;
} velro_json_keys_t;


static velro_json_t *velro_json_value(velro_json_parser_t *ps);
static int velro_json_literal(velro_json_parser_t *ps, velro_json_t *v);
static int velro_json_container(velro_json_parser_t *ps, velro_json_t *v,
    unsigned char close);
static int velro_json_key(velro_json_parser_t *ps, velro_json_t *o,
    velro_json_keys_t *keys, char **key, size_t *klen);
static int velro_json_index(velro_json_parser_t *ps, velro_json_t *o,
    velro_json_keys_t *keys, velro_json_t *child);
static void velro_json_index_add(velro_json_keys_t *keys, velro_json_t *m);
static int velro_json_str(velro_json_parser_t *ps, char **s, size_t *len);
static int velro_json_number(velro_json_parser_t *ps, velro_json_t *v);
static void velro_json_ws(velro_json_parser_t *ps);
static int velro_json_hex4(const unsigned char *p, unsigned *v);
static char *velro_json_utf8(char *o, unsigned cp);


static const struct {
    const char  *text;
    size_t       len;
} velro_json_literals[] = {
    { "null", 4 },                      /* VELRO_JSON_NULL */
    { "false", 5 },                     /* VELRO_JSON_FALSE */
    { "true", 4 }                       /* VELRO_JSON_TRUE */
};


/* the pool */

void
velro_json_pool_init(velro_json_pool_t *pool, size_t len, size_t max)
{
    memset(pool, 0, sizeof(velro_json_pool_t));

    pool->size = 4096;
    pool->max = max;

    while (pool->size < len * 4 && pool->size < VELRO_JSON_POOL_BLOCK) {
        pool->size *= 2;
    }
}


void *
velro_json_alloc(velro_json_pool_t *pool, size_t n)
{
    char                *p;
    size_t               size;
    velro_json_block_t  *blk;

    if (n > ((size_t) -1) / 2) {
        return NULL;
    }

    n = (n + 15) & ~((size_t) 15);

    if ((size_t) (pool->end - pool->pos) < n) {
        size = pool->size ? pool->size : 4096;

        if (size < VELRO_JSON_POOL_BLOCK) {
            pool->size = size * 2;
        }

        if (size < n + sizeof(velro_json_block_t)) {
            size = n + sizeof(velro_json_block_t);
        }

        if (pool->max
            && (size > pool->max || pool->total > pool->max - size))
        {
            return NULL;
        }

        blk = malloc(size);
        if (blk == NULL) {
            return NULL;
        }

        blk->next = pool->blocks;
        pool->blocks = blk;
        pool->pos = (char *) blk + sizeof(velro_json_block_t);
        pool->end = (char *) blk + size;
        pool->total += size;
    }

    p = pool->pos;
    pool->pos += n;

    return p;
}


void
velro_json_pool_free(velro_json_pool_t *pool)
{
    velro_json_block_t  *blk, *next;

    for (blk = pool->blocks; blk; blk = next) {
        next = blk->next;
        free(blk);
    }

    memset(pool, 0, sizeof(velro_json_pool_t));
}


/* the parser */

velro_json_t *
velro_json_parse(velro_json_pool_t *pool, const char *buf, size_t len,
    int max_depth, int *error)
{
    velro_json_t         *v;
    velro_json_parser_t   ps;

    ps.p = (const unsigned char *) buf;
    ps.end = ps.p + len;
    ps.pool = pool;
    ps.depth = 0;
    ps.nest = 0;
    ps.max_nest = max_depth > 0 ? max_depth : 0;
    ps.error = VELRO_JSON_OK;

    v = velro_json_value(&ps);

    if (v != NULL) {
        velro_json_ws(&ps);

        if (ps.p != ps.end) {
            v = NULL;
        }
    }

    if (error) {
        *error = (v != NULL) ? VELRO_JSON_OK
                 : (ps.error != VELRO_JSON_OK) ? ps.error : VELRO_JSON_EINVAL;
    }

    return v;
}


static velro_json_t *
velro_json_value(velro_json_parser_t *ps)
{
    int            rc;
    velro_json_t  *v;

    velro_json_ws(ps);

    if (ps->p == ps->end) {
        return NULL;
    }

    if (++ps->depth > VELRO_JSON_MAX_DEPTH) {
        ps->error = VELRO_JSON_EDEPTH;
        return NULL;
    }

    v = velro_json_alloc(ps->pool, sizeof(velro_json_t));
    if (v == NULL) {
        ps->error = VELRO_JSON_ENOMEM;
        return NULL;
    }

    memset(v, 0, sizeof(velro_json_t));

    switch (*ps->p) {

    case '{':
    case '[':
        if (ps->max_nest && ps->nest >= ps->max_nest) {
            ps->error = VELRO_JSON_EDEPTH;
            return NULL;
        }

        v->type = (*ps->p == '{') ? VELRO_JSON_OBJECT : VELRO_JSON_ARRAY;
        v->depth = 1;
        ps->p++;
        ps->nest++;
        rc = velro_json_container(ps, v,
                                  v->type == VELRO_JSON_OBJECT ? '}' : ']');
        ps->nest--;
        break;

    case '"':
        v->type = VELRO_JSON_STRING;
        rc = velro_json_str(ps, &v->u.str, &v->len);
        break;

    case 'n':
    case 'f':
    case 't':
        rc = velro_json_literal(ps, v);
        break;

    default:
        rc = velro_json_number(ps, v);
    }

    ps->depth--;

    return (rc == 0) ? v : NULL;
}


/* null, false or true, ps->p at its first letter */

static int
velro_json_literal(velro_json_parser_t *ps, velro_json_t *v)
{
    int  t;

    for (t = VELRO_JSON_NULL; t < VELRO_JSON_TRUE; t++) {
        if (velro_json_literals[t].text[0] == *ps->p) {
            break;
        }
    }

    v->type = t;

    if ((size_t) (ps->end - ps->p) < velro_json_literals[t].len
        || memcmp(ps->p, velro_json_literals[t].text,
                  velro_json_literals[t].len)
           != 0)
    {
        return -1;
    }

    ps->p += velro_json_literals[t].len;

    return 0;
}


/*
 * An array's elements or an object's members, ps->p after its '[' or
 * '{'.  A key is checked against the earlier ones as it comes (as jansson
 * does, so a duplicate is found before a later syntax error): one by one
 * while few, then in a hash.
 */

static int
velro_json_container(velro_json_parser_t *ps, velro_json_t *v,
    unsigned char close)
{
    char               *key;
    size_t              klen;
    velro_json_t       *child, **last;
    velro_json_keys_t   keys;

    last = &v->u.child;
    keys.table = NULL;
    keys.size = 0;
    key = NULL;
    klen = 0;

    velro_json_ws(ps);

    if (ps->p < ps->end && *ps->p == close) {
        ps->p++;
        return 0;
    }

    for ( ;; ) {
        if (v->type == VELRO_JSON_OBJECT
            && velro_json_key(ps, v, &keys, &key, &klen) != 0)
        {
            return -1;
        }

        child = velro_json_value(ps);
        if (child == NULL) {
            return -1;
        }

        child->key = key;
        child->klen = klen;

        *last = child;
        last = &child->next;
        v->len++;

        if (child->depth + 1 > v->depth) {
            v->depth = child->depth + 1;
        }

        if (v->type == VELRO_JSON_OBJECT
            && velro_json_index(ps, v, &keys, child) != 0)
        {
            return -1;
        }

        velro_json_ws(ps);

        if (ps->p == ps->end) {
            return -1;
        }

        if (*ps->p == ',') {
            ps->p++;
            continue;
        }

        if (*ps->p == close) {
            ps->p++;
            return 0;
        }

        return -1;
    }
}


/* a member's key and its ':', unless the key is there already */

static int
velro_json_key(velro_json_parser_t *ps, velro_json_t *o,
    velro_json_keys_t *keys, char **key, size_t *klen)
{
    size_t         i, mask;
    velro_json_t  *m;

    velro_json_ws(ps);

    if (ps->p == ps->end || *ps->p != '"') {
        return -1;
    }

    if (velro_json_str(ps, key, klen) != 0) {
        return -1;
    }

    if (memchr(*key, '\0', *klen) != NULL) {
        return -1;
    }

    if (keys->table == NULL) {
        for (m = o->u.child; m; m = m->next) {
            if (m->klen == *klen && memcmp(m->key, *key, *klen) == 0) {
                ps->error = VELRO_JSON_EDUP;
                return -1;
            }
        }

    } else {
        mask = keys->size - 1;

        for (i = velro_json_hash(*key, *klen) & mask; keys->table[i];
             i = (i + 1) & mask)
        {
            m = keys->table[i];

            if (m->klen == *klen && memcmp(m->key, *key, *klen) == 0) {
                ps->error = VELRO_JSON_EDUP;
                return -1;
            }
        }
    }

    velro_json_ws(ps);

    if (ps->p == ps->end || *ps->p != ':') {
        return -1;
    }

    ps->p++;

    return 0;
}


/* the hash of an object's keys: made, grown to stay at most half full */

static int
velro_json_index(velro_json_parser_t *ps, velro_json_t *o,
    velro_json_keys_t *keys, velro_json_t *child)
{
    size_t         size;
    velro_json_t  *m;

    if (o->len < VELRO_JSON_LINEAR_KEYS) {
        return 0;
    }

    if (o->len * 2 <= keys->size) {
        velro_json_index_add(keys, child);
        return 0;
    }

    size = keys->size ? keys->size * 2 : 4 * VELRO_JSON_LINEAR_KEYS;

    keys->table = velro_json_alloc(ps->pool, size * sizeof(velro_json_t *));
    if (keys->table == NULL) {
        ps->error = VELRO_JSON_ENOMEM;
        return -1;
    }

    memset(keys->table, 0, size * sizeof(velro_json_t *));
    keys->size = size;

    for (m = o->u.child; m; m = m->next) {
        velro_json_index_add(keys, m);
    }

    return 0;
}


static void
velro_json_index_add(velro_json_keys_t *keys, velro_json_t *m)
{
    size_t  i, mask;

    mask = keys->size - 1;

    for (i = velro_json_hash(m->key, m->klen) & mask; keys->table[i];
         i = (i + 1) & mask)
    {
        /* void */
    }

    keys->table[i] = m;
}


/* a string, ps->p at its opening quote; 0 or -1 */

static int
velro_json_str(velro_json_parser_t *ps, char **s, size_t *len)
{
    char                 *out;
    const unsigned char  *p, *start;

    start = ps->p + 1;

    /* its end: the first quote not escaped */

    for (p = start; p < ps->end && *p != '"'; p++) {
        if (*p == '\\') {
            if (ps->end - p < 2) {
                return -1;
            }

            p++;
        }
    }

    if (p == ps->end) {
        return -1;
    }

    ps->p = p + 1;

    out = velro_json_alloc(ps->pool, (p - start) + 1);
    if (out == NULL) {
        ps->error = VELRO_JSON_ENOMEM;
        return -1;
    }

    if (velro_json_unescape((const char *) start, p - start, out, len)
        != 0)
    {
        return -1;
    }

    *s = out;

    return 0;
}


int
velro_json_unescape(const char *s, size_t len, char *out, size_t *out_len)
{
    char                 *o;
    size_t                u;
    unsigned              cp, lo;
    const unsigned char  *p, *q, *end;

    p = (const unsigned char *) s;
    end = p + len;
    o = out;

    while (p < end) {

        /* a run of bytes that stay as they are */

        for (q = p; q < end; q += u) {
            if (*q == '"' || *q == '\\' || *q < 0x20) {
                break;
            }

            u = velro_json_utf8_len(q, end - q);
            if (u == 0) {
                return -1;
            }
        }

        memcpy(o, p, q - p);
        o += q - p;
        p = q;

        if (p == end) {
            break;
        }

        if (*p != '\\' || end - p < 2) {
            return -1;
        }

        switch (p[1]) {

        case 'b':
            *o++ = '\b';
            break;

        case 'f':
            *o++ = '\f';
            break;

        case 'n':
            *o++ = '\n';
            break;

        case 'r':
            *o++ = '\r';
            break;

        case 't':
            *o++ = '\t';
            break;

        case '"':
        case '\\':
        case '/':
            *o++ = (char) p[1];
            break;

        case 'u':
            if (end - p < 6 || velro_json_hex4(p + 2, &cp) != 0
                || (cp >= 0xdc00 && cp <= 0xdfff))
            {
                return -1;
            }

            if (cp >= 0xd800 && cp <= 0xdbff) {
                if (end - p < 12 || p[6] != '\\' || p[7] != 'u'
                    || velro_json_hex4(p + 8, &lo) != 0
                    || lo < 0xdc00 || lo > 0xdfff)
                {
                    return -1;
                }

                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                p += 6;
            }

            o = velro_json_utf8(o, cp);
            p += 4;
            break;

        default:
            return -1;
        }

        p += 2;
    }

    *o = '\0';
    *out_len = o - out;

    return 0;
}


static char *
velro_json_utf8(char *o, unsigned cp)
{
    if (cp < 0x80) {
        *o++ = (char) cp;

    } else if (cp < 0x800) {
        *o++ = (char) (0xc0 | (cp >> 6));
        *o++ = (char) (0x80 | (cp & 0x3f));

    } else if (cp < 0x10000) {
        *o++ = (char) (0xe0 | (cp >> 12));
        *o++ = (char) (0x80 | ((cp >> 6) & 0x3f));
        *o++ = (char) (0x80 | (cp & 0x3f));

    } else {
        *o++ = (char) (0xf0 | (cp >> 18));
        *o++ = (char) (0x80 | ((cp >> 12) & 0x3f));
        *o++ = (char) (0x80 | ((cp >> 6) & 0x3f));
        *o++ = (char) (0x80 | (cp & 0x3f));
    }

    return o;
}


/* a number, as jansson reads it: strtoll() or strtod() of its text */

static int
velro_json_number(velro_json_parser_t *ps, velro_json_t *v)
{
    char                  tmp[64], *text;
    size_t                n;
    const unsigned char  *p, *end, *start;

    p = ps->p;
    end = ps->end;
    start = p;

    if (*p == '-') {
        p++;
    }

    if (p < end && *p == '0') {
        p++;

        if (p < end && *p >= '0' && *p <= '9') {
            return -1;
        }

    } else if (p < end && *p >= '1' && *p <= '9') {
        while (p < end && *p >= '0' && *p <= '9') {
            p++;
        }

    } else {
        return -1;
    }

    v->type = VELRO_JSON_INTEGER;

    if (p < end && *p == '.') {
        v->type = VELRO_JSON_REAL;
        p++;

        if (p == end || *p < '0' || *p > '9') {
            return -1;
        }

        while (p < end && *p >= '0' && *p <= '9') {
            p++;
        }
    }

    if (p < end && (*p == 'e' || *p == 'E')) {
        v->type = VELRO_JSON_REAL;
        p++;

        if (p < end && (*p == '+' || *p == '-')) {
            p++;
        }

        if (p == end || *p < '0' || *p > '9') {
            return -1;
        }

        while (p < end && *p >= '0' && *p <= '9') {
            p++;
        }
    }

    n = p - start;

    if (n < sizeof(tmp)) {
        text = tmp;

    } else {
        text = velro_json_alloc(ps->pool, n + 1);
        if (text == NULL) {
            ps->error = VELRO_JSON_ENOMEM;
            return -1;
        }
    }

    memcpy(text, start, n);
    text[n] = '\0';

    errno = 0;

    if (v->type == VELRO_JSON_INTEGER) {
        v->u.integer = strtoll(text, NULL, 10);

        if (errno == ERANGE) {
            return -1;
        }

    } else {
        v->u.real = strtod(text, NULL);

        if ((v->u.real == HUGE_VAL || v->u.real == -HUGE_VAL)
            && errno == ERANGE)
        {
            return -1;
        }
    }

    ps->p = p;

    return 0;
}


static void
velro_json_ws(velro_json_parser_t *ps)
{
    while (ps->p < ps->end
           && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n'
               || *ps->p == '\r'))
    {
        ps->p++;
    }
}


static int
velro_json_hex4(const unsigned char *p, unsigned *v)
{
    int       i, h;
    unsigned  n;

    n = 0;

    for (i = 0; i < 4; i++) {
        h = velro_json_hexval(p[i]);
        if (h < 0) {
            return -1;
        }

        n = n * 16 + (unsigned) h;
    }

    *v = n;

    return 0;
}


/* lookups */

velro_json_t *
velro_json_get(const velro_json_t *o, const char *key)
{
    return velro_json_getn(o, key, strlen(key));
}


velro_json_t *
velro_json_getn(const velro_json_t *o, const char *key, size_t len)
{
    velro_json_t  *m;

    if (o == NULL || o->type != VELRO_JSON_OBJECT) {
        return NULL;
    }

    for (m = o->u.child; m; m = m->next) {
        if (m->klen == len && memcmp(m->key, key, len) == 0) {
            return m;
        }
    }

    return NULL;
}


int
velro_json_string(const velro_json_t *j, const char **s, size_t *len)
{
    if (j == NULL || j->type != VELRO_JSON_STRING) {
        return 0;
    }

    *s = j->u.str;
    *len = j->len;

    return 1;
}


/* helpers */

/* overlong forms, surrogates and code points above U+10FFFF are invalid */

size_t
velro_json_utf8_len(const unsigned char *p, size_t n)
{
    size_t         need, i;
    unsigned char  c, lo, hi;

    c = p[0];

    if (c < 0x80) {
        return 1;
    }

    lo = 0x80;
    hi = 0xbf;

    if (c >= 0xc2 && c <= 0xdf) {
        need = 1;

    } else if (c >= 0xe0 && c <= 0xef) {
        need = 2;

        if (c == 0xe0) {
            lo = 0xa0;

        } else if (c == 0xed) {
            hi = 0x9f;
        }

    } else if (c >= 0xf0 && c <= 0xf4) {
        need = 3;

        if (c == 0xf0) {
            lo = 0x90;

        } else if (c == 0xf4) {
            hi = 0x8f;
        }

    } else {
        return 0;
    }

    if (n < need + 1) {
        return 0;
    }

    if (p[1] < lo || p[1] > hi) {
        return 0;
    }

    for (i = 2; i <= need; i++) {
        if (p[i] < 0x80 || p[i] > 0xbf) {
            return 0;
        }
    }

    return need + 1;
}


uint32_t
velro_json_hash(const char *s, size_t len)
{
    size_t    i;
    uint32_t  h;

    h = 2166136261u;

    for (i = 0; i < len; i++) {
        h = (h ^ (unsigned char) s[i]) * 16777619u;
    }

    return h;
}
