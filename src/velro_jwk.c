
/*
 * velro: key sets (RFC 7517 JWKS and PEM public keys).
 */


#ifndef _GNU_SOURCE
#define _GNU_SOURCE                   /* memmem() */
#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "velro_jwk.h"
#include "velro_jwt.h"


#define VELRO_JWK_MAX_KEYS     64
#define VELRO_JWK_MAX_FIELD    2048         /* base64url chars: RSA 8192 bits */
#define VELRO_RSA_MIN_BITS     2048


static const char  *velro_alg_names[VELRO_ALG_COUNT] = {
    "HS256", "HS384", "HS512",
    "RS256", "RS384", "RS512",
    "PS256", "PS384", "PS512",
    "ES256", "ES384",
    "EdDSA"
};


static int velro_jwk_add(velro_keyset_t *ks, json_t *jwk, char *err,
    size_t errlen);
static unsigned char *velro_jwk_field(json_t *jwk, const char *name,
    size_t *len, char *err, size_t errlen);
static EVP_PKEY *velro_jwk_rsa(json_t *jwk, char *err, size_t errlen);
static EVP_PKEY *velro_jwk_ec(json_t *jwk, const char *crv, size_t size,
    char *err, size_t errlen);
static EVP_PKEY *velro_jwk_okp(json_t *jwk, char *err, size_t errlen);
static int velro_jwk_hmac_init(velro_jwk_t *key, char *err, size_t errlen);
static void velro_jwk_clear(velro_jwk_t *key);
static int velro_keyset_push(velro_keyset_t *ks, velro_jwk_t *key,
    char *err, size_t errlen);
static int velro_pkey_kty(EVP_PKEY *pkey, char *err, size_t errlen);
static int velro_pem_no_password(char *buf, int size, int rwflag, void *data);


int
velro_alg_parse(const char *name, size_t len)
{
    int  i;

    for (i = 0; i < VELRO_ALG_COUNT; i++) {
        if (strlen(velro_alg_names[i]) == len
            && memcmp(velro_alg_names[i], name, len) == 0)
        {
            return i;
        }
    }

    return -1;
}


const char *
velro_alg_name(int alg)
{
    if (alg < 0 || alg >= VELRO_ALG_COUNT) {
        return "unknown";
    }

    return velro_alg_names[alg];
}


int
velro_alg_kty(int alg)
{
    switch (alg) {

    case VELRO_ALG_HS256:
    case VELRO_ALG_HS384:
    case VELRO_ALG_HS512:
        return VELRO_KTY_OCT;

    case VELRO_ALG_ES256:
        return VELRO_KTY_EC256;

    case VELRO_ALG_ES384:
        return VELRO_KTY_EC384;

    case VELRO_ALG_EDDSA:
        return VELRO_KTY_ED25519;

    default:
        return VELRO_KTY_RSA;
    }
}


velro_keyset_t *
velro_keyset_new(void)
{
    return calloc(1, sizeof(velro_keyset_t));
}


void
velro_keyset_free(velro_keyset_t *ks)
{
    size_t  i;

    if (ks == NULL) {
        return;
    }

    for (i = 0; i < ks->nkeys; i++) {
        velro_jwk_clear(&ks->keys[i]);
    }

    free(ks->keys);
    free(ks);
}


int
velro_keyset_add_text(velro_keyset_t *ks, const char *text, size_t len,
    char *err, size_t errlen)
{
    size_t  i;

    for (i = 0; i < len; i++) {
        if (text[i] != ' ' && text[i] != '\t' && text[i] != '\r'
            && text[i] != '\n')
        {
            break;
        }
    }

    if (i < len && text[i] == '{') {
        return velro_keyset_add_jwks(ks, text, len, err, errlen);
    }

    return velro_keyset_add_pem(ks, text, len, err, errlen);
}


