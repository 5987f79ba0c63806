
/*
 * velro unit tests: shared helpers.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "util.h"


static EVP_PKEY *ut_load_private(const char *name);
static unsigned char *ut_sign(int alg, const ut_key_t *key,
    const unsigned char *data, size_t len, size_t *sig_len);
static void ut_fatal(const char *what) __attribute__((noreturn));


ut_keys_t  ut;


static void
ut_fatal(const char *what)
{
    fprintf(stderr, "velro_unit: %s\n", what);
    ERR_print_errors_fp(stderr);
    printf("Bail out! %s\n", what);
    exit(255);
}


char *
ut_read_key_file(const char *name, size_t *len)
{
    long         n;
    char        *buf, path[4096];
    FILE        *f;
    const char  *dir;

    dir = getenv("VELRO_KEYS_DIR");
    if (dir == NULL || dir[0] == '\0') {
        dir = "t/keys";
    }

    snprintf(path, sizeof(path), "%s/%s", dir, name);

    f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "velro_unit: cannot open %s "
                "(run from the repository root or set VELRO_KEYS_DIR)\n",
                path);
        ut_fatal("key file missing");
    }

    if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0
        || fseek(f, 0, SEEK_SET) != 0)
    {
        ut_fatal("cannot size a key file");
    }

    buf = malloc((size_t) n + 1);
    if (buf == NULL || fread(buf, 1, (size_t) n, f) != (size_t) n) {
        ut_fatal("cannot read a key file");
    }

    fclose(f);

    buf[n] = '\0';

    if (len) {
        *len = (size_t) n;
    }

    return buf;
}


static EVP_PKEY *
ut_load_private(const char *name)
{
    BIO       *bio;
    char      *pem;
    size_t     len;
    EVP_PKEY  *pkey;

    pem = ut_read_key_file(name, &len);

    bio = BIO_new_mem_buf(pem, (int) len);
    pkey = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;

    BIO_free(bio);
    free(pem);

    if (pkey == NULL) {
        ut_fatal(name);
    }

    return pkey;
}


void
ut_init(void)
{
    int     rc;
    char    err[256], *text;
    size_t  len;

    ut.rsa = ut_load_private("rsa.key");
    ut.rsa2 = ut_load_private("rsa2.key");
    ut.ec256 = ut_load_private("ec256.key");
    ut.ec384 = ut_load_private("ec384.key");
    ut.ed25519 = ut_load_private("ed25519.key");

    ut.hs = (unsigned char *) ut_read_key_file("hs.secret", &ut.hs_len);

    text = ut_read_key_file("jwks.json", &len);

    ut.jwks = velro_keyset_new();
    rc = velro_keyset_add_text(ut.jwks, text, len, err, sizeof(err));
    free(text);

    if (rc != 5) {
        ut_fatal("t/keys/jwks.json does not load 5 keys");
    }
}


void
ut_cleanup(void)
{
    EVP_PKEY_free(ut.rsa);
    EVP_PKEY_free(ut.rsa2);
    EVP_PKEY_free(ut.ec256);
    EVP_PKEY_free(ut.ec384);
    EVP_PKEY_free(ut.ed25519);
    free(ut.hs);
    velro_keyset_free(ut.jwks);

    memset(&ut, 0, sizeof(ut_keys_t));
}


char *
ut_b64url(const void *data, size_t len)
{
    size_t                i;
    uint32_t              v;
    char                 *dst, *p;
    const unsigned char  *s;
    static const char     alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

    s = data;
    dst = malloc(len / 3 * 4 + 5);
    if (dst == NULL) {
        ut_fatal("out of memory");
    }

    p = dst;

    for (i = 0; i + 3 <= len; i += 3) {
        v = (uint32_t) s[i] << 16 | (uint32_t) s[i + 1] << 8 | s[i + 2];
        *p++ = alphabet[v >> 18 & 63];
        *p++ = alphabet[v >> 12 & 63];
        *p++ = alphabet[v >> 6 & 63];
        *p++ = alphabet[v & 63];
    }

    if (len - i == 1) {
        v = (uint32_t) s[i] << 16;
        *p++ = alphabet[v >> 18 & 63];
        *p++ = alphabet[v >> 12 & 63];

    } else if (len - i == 2) {
        v = (uint32_t) s[i] << 16 | (uint32_t) s[i + 1] << 8;
        *p++ = alphabet[v >> 18 & 63];
        *p++ = alphabet[v >> 12 & 63];
        *p++ = alphabet[v >> 6 & 63];
    }

    *p = '\0';

    return dst;
}



static unsigned char *
ut_sign(int alg, const ut_key_t *key, const unsigned char *data, size_t len,
    size_t *sig_len)
{
    int                   n;
    size_t                size;
    const BIGNUM         *r, *s;
    ECDSA_SIG            *esig;
    EVP_MD_CTX           *ctx;
    EVP_PKEY_CTX         *pctx;
    unsigned char        *sig, *raw;
    unsigned int          mac_len;
    const unsigned char  *p;

    if (alg <= VELRO_ALG_HS512) {
        sig = malloc(EVP_MAX_MD_SIZE);

        if (sig == NULL
            || HMAC(velro_alg_md(alg), key->secret, (int) key->secret_len, data, len,
                    sig, &mac_len) == NULL)
        {
            ut_fatal("HMAC");
        }

        *sig_len = mac_len;
        return sig;
    }

    ctx = EVP_MD_CTX_new();

    if (ctx == NULL
        || EVP_DigestSignInit(ctx, &pctx, velro_alg_md(alg), NULL,
                              key->pkey) != 1)
    {
        ut_fatal("EVP_DigestSignInit");
    }

    if (alg >= VELRO_ALG_PS256 && alg <= VELRO_ALG_PS512
        && (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1
            || EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST)
               != 1))
    {
        ut_fatal("PSS");
    }

    if (EVP_DigestSign(ctx, NULL, sig_len, data, len) != 1
        || (sig = malloc(*sig_len)) == NULL
        || EVP_DigestSign(ctx, sig, sig_len, data, len) != 1)
    {
        ut_fatal("EVP_DigestSign");
    }

    EVP_MD_CTX_free(ctx);

    if ((alg != VELRO_ALG_ES256 && alg != VELRO_ALG_ES384) || key->der) {
        return sig;
    }

    /* JWS wants R || S, each the curve size */

    size = (alg == VELRO_ALG_ES256) ? 32 : 48;

    p = sig;
    esig = d2i_ECDSA_SIG(NULL, &p, (long) *sig_len);
    raw = malloc(2 * size);

    if (esig == NULL || raw == NULL) {
        ut_fatal("d2i_ECDSA_SIG");
    }

    ECDSA_SIG_get0(esig, &r, &s);

    n = BN_bn2binpad(r, raw, (int) size);
    n += BN_bn2binpad(s, raw + size, (int) size);

    if (n != (int) (2 * size)) {
        ut_fatal("BN_bn2binpad");
    }

    ECDSA_SIG_free(esig);
    free(sig);

    *sig_len = 2 * size;

    return raw;
}


