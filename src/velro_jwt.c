
/*
 * velro: JSON Web Token parsing and verification (RFC 7515, 7518, 7519,
 * 8037, 8725).
 */


#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "velro_jwt.h"


#define VELRO_JWT_STACK_JSON  2048
#define VELRO_JWT_HEADERS     8
#define VELRO_JWT_HEADER_MAX  256


/*
 * Tokens of one issuer share their header bytes: the parsed headers of the
 * last few distinct header segments are kept and shared by reference.
 * Read-only once parsed; one per process (nginx workers are one thread).
 */

typedef struct {
    size_t               len;
    json_t              *json;
    char                 b64[VELRO_JWT_HEADER_MAX];
} velro_jwt_header_t;


static velro_jwt_header_t  velro_jwt_headers[VELRO_JWT_HEADERS];
static unsigned            velro_jwt_headers_next;


static json_t *velro_jwt_json(const char *src, size_t len, int *rc);
static json_t *velro_jwt_header(const char *src, size_t len, int *rc);
static int velro_jwt_time(json_t *claims, const char *name, int64_t *t,
    int up);
static int velro_jwt_verify_key(velro_jwt_t *jwt, const velro_jwk_t *key);
static int velro_jwt_verify_hmac(velro_jwt_t *jwt, const velro_jwk_t *key);
static int velro_jwt_verify_pkey(velro_jwt_t *jwt, const velro_jwk_t *key,
    const EVP_MD *md, int pss, const unsigned char *sig, size_t sig_len);
static int velro_jwt_verify_ecdsa(velro_jwt_t *jwt, const velro_jwk_t *key,
    const EVP_MD *md, size_t size);


static const char  *velro_jwt_reasons[VELRO_JWT_NREASONS] = {
    "valid",
    "malformed",
    "too_large",
    "alg",
    "kid",
    "signature",
    "crit",
    "expired",
    "nbf",
    "iat",
    "iss",
    "aud",
    "claim",
    "internal"
};


static const char  *velro_jwt_descriptions[VELRO_JWT_NREASONS] = {
    "valid token",
    "malformed token",
    "token too large",
    "algorithm not accepted",
    "no key for this token",
    "invalid signature",
    "unsupported critical header",
    "token expired",
    "token not yet valid",
    "token issued in the future",
    "wrong issuer",
    "wrong audience",
    "required claim missing or invalid",
    "internal error"
};


static const signed char  velro_b64url[256] = {
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 62, -1, -1,
    52, 53, 54, 55, 56, 57, 58, 59, 60, 61, -1, -1, -1, -1, -1, -1,
    -1,  0,  1,  2,  3,  4,  5,  6,  7,  8,  9, 10, 11, 12, 13, 14,
    15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, -1, -1, -1, -1, 63,
    -1, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40,
    41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1
};


const char *
velro_jwt_reason(velro_jwt_rc_e rc)
{
    if ((unsigned) rc >= VELRO_JWT_NREASONS) {
        return "internal";
    }

    return velro_jwt_reasons[rc];
}


const char *
velro_jwt_description(velro_jwt_rc_e rc)
{
    if ((unsigned) rc >= VELRO_JWT_NREASONS) {
        return "internal error";
    }

    return velro_jwt_descriptions[rc];
}


long
velro_base64url_decode(unsigned char *dst, const char *src, size_t len)
{
    int             a, b, c, d;
    size_t          i;
    unsigned char  *p;
    const unsigned char  *s;

    if (len % 4 == 1) {
        return -1;
    }

    s = (const unsigned char *) src;
    p = dst;

    for (i = 0; i + 4 <= len; i += 4) {
        a = velro_b64url[s[i]];
        b = velro_b64url[s[i + 1]];
        c = velro_b64url[s[i + 2]];
        d = velro_b64url[s[i + 3]];

        if ((a | b | c | d) < 0) {
            return -1;
        }

        *p++ = (unsigned char) (a << 2 | b >> 4);
        *p++ = (unsigned char) (b << 4 | c >> 2);
        *p++ = (unsigned char) (c << 6 | d);
    }

    switch (len - i) {

    case 2:
        a = velro_b64url[s[i]];
        b = velro_b64url[s[i + 1]];

        /* the unused bits must be zero: one encoding per value */
        if ((a | b) < 0 || (b & 0x0f)) {
            return -1;
        }

        *p++ = (unsigned char) (a << 2 | b >> 4);
        break;

    case 3:
        a = velro_b64url[s[i]];
        b = velro_b64url[s[i + 1]];
        c = velro_b64url[s[i + 2]];

        if ((a | b | c) < 0 || (c & 0x03)) {
            return -1;
        }

        *p++ = (unsigned char) (a << 2 | b >> 4);
        *p++ = (unsigned char) (b << 4 | c >> 2);
        break;
    }

    return (long) (p - dst);
}