int
velro_keyset_add_jwks(velro_keyset_t *ks, const char *json, size_t len,
    char *err, size_t errlen)
{
    int           n, rc;
    size_t        i;
    json_t       *root, *keys;
    json_error_t  jerr;

    root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        snprintf(err, errlen, "invalid JSON at line %d: %s",
                 jerr.line, jerr.text);
        return -1;
    }

    if (!json_is_object(root)) {
        snprintf(err, errlen, "JWKS is not a JSON object");
        json_decref(root);
        return -1;
    }

    keys = json_object_get(root, "keys");

    if (keys == NULL) {
        /* a single JWK */
        rc = velro_jwk_add(ks, root, err, errlen);
        json_decref(root);
        return rc;
    }

    if (!json_is_array(keys)) {
        snprintf(err, errlen, "\"keys\" is not an array");
        json_decref(root);
        return -1;
    }

    if (json_array_size(keys) > VELRO_JWK_MAX_KEYS) {
        snprintf(err, errlen, "more than %d keys", VELRO_JWK_MAX_KEYS);
        json_decref(root);
        return -1;
    }

    n = 0;

    for (i = 0; i < json_array_size(keys); i++) {
        rc = velro_jwk_add(ks, json_array_get(keys, i), err, errlen);
        if (rc < 0) {
            json_decref(root);
            return -1;
        }

        n += rc;
    }

    json_decref(root);

    return n;
}


int
velro_keyset_add_pem(velro_keyset_t *ks, const char *pem, size_t len,
    char *err, size_t errlen)
{
    int           kty;
    BIO          *bio;
    X509         *x509;
    EVP_PKEY     *pkey;
    velro_jwk_t   key;

    if (len > 64 * 1024) {
        snprintf(err, errlen, "PEM text too large");
        return -1;
    }

    bio = BIO_new_mem_buf(pem, (int) len);
    if (bio == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }

    if (memmem(pem, len, "-----BEGIN CERTIFICATE-----", 27) != NULL) {
        x509 = PEM_read_bio_X509(bio, NULL, velro_pem_no_password, NULL);
        pkey = x509 ? X509_get_pubkey(x509) : NULL;
        X509_free(x509);

    } else if (memmem(pem, len, "PRIVATE KEY-----", 16) != NULL) {
        BIO_free(bio);
        snprintf(err, errlen, "a private key is not accepted, "
                 "give the public key");
        return -1;

    } else {
        pkey = PEM_read_bio_PUBKEY(bio, NULL, velro_pem_no_password, NULL);
    }

    BIO_free(bio);

    if (pkey == NULL) {
        snprintf(err, errlen, "no PEM public key or certificate found");
        return -1;
    }

    kty = velro_pkey_kty(pkey, err, errlen);
    if (kty < 0) {
        EVP_PKEY_free(pkey);
        return -1;
    }

    memset(&key, 0, sizeof(velro_jwk_t));
    key.kty = kty;
    key.alg = -1;
    key.pkey = pkey;

    if (velro_keyset_push(ks, &key, err, errlen) != 0) {
        EVP_PKEY_free(pkey);
        return -1;
    }

    return 1;
}


/*
 * An encrypted PEM block ("Proc-Type: 4,ENCRYPTED") must fail, not make
 * OpenSSL's default callback prompt for a pass phrase on the terminal.
 */

static int
velro_pem_no_password(char *buf, int size, int rwflag, void *data)
{
    (void) buf;
    (void) size;
    (void) rwflag;
    (void) data;

    return -1;
}


static int
velro_pkey_kty(EVP_PKEY *pkey, char *err, size_t errlen)
{
    int      bad;
    char     group[32];
    BIGNUM  *e;

    switch (EVP_PKEY_get_base_id(pkey)) {

    case EVP_PKEY_RSA:
    case EVP_PKEY_RSA_PSS:
        if (EVP_PKEY_get_bits(pkey) < VELRO_RSA_MIN_BITS) {
            snprintf(err, errlen, "RSA key shorter than %d bits",
                     VELRO_RSA_MIN_BITS);
            return -1;
        }

        /* as in velro_jwk_rsa(): e = 1 would accept forged signatures */

        e = NULL;
        bad = EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_E, &e) != 1
              || BN_is_one(e) || !BN_is_odd(e);
        BN_free(e);

        if (bad) {
            snprintf(err, errlen, "invalid RSA exponent");
            return -1;
        }

        return VELRO_KTY_RSA;

    case EVP_PKEY_EC:
        if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME,
                                           group, sizeof(group), NULL)
            != 1)
        {
            break;
        }

        if (strcmp(group, "prime256v1") == 0 || strcmp(group, "P-256") == 0) {
            return VELRO_KTY_EC256;
        }

        if (strcmp(group, "secp384r1") == 0 || strcmp(group, "P-384") == 0) {
            return VELRO_KTY_EC384;
        }

        break;

    case EVP_PKEY_ED25519:
        return VELRO_KTY_ED25519;
    }

    snprintf(err, errlen, "unsupported key type "
             "(RSA, EC P-256/P-384 and Ed25519 are)");
    return -1;
}