char *
ut_token(int alg, const ut_key_t *key, const char *header,
    const char *payload)
{
    char           *h, *p, *s, *token;
    size_t          len, sig_len;
    unsigned char  *sig;

    h = ut_b64url(header, strlen(header));
    p = ut_b64url(payload, strlen(payload));

    len = strlen(h) + strlen(p) + 1;

    token = malloc(len + 1);
    if (token == NULL) {
        ut_fatal("out of memory");
    }

    snprintf(token, len + 1, "%s.%s", h, p);

    sig = ut_sign(alg, key, (unsigned char *) token, len, &sig_len);
    s = ut_b64url(sig, sig_len);

    free(token);
    token = ut_token_unsigned(header, strlen(header), payload,
                              strlen(payload), s);

    free(h);
    free(p);
    free(s);
    free(sig);

    return token;
}


char *
ut_token_unsigned(const char *header, size_t hlen, const char *payload,
    size_t plen, const char *sig)
{
    char    *h, *p, *token;
    size_t   len;

    h = ut_b64url(header, hlen);
    p = ut_b64url(payload, plen);

    len = strlen(h) + strlen(p) + strlen(sig) + 3;

    token = malloc(len);
    if (token == NULL) {
        ut_fatal("out of memory");
    }

    snprintf(token, len, "%s.%s.%s", h, p, sig);

    free(h);
    free(p);

    return token;
}