static json_t *
velro_jwt_json(const char *src, size_t len, int *rc)
{
    long            n;
    json_t         *json;
    unsigned char  *buf, stack[VELRO_JWT_STACK_JSON];

    if (len / 4 * 3 + 3 <= sizeof(stack)) {
        buf = stack;

    } else {
        buf = malloc(len / 4 * 3 + 3);
        if (buf == NULL) {
            *rc = VELRO_JWT_NOMEM;
            return NULL;
        }
    }

    json = NULL;
    *rc = VELRO_JWT_MALFORMED;

    n = velro_base64url_decode(buf, src, len);

    if (n > 0) {
        json = json_loadb((char *) buf, (size_t) n,
                          JSON_REJECT_DUPLICATES, NULL);

        if (json && !json_is_object(json)) {
            json_decref(json);
            json = NULL;
        }
    }

    if (buf != stack) {
        free(buf);
    }

    return json;
}


static json_t *
velro_jwt_header(const char *src, size_t len, int *rc)
{
    unsigned             i;
    json_t              *json;
    velro_jwt_header_t  *h;

    if (len > VELRO_JWT_HEADER_MAX) {
        return velro_jwt_json(src, len, rc);
    }

    for (i = 0; i < VELRO_JWT_HEADERS; i++) {
        h = &velro_jwt_headers[i];

        if (h->json && h->len == len && memcmp(h->b64, src, len) == 0) {
            return json_incref(h->json);
        }
    }

    json = velro_jwt_json(src, len, rc);

    if (json) {
        h = &velro_jwt_headers[velro_jwt_headers_next++ % VELRO_JWT_HEADERS];

        json_decref(h->json);
        h->json = json_incref(json);
        h->len = len;
        memcpy(h->b64, src, len);
    }

    return json;
}


void
velro_jwt_cleanup(void)
{
    unsigned  i;

    for (i = 0; i < VELRO_JWT_HEADERS; i++) {
        json_decref(velro_jwt_headers[i].json);
        velro_jwt_headers[i].json = NULL;
        velro_jwt_headers[i].len = 0;
    }
}


json_t *
velro_jwt_decode_segment(const char *token, size_t len, int segment)
{
    int          rc;
    const char  *p, *end, *dot;

    p = token;
    end = token + len;

    while (segment-- > 0) {
        dot = memchr(p, '.', (size_t) (end - p));
        if (dot == NULL) {
            return NULL;
        }

        p = dot + 1;
    }

    dot = memchr(p, '.', (size_t) (end - p));

    return velro_jwt_json(p, (size_t) ((dot ? dot : end) - p), &rc);
}