static int
velro_jwk_add(velro_keyset_t *ks, json_t *jwk, char *err, size_t errlen)
{
    int           alg, rc;
    const char   *kty, *use, *crv, *kid, *s;
    json_t       *v;
    velro_jwk_t   key;

    if (!json_is_object(jwk)) {
        snprintf(err, errlen, "a key is not a JSON object");
        return -1;
    }

    kty = json_string_value(json_object_get(jwk, "kty"));
    if (kty == NULL) {
        snprintf(err, errlen, "a key has no \"kty\"");
        return -1;
    }

    v = json_object_get(jwk, "use");
    if (v) {
        use = json_string_value(v);
        if (use == NULL || strcmp(use, "sig") != 0) {
            return 0;
        }
    }

    v = json_object_get(jwk, "key_ops");
    if (v && json_is_array(v)) {
        size_t  i;

        for (i = 0; i < json_array_size(v); i++) {
            s = json_string_value(json_array_get(v, i));
            if (s && strcmp(s, "verify") == 0) {
                break;
            }
        }

        if (i == json_array_size(v)) {
            return 0;
        }
    }

    memset(&key, 0, sizeof(velro_jwk_t));
    key.alg = -1;
    rc = -1;

    v = json_object_get(jwk, "kid");
    if (v) {
        kid = json_string_value(v);
        if (kid == NULL) {
            snprintf(err, errlen, "\"kid\" is not a string");
            return -1;
        }

        key.kid = strdup(kid);
        if (key.kid == NULL) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
    }

    crv = json_string_value(json_object_get(jwk, "crv"));

    if (strcmp(kty, "oct") == 0) {
        key.kty = VELRO_KTY_OCT;
        key.secret = velro_jwk_field(jwk, "k", &key.secret_len, err, errlen);
        if (key.secret == NULL) {
            goto failed;
        }

        if (key.secret_len == 0) {
            snprintf(err, errlen, "empty \"oct\" key");
            goto failed;
        }

        if (velro_jwk_hmac_init(&key, err, errlen) != 0) {
            goto failed;
        }

    } else if (strcmp(kty, "RSA") == 0) {
        key.kty = VELRO_KTY_RSA;
        key.pkey = velro_jwk_rsa(jwk, err, errlen);

    } else if (strcmp(kty, "EC") == 0 && crv && strcmp(crv, "P-256") == 0) {
        key.kty = VELRO_KTY_EC256;
        key.pkey = velro_jwk_ec(jwk, "P-256", 32, err, errlen);

    } else if (strcmp(kty, "EC") == 0 && crv && strcmp(crv, "P-384") == 0) {
        key.kty = VELRO_KTY_EC384;
        key.pkey = velro_jwk_ec(jwk, "P-384", 48, err, errlen);

    } else if (strcmp(kty, "OKP") == 0 && crv
               && strcmp(crv, "Ed25519") == 0)
    {
        key.kty = VELRO_KTY_ED25519;
        key.pkey = velro_jwk_okp(jwk, err, errlen);

    } else {
        /* unsupported type or curve: not usable, not an error */
        free(key.kid);
        return 0;
    }

    if (key.kty != VELRO_KTY_OCT && key.pkey == NULL) {
        goto failed;
    }

    v = json_object_get(jwk, "alg");
    if (v) {
        s = json_string_value(v);
        alg = s ? velro_alg_parse(s, strlen(s)) : -1;

        if (alg < 0) {
            /* an algorithm we do not know, "none" included: skip the key */
            rc = 0;
            goto failed;
        }

        if (velro_alg_kty(alg) != key.kty) {
            snprintf(err, errlen, "key \"alg\" %s does not match its type",
                     s);
            goto failed;
        }

        key.alg = alg;
    }

    if (velro_keyset_push(ks, &key, err, errlen) != 0) {
        goto failed;
    }

    return 1;

failed:

    velro_jwk_clear(&key);

    return rc;
}