ut_key_t
ut_key_for(int alg)
{
    ut_key_t  key;

    memset(&key, 0, sizeof(ut_key_t));

    switch (alg) {

    case VELRO_ALG_HS256:
    case VELRO_ALG_HS384:
    case VELRO_ALG_HS512:
        key.secret = ut.hs;
        key.secret_len = ut.hs_len;
        break;

    case VELRO_ALG_ES256:
        key.pkey = ut.ec256;
        break;

    case VELRO_ALG_ES384:
        key.pkey = ut.ec384;
        break;

    case VELRO_ALG_EDDSA:
        key.pkey = ut.ed25519;
        break;

    default:
        key.pkey = ut.rsa;
    }

    return key;
}


const char *
ut_kid_for(int alg)
{
    switch (velro_alg_kty(alg)) {

    case VELRO_KTY_OCT:
        return "hs1";

    case VELRO_KTY_EC256:
        return "ec256";

    case VELRO_KTY_EC384:
        return "ec384";

    case VELRO_KTY_ED25519:
        return "ed1";

    default:
        return "rsa1";
    }
}


unsigned char *
ut_token_sig(const char *token, size_t *len)
{
    long            n;
    const char     *dot;
    unsigned char  *sig;

    dot = strrchr(token, '.');
    sig = malloc(strlen(dot + 1) / 4 * 3 + 3);

    if (sig == NULL) {
        ut_fatal("out of memory");
    }

    n = velro_base64url_decode(sig, dot + 1, strlen(dot + 1));
    if (n < 0) {
        ut_fatal("ut_token_sig");
    }

    *len = (size_t) n;

    return sig;
}


char *
ut_token_set_sig(const char *token, const unsigned char *sig, size_t len)
{
    char    *s, *t;
    size_t   n, size;

    n = (size_t) (strrchr(token, '.') - token) + 1;
    s = ut_b64url(sig, len);
    size = n + strlen(s) + 1;

    t = malloc(size);
    if (t == NULL) {
        ut_fatal("out of memory");
    }

    memcpy(t, token, n);
    memcpy(t + n, s, strlen(s) + 1);

    free(s);

    return t;
}


void
ut_policy(velro_jwt_policy_t *policy)
{
    memset(policy, 0, sizeof(velro_jwt_policy_t));

    policy->algs = (1u << VELRO_ALG_COUNT) - 1;
    policy->max_len = 16384;
}


velro_jwt_rc_e
ut_check(const char *token, size_t len, const velro_jwt_policy_t *policy,
    const velro_keyset_t *keys, time_t now)
{
    velro_jwt_t     jwt;
    velro_jwt_rc_e  rc;

    rc = velro_jwt_parse(&jwt, token, len, policy->max_len);

    if (rc == VELRO_JWT_OK) {
        rc = velro_jwt_verify(&jwt, policy, keys);
    }

    if (rc == VELRO_JWT_OK) {
        rc = velro_jwt_check_claims(&jwt, policy, now);
    }

    if (rc != VELRO_JWT_OK && jwt.error == NULL) {
        diag("no error detail for %s", velro_jwt_reason(rc));
        rc = VELRO_JWT_NREASONS;
    }

    velro_jwt_free(&jwt);

    return rc;
}


velro_keyset_t *
ut_keyset(const char *text, int *rc, char *err, size_t errlen)
{
    velro_keyset_t  *ks;

    ks = velro_keyset_new();
    if (ks == NULL) {
        ut_fatal("out of memory");
    }

    err[0] = '\0';
    *rc = velro_keyset_add_text(ks, text, strlen(text), err, errlen);

    return ks;
}


char *
ut_nested(size_t n, const char *inner)
{
    char    *s;
    size_t   len;

    len = strlen(inner);

    s = malloc(2 * n + len + 1);
    if (s == NULL) {
        ut_fatal("out of memory");
    }

    memset(s, '[', n);
    memcpy(s + n, inner, len);
    memset(s + n + len, ']', n);
    s[2 * n + len] = '\0';

    return s;
}