velro_jwt_rc_e
velro_jwt_parse(velro_jwt_t *jwt, const char *token, size_t len,
    size_t max_len)
{
    int          rc, alg;
    long         n;
    json_t      *v;
    size_t       ndots;
    const char  *p, *end, *d1, *d2, *s;

    memset(jwt, 0, sizeof(velro_jwt_t));

    jwt->token = token;
    jwt->len = len;
    jwt->alg = -1;
    jwt->nbf = INT64_MIN;
    jwt->iat = INT64_MIN;

    if (len > max_len) {
        jwt->error = "token longer than the limit";
        return VELRO_JWT_TOO_LARGE;
    }

    end = token + len;
    d1 = NULL;
    d2 = NULL;
    ndots = 0;

    for (p = token; p < end; p++) {
        if (*p == '.') {
            if (ndots == 0) {
                d1 = p;

            } else if (ndots == 1) {
                d2 = p;
            }

            ndots++;

        } else if (velro_b64url[(unsigned char) *p] < 0) {
            jwt->error = "character outside base64url";
            return VELRO_JWT_MALFORMED;
        }
    }

    if (ndots != 2) {
        jwt->error = (ndots == 4) ? "encrypted tokens (JWE) are not accepted"
                                  : "not three segments";
        return VELRO_JWT_MALFORMED;
    }

    jwt->signing_len = (size_t) (d2 - token);

    jwt->header = velro_jwt_header(token, (size_t) (d1 - token), &rc);
    if (jwt->header == NULL) {
        jwt->error = "header is not base64url JSON object";
        return rc;
    }

    v = json_object_get(jwt->header, "alg");
    s = json_string_value(v);

    if (s == NULL) {
        jwt->error = "no \"alg\" in header";
        return VELRO_JWT_MALFORMED;
    }

    if (strcasecmp(s, "none") == 0) {
        jwt->error = "\"alg\":\"none\"";
        return VELRO_JWT_ALG;
    }

    alg = velro_alg_parse(s, json_string_length(v));
    if (alg < 0) {
        jwt->error = "unknown \"alg\"";
        return VELRO_JWT_ALG;
    }

    jwt->alg = alg;

    if (json_object_get(jwt->header, "crit") != NULL) {
        jwt->error = "\"crit\" names an extension not understood";
        return VELRO_JWT_CRIT;
    }

    v = json_object_get(jwt->header, "kid");
    if (v) {
        jwt->kid = json_string_value(v);

        if (jwt->kid == NULL || strlen(jwt->kid) != json_string_length(v)) {
            jwt->error = "\"kid\" is not a string";
            return VELRO_JWT_MALFORMED;
        }
    }

    jwt->claims = velro_jwt_json(d1 + 1, (size_t) (d2 - d1 - 1), &rc);
    if (jwt->claims == NULL) {
        jwt->error = "payload is not base64url JSON object";
        return rc;
    }

    v = json_object_get(jwt->claims, "sub");
    if (v) {
        jwt->sub = json_string_value(v);

        if (jwt->sub == NULL || jwt->sub[0] == '\0'
            || strlen(jwt->sub) != json_string_length(v))
        {
            jwt->error = "\"sub\" is not a non-empty string";
            return VELRO_JWT_CLAIM;
        }
    }

    if (velro_jwt_time(jwt->claims, "exp", &jwt->exp, 0) != 0) {
        jwt->error = "\"exp\" missing or not a number";
        return VELRO_JWT_CLAIM;
    }

    if (json_object_get(jwt->claims, "nbf")
        && velro_jwt_time(jwt->claims, "nbf", &jwt->nbf, 1) != 0)
    {
        jwt->error = "\"nbf\" is not a number";
        return VELRO_JWT_CLAIM;
    }

    if (json_object_get(jwt->claims, "iat")
        && velro_jwt_time(jwt->claims, "iat", &jwt->iat, 1) != 0)
    {
        jwt->error = "\"iat\" is not a number";
        return VELRO_JWT_CLAIM;
    }

    if (d2 + 1 == end) {
        jwt->error = "empty signature";
        return VELRO_JWT_SIGNATURE;
    }

    jwt->sig = malloc((size_t) (end - d2) / 4 * 3 + 3);
    if (jwt->sig == NULL) {
        return VELRO_JWT_NOMEM;
    }

    n = velro_base64url_decode(jwt->sig, d2 + 1, (size_t) (end - d2 - 1));
    if (n <= 0) {
        jwt->error = "signature is not base64url";
        return VELRO_JWT_MALFORMED;
    }

    jwt->sig_len = (size_t) n;

    return VELRO_JWT_OK;
}


/*
 * A NumericDate; a fraction is rounded to the strict side: down for exp,
 * up (up != 0) for nbf and iat.
 */

static int
velro_jwt_time(json_t *claims, const char *name, int64_t *t, int up)
{
    double   d;
    json_t  *v;

    v = json_object_get(claims, name);

    if (json_is_integer(v)) {
        *t = json_integer_value(v);
        return 0;
    }

    if (json_is_real(v)) {
        d = json_real_value(v);

        if (!isfinite(d) || d < -9.2e18 || d > 9.2e18) {
            return -1;
        }

        *t = (int64_t) (up ? ceil(d) : floor(d));
        return 0;
    }

    return -1;
}