static void
velro_jwk_clear(velro_jwk_t *key)
{
    size_t  i;

    free(key->kid);
    EVP_PKEY_free(key->pkey);

    for (i = 0; i < 3; i++) {
        EVP_MAC_CTX_free(key->hmac[i]);
    }

    if (key->secret) {
        OPENSSL_cleanse(key->secret, key->secret_len);
        free(key->secret);
    }
}


/*
 * One keyed HMAC context per hash, made once: verifying then costs the
 * hash, not OpenSSL's per-call fetch, allocation and key padding.
 */

static int
velro_jwk_hmac_init(velro_jwk_t *key, char *err, size_t errlen)
{
    size_t        i;
    EVP_MAC      *mac;
    OSSL_PARAM    params[2];

    /* HS256, HS384, HS512: the hash and its size */

    static const struct {
        const char   *name;
        size_t        size;
    }  digests[3] = { { "SHA256", 32 }, { "SHA384", 48 }, { "SHA512", 64 } };

    mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    if (mac == NULL) {
        snprintf(err, errlen, "HMAC unavailable");
        return -1;
    }

    for (i = 0; i < 3; i++) {

        /* RFC 7518 3.2: the secret is at least as long as the hash */

        if (key->secret_len < digests[i].size) {
            continue;
        }

        key->hmac[i] = EVP_MAC_CTX_new(mac);

        params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
                                            (char *) digests[i].name, 0);
        params[1] = OSSL_PARAM_construct_end();

        if (key->hmac[i] == NULL
            || EVP_MAC_init(key->hmac[i], key->secret, key->secret_len,
                            params) != 1)
        {
            snprintf(err, errlen, "HMAC key setup failed");
            EVP_MAC_free(mac);
            return -1;
        }
    }

    EVP_MAC_free(mac);

    return 0;
}


static unsigned char *
velro_jwk_field(json_t *jwk, const char *name, size_t *len, char *err,
    size_t errlen)
{
    long            n;
    size_t          slen;
    const char     *s;
    unsigned char  *buf;

    s = json_string_value(json_object_get(jwk, name));
    if (s == NULL) {
        snprintf(err, errlen, "key member \"%s\" missing or not a string",
                 name);
        return NULL;
    }

    slen = json_string_length(json_object_get(jwk, name));

    if (slen > VELRO_JWK_MAX_FIELD) {
        snprintf(err, errlen, "key member \"%s\" too long", name);
        return NULL;
    }

    buf = malloc(slen / 4 * 3 + 3);
    if (buf == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }

    n = velro_base64url_decode(buf, s, slen);
    if (n < 0) {
        snprintf(err, errlen, "key member \"%s\" is not base64url", name);
        free(buf);
        return NULL;
    }

    *len = (size_t) n;

    return buf;
}


static EVP_PKEY *
velro_pkey_fromdata(const char *type, OSSL_PARAM_BLD *bld, char *err,
    size_t errlen)
{
    EVP_PKEY      *pkey;
    OSSL_PARAM    *params;
    EVP_PKEY_CTX  *ctx;

    pkey = NULL;
    params = OSSL_PARAM_BLD_to_param(bld);
    ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);

    if (params == NULL || ctx == NULL
        || EVP_PKEY_fromdata_init(ctx) != 1
        || EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
    {
        snprintf(err, errlen, "invalid %s key", type);
        pkey = NULL;
    }

    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);

    return pkey;
}


