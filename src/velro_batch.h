
/*
 * velro: request batching, pure C (no nginx), so unit tests and fuzzers
 * reach it: parsing and validating a batch (items, their endpoints,
 * methods, headers and bodies, and the dependency graph), the JSON error
 * body, and the assembly of the answer array.
 *
 * Decisions:
 *  - an empty array is a 400 "empty batch"; more than max_items (0 means
 *    VELRO_BATCH_DEFAULT_MAX) is a 413 before any item is looked at;
 *  - bad JSON is a 400 "invalid JSON" ("duplicate key" for duplicate
 *    keys) without an item index; JSON is read by velro_json.c, which
 *    accepts what jansson's json_loadb() does (JSON_DECODE_ANY,
 *    JSON_REJECT_DUPLICATES, JSON_ALLOW_NUL), except a NUL byte right after
 *    a number or a literal outside strings (jansson skips it);
 *  - "method" is case-insensitive ("get" is GET); others are a 400;
 *  - "id", "method", "headers", "body" and "depends_on" given as null are
 *    the same as absent ("body":null is no body, allowed with GET);
 *  - "id" is 1 to 128 bytes; "depends_on" naming an id twice counts once;
 *  - an item's depth counts its own object: {"body":[]} is 2 deep;
 *  - the endpoint is ASCII only (non-ASCII must be percent-encoded and
 *    decode to valid UTF-8); in the path "%25" (double encoding) and
 *    "://" are refused too; a segment is a dot segment if it decodes to
 *    "." or ".." up to a ';' (so "/..;/" is one); "/x?" has no args;
 *  - header names are kept as given; a name given twice in different
 *    case is a 400; values may hold TAB but no other control character;
 *  - bodies are re-serialized compact; reals as the shortest text that
 *    reads back the same (integers beyond 64 bits are bad JSON);
 *  - a response body is embedded as JSON when "json" is set and it
 *    parses (no duplicate keys, at most 64 deep), re-serialized compact;
 *    otherwise it is a string, each byte of invalid UTF-8 replaced with
 *    U+FFFD, NUL as \u0000; an empty body is "";
 *  - response headers whose name is not an RFC 7230 token are left out;
 *    a name repeated (case-insensitive) is reported once, under its first
 *    spelling, the values joined with ", "; values that are not valid
 *    UTF-8 get the same U+FFFD replacement;
 *  - an allocation failure is a status 500 "out of memory".
 */


#ifndef _VELRO_BATCH_H_INCLUDED_
#define _VELRO_BATCH_H_INCLUDED_


#include <stddef.h>


#define VELRO_BATCH_GET     0
#define VELRO_BATCH_HEAD    1
#define VELRO_BATCH_POST    2
#define VELRO_BATCH_PUT     3
#define VELRO_BATCH_PATCH   4
#define VELRO_BATCH_DELETE  5

#define VELRO_BATCH_MAX_DEPTH  32     /* nesting of an item's JSON */

#define VELRO_BATCH_DEFAULT_MAX      20
#define VELRO_BATCH_MAX_ENDPOINT     2048
#define VELRO_BATCH_MAX_ID           128
#define VELRO_BATCH_MAX_HEADERS      32
#define VELRO_BATCH_MAX_HEADER_LEN   8192   /* name and value, each */


typedef struct {
    char          *name;          /* validated header name, NUL-terminated */
    char          *value;         /* validated value (no CR, LF, NUL) */
} velro_batch_header_t;


typedef struct {
    char                  *id;          /* NULL if the item has none */
    char                  *path;        /* endpoint up to '?', validated,
                                           starts with '/' */
    size_t                 path_len;
    char                  *args;        /* after '?', NULL if none */
    size_t                 args_len;
    int                    method;      /* VELRO_BATCH_x */
    velro_batch_header_t  *headers;
    size_t                 nheaders;
    char                  *body;        /* compact JSON text, NULL if none */
    size_t                 body_len;
    size_t                *deps;        /* indexes of items this one waits for */
    size_t                 ndeps;
} velro_batch_item_t;


typedef struct {
    velro_batch_item_t    *items;
    size_t                 nitems;
    /* error: */
    int                    status;      /* 0 ok, 400, 413 (500: no memory) */
    long                   error_item;  /* index, or -1 */
    char                   error[128];  /* static-ish text for the JSON error */
} velro_batch_t;


/* parses and validates everything (including the dependency graph: unknown
   and duplicate ids, cycles); returns 0, or 400/413 with b->error set.
   self is the batch endpoint's own path (items must not target it, after
   normalizing case-sensitively with percent-decoding of unreserved chars). */
int velro_batch_parse(velro_batch_t *b, const char *buf, size_t len,
    size_t max_items, const char *self, size_t self_len);
void velro_batch_free(velro_batch_t *b);

/* the JSON error body {"error":"...","item":N} (item omitted when -1) */
size_t velro_batch_error_json(const velro_batch_t *b, char *buf, size_t size);

/* one item's answer, as captured by the nginx side */
typedef struct {
    int                    status;      /* HTTP status; 424 for a skipped item */
    velro_batch_header_t  *headers;     /* response headers to report */
    size_t                 nheaders;
    const char            *body;
    size_t                 body_len;
    int                    json;        /* Content-Type was JSON */
    const char            *error;       /* set: status + {"error": error} body,
                                           e.g. "failed_dependency",
                                           "response_too_large" */
} velro_batch_result_t;

/* the answer array in request order; a JSON body that parses goes in as
   JSON, anything else as a string; returns malloc()ed text or NULL */
char *velro_batch_response(const velro_batch_t *b,
    const velro_batch_result_t *results, size_t *len);


/*
 * Additions.
 *
 * velro_batch_error_json() writes a NUL-terminated text and returns 0 if
 * it does not fit in size (256 bytes always do).  velro_batch_response()
 * returns NUL-terminated text (not counted in *len) to be freed with
 * free(); results has b->nitems entries.
 */

/* "GET", "HEAD", ... for a VELRO_BATCH_x value; "" for others */
const char *velro_batch_method_name(int method);

/* an RFC 7230 token (a header name): 1 or 0 */
int velro_batch_is_token(const char *s, size_t len);

/*
 * An order in which the items can run: out[] (b->nitems entries) lists
 * item indexes so that each item comes after all its dependencies.  Only
 * valid on a batch velro_batch_parse() accepted.  Returns 0 or -1.
 */
int velro_batch_order(const velro_batch_t *b, size_t *out);

/*
 * The lowest index of an item on a dependency cycle, -1 when there is
 * none, -2 when out of memory.  Dependencies must be in range (as
 * velro_batch_parse() leaves them, or it would have refused the batch).
 */
long velro_batch_cycle(const velro_batch_t *b);

#endif /* _VELRO_BATCH_H_INCLUDED_ */