velro_jwt_rc_e
velro_jwt_verify(velro_jwt_t *jwt, const velro_jwt_policy_t *policy,
    const velro_keyset_t *keys)
{
    int                 kty, kid_found, tried;
    size_t              i;
    const velro_jwk_t  *k;

    if (jwt->alg < 0 || !(policy->algs & (1u << jwt->alg))) {
        jwt->error = "algorithm not on the allow-list";
        return VELRO_JWT_ALG;
    }

    kty = velro_alg_kty(jwt->alg);
    kid_found = 0;
    tried = 0;

    for (i = 0; keys && i < keys->nkeys; i++) {
        k = &keys->keys[i];

        if (jwt->kid) {
            if (k->kid == NULL || strcmp(k->kid, jwt->kid) != 0) {
                continue;
            }

            kid_found = 1;
        }

        /* a key is only ever used with the algorithms of its own type */

        if (k->kty != kty || (k->alg >= 0 && k->alg != jwt->alg)) {
            continue;
        }

        tried++;

        switch (velro_jwt_verify_key(jwt, k)) {
        case 1:
            return VELRO_JWT_OK;
        case -1:
            return VELRO_JWT_NOMEM;
        }
    }

    if (tried) {
        jwt->error = "signature does not verify";
        return VELRO_JWT_SIGNATURE;
    }

    if (kid_found) {
        jwt->error = "the key with this kid is for another algorithm";
        return VELRO_JWT_ALG;
    }

    jwt->error = jwt->kid ? "unknown kid" : "no key for the algorithm";
    return VELRO_JWT_KID;
}


/* 1: verified, 0: not, -1: error */

static int
velro_jwt_verify_key(velro_jwt_t *jwt, const velro_jwk_t *key)
{
    const EVP_MD  *md;

    md = velro_alg_md(jwt->alg);

    switch (jwt->alg) {

    case VELRO_ALG_HS256:
    case VELRO_ALG_HS384:
    case VELRO_ALG_HS512:
        return velro_jwt_verify_hmac(jwt, key);

    case VELRO_ALG_RS256:
    case VELRO_ALG_RS384:
    case VELRO_ALG_RS512:
        return velro_jwt_verify_pkey(jwt, key, md, 0, jwt->sig,
                                     jwt->sig_len);

    case VELRO_ALG_PS256:
    case VELRO_ALG_PS384:
    case VELRO_ALG_PS512:
        return velro_jwt_verify_pkey(jwt, key, md, 1, jwt->sig,
                                     jwt->sig_len);

    case VELRO_ALG_ES256:
        return velro_jwt_verify_ecdsa(jwt, key, md, 32);

    case VELRO_ALG_ES384:
        return velro_jwt_verify_ecdsa(jwt, key, md, 48);

    case VELRO_ALG_EDDSA:
        return velro_jwt_verify_pkey(jwt, key, NULL, 0, jwt->sig,
                                     jwt->sig_len);
    }

    return 0;
}


const EVP_MD *
velro_alg_md(int alg)
{
    switch (alg) {

    case VELRO_ALG_HS256:
    case VELRO_ALG_RS256:
    case VELRO_ALG_PS256:
    case VELRO_ALG_ES256:
        return EVP_sha256();

    case VELRO_ALG_HS384:
    case VELRO_ALG_RS384:
    case VELRO_ALG_PS384:
    case VELRO_ALG_ES384:
        return EVP_sha384();

    case VELRO_ALG_HS512:
    case VELRO_ALG_RS512:
    case VELRO_ALG_PS512:
        return EVP_sha512();
    }

    return NULL;
}


static int
velro_jwt_verify_hmac(velro_jwt_t *jwt, const velro_jwk_t *key)
{
    size_t          len;
    EVP_MAC_CTX    *ctx;
    unsigned char   mac[EVP_MAX_MD_SIZE];

    /* NULL: the secret is shorter than this hash (RFC 7518 3.2) */

    ctx = key->hmac[jwt->alg - VELRO_ALG_HS256];
    if (ctx == NULL) {
        return 0;
    }

    /* a NULL key re-initialises the context with the key it holds */

    if (EVP_MAC_init(ctx, NULL, 0, NULL) != 1
        || EVP_MAC_update(ctx, (const unsigned char *) jwt->token,
                          jwt->signing_len) != 1
        || EVP_MAC_final(ctx, mac, &len, sizeof(mac)) != 1)
    {
        return -1;
    }

    return len == jwt->sig_len && CRYPTO_memcmp(mac, jwt->sig, len) == 0;
}


static int
velro_jwt_verify_pkey(velro_jwt_t *jwt, const velro_jwk_t *key,
    const EVP_MD *md, int pss, const unsigned char *sig, size_t sig_len)
{
    int            rc;
    EVP_MD_CTX    *ctx;
    EVP_PKEY_CTX  *pctx;

    ctx = EVP_MD_CTX_new();
    if (ctx == NULL) {
        return -1;
    }

    rc = 0;

    if (EVP_DigestVerifyInit(ctx, &pctx, md, NULL, key->pkey) != 1) {
        goto done;
    }

    if (pss
        && (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1
            || EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST)
               != 1))
    {
        goto done;
    }

    rc = EVP_DigestVerify(ctx, sig, sig_len,
                          (const unsigned char *) jwt->token,
                          jwt->signing_len) == 1;

