
/*
 * velro: JSON, pure C: the writer (compact JSON into a growing buffer).
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "velro_json.h"


void
velro_json_buf_add(velro_json_buf_t *buf, const void *p, size_t n)
{
    char    *data;
    size_t   size;

    if (buf->failed) {
        return;
    }

    if (buf->size - buf->len < n) {
        size = buf->size ? buf->size : 256;

        while (size - buf->len < n) {
            if (size > ((size_t) -1) / 2) {
                buf->failed = 1;
                return;
            }

            size *= 2;
        }

        data = realloc(buf->data, size);
        if (data == NULL) {
            buf->failed = 1;
            return;
        }

        buf->data = data;
        buf->size = size;
    }

    memcpy(buf->data + buf->len, p, n);
    buf->len += n;
}


void
velro_json_buf_str(velro_json_buf_t *buf, const char *s)
{
    velro_json_buf_add(buf, s, strlen(s));
}


void
velro_json_write_string(velro_json_buf_t *buf, const char *s, size_t len)
{
    velro_json_buf_add(buf, "\"", 1);
    velro_json_write_chars(buf, s, len);
    velro_json_buf_add(buf, "\"", 1);
}


/* each byte of invalid UTF-8 is U+FFFD */

void
velro_json_write_chars(velro_json_buf_t *buf, const char *s, size_t len)
{
    char                  esc[8];
    size_t                i, u, run;
    unsigned char         c;
    const unsigned char  *p;

    static const char     hex[] = "0123456789abcdef";

    p = (const unsigned char *) s;

    i = 0;

    while (i < len) {

        /* a run of bytes that go as they are */

        for (run = i; run < len; run += u) {
            c = p[run];

            if (c < 0x80) {
                if (c < 0x20 || c == '"' || c == '\\') {
                    break;
                }

                u = 1;
                continue;
            }

            u = velro_json_utf8_len(&p[run], len - run);
            if (u == 0) {
                break;
            }
        }

        velro_json_buf_add(buf, &p[i], run - i);
        i = run;

        if (i == len) {
            break;
        }

        c = p[i];

        switch (c) {

        case '"':
            velro_json_buf_add(buf, "\\\"", 2);
            break;

        case '\\':
            velro_json_buf_add(buf, "\\\\", 2);
            break;

        case '\n':
            velro_json_buf_add(buf, "\\n", 2);
            break;

        case '\r':
            velro_json_buf_add(buf, "\\r", 2);
            break;

        case '\t':
            velro_json_buf_add(buf, "\\t", 2);
            break;

        default:

            if (c < 0x20) {
                memcpy(esc, "\\u00", 4);
                esc[4] = hex[c >> 4];
                esc[5] = hex[c & 0xf];
                velro_json_buf_add(buf, esc, 6);

            } else {
                velro_json_buf_add(buf, "\xef\xbf\xbd", 3);
            }
        }

        i++;
    }
}


void
velro_json_write_integer(velro_json_buf_t *buf, long long n)
{
    char  tmp[32];

    snprintf(tmp, sizeof(tmp), "%lld", n);
    velro_json_buf_str(buf, tmp);
}


/*
 * The fewest significant digits that read back as d, written as
 * JavaScript does: fixed notation for exponents -6 to 20 (".0" added when
 * there is no fraction, so that a real stays a real), else 1.5e-7 style.
 */

void
velro_json_write_real(velro_json_buf_t *buf, double d)
{
    int     p, x, n, dec;
    char    tmp[400], *e, *q;

    for (p = 1; p < 17; p++) {
        snprintf(tmp, sizeof(tmp), "%.*e", p - 1, d);

        if (strtod(tmp, NULL) == d) {
            break;
        }
    }

    n = snprintf(tmp, sizeof(tmp), "%.*e", p - 1, d);

    e = strchr(tmp, 'e');

    if (n <= 0 || (size_t) n >= sizeof(tmp) || e == NULL) {
        buf->failed = 1;
        return;
    }

    x = atoi(e + 1);

    if (x >= -6 && x < 21) {
        dec = p - 1 - x;
        n = snprintf(tmp, sizeof(tmp), "%.*f", dec > 0 ? dec : 0, d);

        if (n <= 0 || (size_t) n >= sizeof(tmp) - 2) {
            buf->failed = 1;
            return;
        }

        if (strchr(tmp, '.') == NULL) {
            memcpy(tmp + n, ".0", 3);
        }

        velro_json_buf_str(buf, tmp);
        return;
    }

    /* "1.5e-07" is "1.5e-7" */

    q = e + 2;

    while (*q == '0' && q[1] != '\0') {
        q++;
    }

    memmove(e + 2, q, strlen(q) + 1);

    velro_json_buf_str(buf, tmp);
}


void
velro_json_write(velro_json_buf_t *buf, const velro_json_t *j)
{
    int            object;
    velro_json_t  *v;

    switch (j->type) {

    case VELRO_JSON_OBJECT:
    case VELRO_JSON_ARRAY:
        object = (j->type == VELRO_JSON_OBJECT);

        velro_json_buf_add(buf, object ? "{" : "[", 1);

        for (v = j->u.child; v; v = v->next) {
            if (v != j->u.child) {
                velro_json_buf_add(buf, ",", 1);
            }

            if (object) {
                velro_json_write_string(buf, v->key, v->klen);
                velro_json_buf_add(buf, ":", 1);
            }

            velro_json_write(buf, v);
        }

        velro_json_buf_add(buf, object ? "}" : "]", 1);
        break;

    case VELRO_JSON_STRING:
        velro_json_write_string(buf, j->u.str, j->len);
        break;

    case VELRO_JSON_INTEGER:
        velro_json_write_integer(buf, j->u.integer);
        break;

    case VELRO_JSON_REAL:
        velro_json_write_real(buf, j->u.real);
        break;

    case VELRO_JSON_TRUE:
        velro_json_buf_add(buf, "true", 4);
        break;

    case VELRO_JSON_FALSE:
        velro_json_buf_add(buf, "false", 5);
        break;

    default:
        velro_json_buf_add(buf, "null", 4);
    }
}