static EVP_PKEY *
velro_jwk_rsa(json_t *jwk, char *err, size_t errlen)
{
    size_t           nlen, elen;
    BIGNUM          *n, *e;
    EVP_PKEY        *pkey;
    unsigned char   *nb, *eb;
    OSSL_PARAM_BLD  *bld;

    pkey = NULL;
    n = NULL;
    e = NULL;
    eb = NULL;
    bld = NULL;

    nb = velro_jwk_field(jwk, "n", &nlen, err, errlen);
    if (nb == NULL) {
        return NULL;
    }

    eb = velro_jwk_field(jwk, "e", &elen, err, errlen);
    if (eb == NULL) {
        goto done;
    }

    n = BN_bin2bn(nb, (int) nlen, NULL);
    e = BN_bin2bn(eb, (int) elen, NULL);
    bld = OSSL_PARAM_BLD_new();

    if (n == NULL || e == NULL || bld == NULL
        || OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) != 1
        || OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) != 1)
    {
        snprintf(err, errlen, "out of memory");
        goto done;
    }

    if (BN_num_bits(n) < VELRO_RSA_MIN_BITS) {
        snprintf(err, errlen, "RSA key shorter than %d bits",
                 VELRO_RSA_MIN_BITS);
        goto done;
    }

    /* e = 1 makes any padded message its own signature */

    if (BN_is_zero(e) || BN_is_one(e) || !BN_is_odd(e)) {
        snprintf(err, errlen, "invalid RSA exponent");
        goto done;
    }

    pkey = velro_pkey_fromdata("RSA", bld, err, errlen);

done:

    OSSL_PARAM_BLD_free(bld);
    BN_free(n);
    BN_free(e);
    free(nb);
    free(eb);

    return pkey;
}


static EVP_PKEY *
velro_jwk_ec(json_t *jwk, const char *crv, size_t size, char *err,
    size_t errlen)
{
    size_t           xlen, ylen;
    EVP_PKEY        *pkey;
    EVP_PKEY_CTX    *ctx;
    unsigned char   *x, *y, point[1 + 2 * 48];
    OSSL_PARAM_BLD  *bld;

    pkey = NULL;
    y = NULL;
    bld = NULL;

    x = velro_jwk_field(jwk, "x", &xlen, err, errlen);
    if (x == NULL) {
        return NULL;
    }

    y = velro_jwk_field(jwk, "y", &ylen, err, errlen);
    if (y == NULL) {
        goto done;
    }

    if (xlen != size || ylen != size) {
        snprintf(err, errlen, "EC %s coordinates must be %zu bytes",
                 crv, size);
        goto done;
    }

    point[0] = 0x04;
    memcpy(point + 1, x, size);
    memcpy(point + 1 + size, y, size);

    bld = OSSL_PARAM_BLD_new();

    if (bld == NULL
        || OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
                                           crv, 0) != 1
        || OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY,
                                            point, 1 + 2 * size) != 1)
    {
        snprintf(err, errlen, "out of memory");
        goto done;
    }

    pkey = velro_pkey_fromdata("EC", bld, err, errlen);

    if (pkey) {
        /* the point must be on the curve */
        ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);

        if (ctx == NULL || EVP_PKEY_public_check(ctx) != 1) {
            snprintf(err, errlen, "EC point is not on %s", crv);
            EVP_PKEY_free(pkey);
            pkey = NULL;
        }

        EVP_PKEY_CTX_free(ctx);
    }

done:

    OSSL_PARAM_BLD_free(bld);
    free(x);
    free(y);

    return pkey;
}


static EVP_PKEY *
velro_jwk_okp(json_t *jwk, char *err, size_t errlen)
{
    size_t          xlen;
    EVP_PKEY       *pkey;
    unsigned char  *x;

    x = velro_jwk_field(jwk, "x", &xlen, err, errlen);
    if (x == NULL) {
        return NULL;
    }

    if (xlen != 32) {
        snprintf(err, errlen, "Ed25519 key must be 32 bytes");
        free(x);
        return NULL;
    }

    pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, x, xlen);
    if (pkey == NULL) {
        snprintf(err, errlen, "invalid Ed25519 key");
    }

    free(x);

    return pkey;
}


static int
velro_keyset_push(velro_keyset_t *ks, velro_jwk_t *key, char *err,
    size_t errlen)
{
    size_t        n;
    velro_jwk_t  *keys;

    if (ks->nkeys == ks->nalloc) {
        if (ks->nkeys >= VELRO_JWK_MAX_KEYS) {
            snprintf(err, errlen, "more than %d keys", VELRO_JWK_MAX_KEYS);
            return -1;
        }

        n = ks->nalloc ? ks->nalloc * 2 : 4;

        keys = realloc(ks->keys, n * sizeof(velro_jwk_t));
        if (keys == NULL) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }

        ks->keys = keys;
        ks->nalloc = n;
    }

    ks->keys[ks->nkeys++] = *key;

    return 0;
}