done:

    EVP_MD_CTX_free(ctx);

    return rc;
}


static int
velro_jwt_verify_ecdsa(velro_jwt_t *jwt, const velro_jwk_t *key,
    const EVP_MD *md, size_t size)
{
    int             rc, len;
    BIGNUM         *r, *s;
    ECDSA_SIG      *esig;
    unsigned char  *der, *p;

    /* JWS carries R || S, each exactly the curve size (RFC 7518 3.4) */

    if (jwt->sig_len != 2 * size) {
        return 0;
    }

    esig = ECDSA_SIG_new();
    r = BN_bin2bn(jwt->sig, (int) size, NULL);
    s = BN_bin2bn(jwt->sig + size, (int) size, NULL);

    if (esig == NULL || r == NULL || s == NULL
        || ECDSA_SIG_set0(esig, r, s) != 1)
    {
        ECDSA_SIG_free(esig);
        BN_free(r);
        BN_free(s);
        return -1;
    }

    der = NULL;
    len = i2d_ECDSA_SIG(esig, NULL);

    if (len <= 0 || (der = malloc((size_t) len)) == NULL) {
        ECDSA_SIG_free(esig);
        return -1;
    }

    p = der;
    len = i2d_ECDSA_SIG(esig, &p);
    ECDSA_SIG_free(esig);

    rc = velro_jwt_verify_pkey(jwt, key, md, 0, der, (size_t) len);

    free(der);

    return rc;
}


velro_jwt_rc_e
velro_jwt_check_claims(velro_jwt_t *jwt, const velro_jwt_policy_t *policy,
    time_t now)
{
    int          match;
    size_t       i, j;
    json_t      *aud, *v;
    const char  *iss, *s;

    /* "exp" may be any int64: "exp + leeway" could overflow */

    if ((int64_t) now - policy->leeway >= jwt->exp) {
        jwt->error = "now is past \"exp\"";
        return VELRO_JWT_EXPIRED;
    }

    if (jwt->nbf != INT64_MIN && (int64_t) now + policy->leeway < jwt->nbf) {
        jwt->error = "now is before \"nbf\"";
        return VELRO_JWT_NBF;
    }

    if (jwt->iat != INT64_MIN && jwt->iat > (int64_t) now + policy->leeway) {
        jwt->error = "\"iat\" is in the future";
        return VELRO_JWT_IAT;
    }

    if (policy->issuer) {
        iss = json_string_value(json_object_get(jwt->claims, "iss"));

        if (iss == NULL || strcmp(iss, policy->issuer) != 0) {
            jwt->error = "\"iss\" is not the required issuer";
            return VELRO_JWT_ISS;
        }
    }

    if (policy->naudiences) {
        aud = json_object_get(jwt->claims, "aud");
        match = 0;

        if (json_is_string(aud)) {
            s = json_string_value(aud);

            for (j = 0; j < policy->naudiences; j++) {
                if (strcmp(s, policy->audiences[j]) == 0) {
                    match = 1;
                }
            }

        } else if (json_is_array(aud)) {
            for (i = 0; i < json_array_size(aud); i++) {
                s = json_string_value(json_array_get(aud, i));
                if (s == NULL) {
                    continue;
                }

                for (j = 0; j < policy->naudiences; j++) {
                    if (strcmp(s, policy->audiences[j]) == 0) {
                        match = 1;
                    }
                }
            }
        }

        if (!match) {
            jwt->error = "no accepted audience in \"aud\"";
            return VELRO_JWT_AUD;
        }
    }

    for (i = 0; i < policy->nrequired; i++) {
        v = json_object_get(jwt->claims, policy->required[i]);

        if (v == NULL || json_is_null(v)) {
            jwt->error = "a required claim is missing";
            return VELRO_JWT_CLAIM;
        }
    }

    return VELRO_JWT_OK;
}


void
velro_jwt_free(velro_jwt_t *jwt)
{
    json_decref(jwt->header);
    json_decref(jwt->claims);
    free(jwt->sig);

    jwt->header = NULL;
    jwt->claims = NULL;
    jwt->sig = NULL;
}
