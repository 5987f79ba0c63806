
/*
 * velro unit tests: key sets (velro_jwk.c).
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>

#include "util.h"


static char *bn_b64(const BIGNUM *bn, int size);
static char *pkey_param_b64(EVP_PKEY *pkey, const char *name, int size);
static char *pem_of(EVP_PKEY *pkey);
static EVP_PKEY *rsa_pub(const BIGNUM *n, unsigned long e);
static int add(const char *text, const char *expect_err, const char *name);
static int verifies(velro_keyset_t *ks, int alg, const char *kid);
static void test_alg_names(void);
static void test_files(void);
static void test_jwk_types(void);
static void test_jwk_skipped(void);
static void test_jwk_invalid(void);
static void test_ec_points(void);
static void test_rsa(void);
static void test_alg_binding(void);
static void test_limits(void);


static char  err[512];


static char *
bn_b64(const BIGNUM *bn, int size)
{
    int             len;
    char           *s;
    unsigned char   buf[1024];

    len = size ? size : BN_num_bytes(bn);

    if (BN_bn2binpad(bn, buf, len) != len) {
        return NULL;
    }

    s = ut_b64url(buf, (size_t) len);

    return s;
}


static char *
pkey_param_b64(EVP_PKEY *pkey, const char *name, int size)
{
    char    *s;
    BIGNUM  *bn;

    bn = NULL;

    if (EVP_PKEY_get_bn_param(pkey, name, &bn) != 1) {
        return NULL;
    }

    s = bn_b64(bn, size);
    BN_free(bn);

    return s;
}


static char *
pem_of(EVP_PKEY *pkey)
{
    BIO     *bio;
    char    *s, *data;
    long     len;

    bio = BIO_new(BIO_s_mem());

    if (bio == NULL || PEM_write_bio_PUBKEY(bio, pkey) != 1) {
        BIO_free(bio);
        return NULL;
    }

    len = BIO_get_mem_data(bio, &data);
    s = malloc((size_t) len + 1);
    memcpy(s, data, (size_t) len);
    s[len] = '\0';

    BIO_free(bio);

    return s;
}


static EVP_PKEY *
rsa_pub(const BIGNUM *n, unsigned long e)
{
    BIGNUM          *eb;
    EVP_PKEY        *pkey;
    OSSL_PARAM      *params;
    EVP_PKEY_CTX    *ctx;
    OSSL_PARAM_BLD  *bld;

    pkey = NULL;
    eb = BN_new();
    BN_set_word(eb, e);

    bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n);
    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, eb);
    params = OSSL_PARAM_BLD_to_param(bld);

    ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);

    if (ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1
        || EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
    {
        pkey = NULL;
    }

    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(eb);

    return pkey;
}


/*
 * Adds text to a fresh key set; returns its result.  With expect_err, the
 * result must be -1 and the message must contain expect_err.
 */

static int
add(const char *text, const char *expect_err, const char *name)
{
    int              rc;
    velro_keyset_t  *ks;

    ks = ut_keyset(text, &rc, err, sizeof(err));

    if (expect_err) {
        ok(rc == -1 && strstr(err, expect_err) != NULL && ks->nkeys == 0,
           "%s: refused (%s)", name, err);

    } else if (rc < 0) {
        diag("%s: %s", name, err);
    }

    velro_keyset_free(ks);

    return rc;
}


/* a fresh token of alg, signed by the usual test key, verifies with ks */

static int
verifies(velro_keyset_t *ks, int alg, const char *kid)
{
    int                 rc;
    char                header[128];
    char               *t;
    ut_key_t            key;
    velro_jwt_policy_t  p;

    ut_policy(&p);

    if (kid) {
        snprintf(header, sizeof(header), "{\"alg\":\"%s\",\"kid\":\"%s\"}",
                 velro_alg_name(alg), kid);

    } else {
        snprintf(header, sizeof(header), "{\"alg\":\"%s\"}",
                 velro_alg_name(alg));
    }

    key = ut_key_for(alg);
    t = ut_token(alg, &key, header, "{\"exp\":4102444800}");
    rc = ut_check(t, strlen(t), &p, ks, UT_NOW);
    free(t);

    return rc == VELRO_JWT_OK;
}


static void
test_alg_names(void)
{
    int  i, bad;

    bad = 0;

    for (i = 0; i < VELRO_ALG_COUNT; i++) {
        if (velro_alg_parse(velro_alg_name(i), strlen(velro_alg_name(i)))
            != i)
        {
            bad++;
        }
    }

    is_int(bad, 0, "alg names round-trip");

    is_int(velro_alg_parse("none", 4), -1, "alg \"none\" is unknown");
    is_int(velro_alg_parse("", 0), -1, "alg \"\" is unknown");
    is_int(velro_alg_parse("RS2", 3), -1, "alg prefix \"RS2\" is unknown");
    is_int(velro_alg_parse("RS256", 3), -1, "alg length is honoured");
    is_int(velro_alg_parse("RS2566", 6), -1, "alg \"RS2566\" is unknown");
    is_int(velro_alg_parse("rs256", 5), -1, "alg names are case-sensitive");
    is_int(velro_alg_parse("EDDSA", 5), -1, "\"EDDSA\" is not \"EdDSA\"");
    is_int(velro_alg_parse("ES256K", 6), -1, "ES256K is unknown");
    is_int(velro_alg_parse("RS256\0x", 7), -1, "alg with NUL is unknown");
    is_str(velro_alg_name(-1), "unknown", "alg name of -1");
    is_str(velro_alg_name(VELRO_ALG_COUNT), "unknown", "alg name past end");

    is_int(velro_alg_kty(VELRO_ALG_HS384), VELRO_KTY_OCT, "kty of HS384");
    is_int(velro_alg_kty(VELRO_ALG_RS512), VELRO_KTY_RSA, "kty of RS512");
    is_int(velro_alg_kty(VELRO_ALG_PS256), VELRO_KTY_RSA, "kty of PS256");
    is_int(velro_alg_kty(VELRO_ALG_ES256), VELRO_KTY_EC256, "kty of ES256");
    is_int(velro_alg_kty(VELRO_ALG_ES384), VELRO_KTY_EC384, "kty of ES384");
    is_int(velro_alg_kty(VELRO_ALG_EDDSA), VELRO_KTY_ED25519, "kty of EdDSA");
}


static void
test_files(void)
{
    int              rc, i;
    char            *text, *big;
    size_t           len;
    velro_keyset_t  *ks;
    static const struct {
        const char  *file;
        int          kty;
        int          alg;
    } pems[] = {
        { "rsa.pub", VELRO_KTY_RSA, VELRO_ALG_RS256 },
        { "rsa.pub", VELRO_KTY_RSA, VELRO_ALG_PS512 },
        { "rsa.crt", VELRO_KTY_RSA, VELRO_ALG_RS384 },
        { "ec256.pub", VELRO_KTY_EC256, VELRO_ALG_ES256 },
        { "ec384.pub", VELRO_KTY_EC384, VELRO_ALG_ES384 },
        { "ed25519.pub", VELRO_KTY_ED25519, VELRO_ALG_EDDSA }
    };
    static const char  *kids[] = { "rsa1", "ec256", "ec384", "ed1", "hs1" };
    static const int    ktys[] = { VELRO_KTY_RSA, VELRO_KTY_EC256,
                                   VELRO_KTY_EC384, VELRO_KTY_ED25519,
                                   VELRO_KTY_OCT };

    /* jwks.json as loaded by ut_init() */

    ks = ut.jwks;
    is_int(ks->nkeys, 5, "jwks.json: 5 keys");

    for (i = 0; i < 5 && (size_t) i < ks->nkeys; i++) {
        ok(ks->keys[i].kid && strcmp(ks->keys[i].kid, kids[i]) == 0
           && ks->keys[i].kty == ktys[i] && ks->keys[i].alg == -1,
           "jwks.json: key %d is %s, its type, any alg", i, kids[i]);
    }

    ok(ks->keys[4].secret_len == 64 && ks->keys[4].pkey == NULL
       && memcmp(ks->keys[4].secret, ut.hs, 64) == 0,
       "jwks.json: hs1 is the 64 chars of hs.secret");

    text = ut_read_key_file("jwks-rotated.json", &len);
    ks = ut_keyset(text, &rc, err, sizeof(err));
    ok(rc == 1 && ks->nkeys == 1 && ks->keys[0].kty == VELRO_KTY_RSA
       && strcmp(ks->keys[0].kid, "rsa2") == 0,
       "jwks-rotated.json: one RSA key rsa2");
    velro_keyset_free(ks);
    free(text);

    for (i = 0; i < (int) (sizeof(pems) / sizeof(pems[0])); i++) {
        text = ut_read_key_file(pems[i].file, &len);
        ks = ut_keyset(text, &rc, err, sizeof(err));

        ok(rc == 1 && ks->nkeys == 1 && ks->keys[0].kty == pems[i].kty
           && ks->keys[0].kid == NULL && ks->keys[0].alg == -1,
           "PEM %s: one key of its type, no kid", pems[i].file);
        ok(verifies(ks, pems[i].alg, NULL), "PEM %s: verifies %s",
           pems[i].file, velro_alg_name(pems[i].alg));

        velro_keyset_free(ks);
        free(text);
    }

    /* leading white space still selects the right parser */

    text = ut_read_key_file("jwks.json", &len);
    big = malloc(len + 8);
    memcpy(big, " \r\n\t \n", 6);
    memcpy(big + 6, text, len + 1);
    is_int(add(big, NULL, "jwks"), 5, "JWKS after white space: 5 keys");
    free(big);
    free(text);

    text = ut_read_key_file("rsa.pub", &len);
    big = malloc(len + 8);
    memcpy(big, "\n\n", 2);
    memcpy(big + 2, text, len + 1);
    is_int(add(big, NULL, "pem"), 1, "PEM after blank lines: 1 key");
    free(big);

    /* a PEM with text around it, as in a bundle with comments */

    big = malloc(len + 64);
    snprintf(big, len + 64, "# the issuer's key\n%s# end\n", text);
    is_int(add(big, NULL, "pem"), 1, "PEM with text around it: 1 key");
    free(big);
    free(text);

    text = ut_read_key_file("rsa1024.pub", &len);
    add(text, "shorter than 2048", "PEM rsa1024.pub");
    free(text);

    text = ut_read_key_file("rsa.key", &len);
    add(text, "private key", "PEM rsa.key (private)");
    free(text);

    text = ut_read_key_file("ec256.key", &len);
    add(text, "private key", "PEM ec256.key (private)");
    free(text);

    text = ut_read_key_file("ed25519.key", &len);
    add(text, "private key", "PEM ed25519.key (private)");
    free(text);

    add("-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n"
        "-----END ENCRYPTED PRIVATE KEY-----\n", "private key",
        "PEM encrypted private key");

    /* an encrypted PEM block must fail, not prompt for a pass phrase */

    text = ut_read_key_file("rsa.pub", &len);
    big = malloc(len + 128);
    snprintf(big, len + 128, "-----BEGIN PUBLIC KEY-----\n"
             "Proc-Type: 4,ENCRYPTED\n"
             "DEK-Info: AES-128-CBC,00112233445566778899AABBCCDDEEFF\n\n%s",
             text + sizeof("-----BEGIN PUBLIC KEY-----"));
    add(big, "no PEM public key", "PEM public key with Proc-Type ENCRYPTED");
    free(big);
    free(text);

    text = ut_read_key_file("rsa.crt", &len);
    big = strdup(text);
    big[strstr(big, "\n") - big + 10] ^= 0x01;
    ok(add(big, NULL, "corrupt certificate") == -1,
       "PEM certificate with a corrupt body");
    free(big);
    free(text);

    add("", "no PEM", "empty text");
    add("   \n", "no PEM", "white space only");
    add("garbage", "no PEM", "garbage");
    add("-----BEGIN PUBLIC KEY-----\n-----END PUBLIC KEY-----\n", "no PEM",
        "empty PEM block");
    add("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
        "no PEM", "PEM block with junk");

    big = malloc(70000);
    memset(big, '\n', 69999);
    big[69999] = '\0';
    add(big, "too large", "PEM text over 64 KB");
    free(big);

    /* unsupported key types (made with openssl genpkey / ecparam) */

    add("-----BEGIN PUBLIC KEY-----\n"
        "MCowBQYDK2VuAyEALLC4gockyadMsZtQ/F/r3l+nyaDdiIYWpSGJtMHQ6A4=\n"
        "-----END PUBLIC KEY-----\n", "unsupported key type", "PEM X25519");

    add("-----BEGIN PUBLIC KEY-----\n"
        "MEMwBQYDK2VxAzoAEQ90FIWopaPbVxWCZl/NwZwWPQLXvwlMRvPBp8UPLiFFqlFo\n"
        "QRwFcLx8ayt3c3tGwfe9e520QNsA\n"
        "-----END PUBLIC KEY-----\n", "unsupported key type", "PEM Ed448");

    add("-----BEGIN PUBLIC KEY-----\n"
        "MFYwEAYHKoZIzj0CAQYFK4EEAAoDQgAEtt4/BLyg6/YzVP9MtmqlpGf2DeNo0D7B\n"
        "5+ZuK6G29PeHZVievUzqpsgGI5hknil0qgz89p0/QCGp7OaKuAO3Sw==\n"
        "-----END PUBLIC KEY-----\n", "unsupported key type",
        "PEM EC secp256k1");
}


static void
test_jwk_types(void)
{
    int              rc;
    char            *n, *e, *x, *y, text[4096];
    size_t           len;
    velro_keyset_t  *ks;
    unsigned char    raw[64];

    /* JWKs built from the PEM public keys, one of each type */

    n = pkey_param_b64(ut.rsa, OSSL_PKEY_PARAM_RSA_N, 0);
    e = pkey_param_b64(ut.rsa, OSSL_PKEY_PARAM_RSA_E, 0);
    snprintf(text, sizeof(text), "{\"kty\":\"RSA\",\"kid\":\"r\",\"n\":\"%s\","
             "\"e\":\"%s\"}", n, e);
    ks = ut_keyset(text, &rc, err, sizeof(err));
    ok(rc == 1 && ks->keys[0].kty == VELRO_KTY_RSA, "JWK RSA: one key");
    ok(verifies(ks, VELRO_ALG_RS256, "r"), "JWK RSA: verifies RS256");
    ok(verifies(ks, VELRO_ALG_PS384, "r"), "JWK RSA: verifies PS384");
    velro_keyset_free(ks);
    free(n);
    free(e);

    x = pkey_param_b64(ut.ec256, OSSL_PKEY_PARAM_EC_PUB_X, 32);
    y = pkey_param_b64(ut.ec256, OSSL_PKEY_PARAM_EC_PUB_Y, 32);
    snprintf(text, sizeof(text), "{\"kty\":\"EC\",\"crv\":\"P-256\","
             "\"x\":\"%s\",\"y\":\"%s\"}", x, y);
    ks = ut_keyset(text, &rc, err, sizeof(err));
    ok(rc == 1 && ks->keys[0].kty == VELRO_KTY_EC256 && ks->keys[0].kid == NULL,
       "JWK EC P-256: one key, no kid");
    ok(verifies(ks, VELRO_ALG_ES256, NULL), "JWK EC P-256: verifies ES256");
    velro_keyset_free(ks);
    free(x);
    free(y);

    x = pkey_param_b64(ut.ec384, OSSL_PKEY_PARAM_EC_PUB_X, 48);
    y = pkey_param_b64(ut.ec384, OSSL_PKEY_PARAM_EC_PUB_Y, 48);
    snprintf(text, sizeof(text), "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-384\","
             "\"kid\":\"e\",\"x\":\"%s\",\"y\":\"%s\",\"alg\":\"ES384\"}]}",
             x, y);
    ks = ut_keyset(text, &rc, err, sizeof(err));
    ok(rc == 1 && ks->keys[0].kty == VELRO_KTY_EC384
       && ks->keys[0].alg == VELRO_ALG_ES384, "JWK EC P-384 with alg");
    ok(verifies(ks, VELRO_ALG_ES384, "e"), "JWK EC P-384: verifies ES384");
    velro_keyset_free(ks);
    free(x);
    free(y);

    len = sizeof(raw);
    EVP_PKEY_get_raw_public_key(ut.ed25519, raw, &len);
    x = ut_b64url(raw, len);
    snprintf(text, sizeof(text), "{\"kty\":\"OKP\",\"crv\":\"Ed25519\","
             "\"x\":\"%s\",\"use\":\"sig\",\"key_ops\":[\"verify\"]}", x);
    ks = ut_keyset(text, &rc, err, sizeof(err));
    ok(rc == 1 && ks->keys[0].kty == VELRO_KTY_ED25519, "JWK OKP Ed25519");
    ok(verifies(ks, VELRO_ALG_EDDSA, NULL), "JWK OKP: verifies EdDSA");
    velro_keyset_free(ks);

    /* Ed25519 x of the wrong length */
    snprintf(text, sizeof(text), "{\"kty\":\"OKP\",\"crv\":\"Ed25519\","
             "\"x\":\"%.40s\"}", x);
    add(text, "32 bytes", "JWK OKP x of 30 bytes");
    free(x);

    x = ut_b64url(ut.hs, ut.hs_len);
    snprintf(text, sizeof(text), "{\"kty\":\"oct\",\"k\":\"%s\"}", x);
    ks = ut_keyset(text, &rc, err, sizeof(err));
    ok(rc == 1 && ks->keys[0].kty == VELRO_KTY_OCT
       && ks->keys[0].secret_len == ut.hs_len, "JWK oct");
    ok(verifies(ks, VELRO_ALG_HS512, NULL), "JWK oct: verifies HS512");
    velro_keyset_free(ks);
    free(x);

    /* HMAC keys shorter than the hash are never used (RFC 7518 3.2) */

    ks = ut_keyset("{\"kty\":\"oct\",\"kid\":\"s\","
                   "\"k\":\"c2hvcnRzaG9ydHNob3J0c2hvcnQ\"}",
                   &rc, err, sizeof(err));
    is_int(rc, 1, "JWK oct of 20 bytes loads");

    {
        char                *t;
        ut_key_t             key;
        velro_jwt_policy_t   p;

        ut_policy(&p);
        memset(&key, 0, sizeof(ut_key_t));
        key.secret = (unsigned char *) "shortshortshortshort";
        key.secret_len = 20;
        t = ut_token(VELRO_ALG_HS256, &key, "{\"alg\":\"HS256\",\"kid\":\"s\"}",
                     "{\"exp\":4102444800}");
        is_str(velro_jwt_reason(ut_check(t, strlen(t), &p, ks, UT_NOW)),
               "signature", "HS256 with a 20-byte key refused");
        free(t);
    }

    velro_keyset_free(ks);

    x = ut_b64url(ut.hs, 32);
    snprintf(text, sizeof(text), "{\"kty\":\"oct\",\"k\":\"%s\"}", x);
    ks = ut_keyset(text, &rc, err, sizeof(err));

    {
        char                *t;
        ut_key_t             key;
        velro_jwt_policy_t   p;

        ut_policy(&p);
        memset(&key, 0, sizeof(ut_key_t));
        key.secret = ut.hs;
        key.secret_len = 32;

        t = ut_token(VELRO_ALG_HS256, &key, "{\"alg\":\"HS256\"}",
                     "{\"exp\":4102444800}");
        is_str(velro_jwt_reason(ut_check(t, strlen(t), &p, ks, UT_NOW)),
               "valid", "HS256 with a 32-byte key accepted");
        free(t);

        t = ut_token(VELRO_ALG_HS384, &key, "{\"alg\":\"HS384\"}",
                     "{\"exp\":4102444800}");
        is_str(velro_jwt_reason(ut_check(t, strlen(t), &p, ks, UT_NOW)),
               "signature", "HS384 with a 32-byte key refused");
        free(t);
    }

    velro_keyset_free(ks);
    free(x);
}


static void
test_jwk_skipped(void)
{
    size_t      i;
    static const struct {
        const char  *jwk;
        const char  *name;
    } skip[] = {
        { "{\"kty\":\"oct\",\"use\":\"enc\",\"k\":\"AAAA\"}", "use enc" },
        { "{\"kty\":\"oct\",\"use\":\"SIG\",\"k\":\"AAAA\"}", "use SIG" },
        { "{\"kty\":\"oct\",\"use\":1,\"k\":\"AAAA\"}", "use not a string" },
        { "{\"kty\":\"oct\",\"key_ops\":[\"sign\"],\"k\":\"AAAA\"}",
          "key_ops without verify" },
        { "{\"kty\":\"oct\",\"key_ops\":[],\"k\":\"AAAA\"}", "key_ops empty" },
        { "{\"kty\":\"RSA\",\"use\":\"enc\",\"n\":\"!\",\"e\":\"!\"}",
          "use enc is not even parsed" },
        { "{\"kty\":\"foo\",\"k\":\"AAAA\"}", "kty foo" },
        { "{\"kty\":\"rsa\",\"n\":\"AQAB\",\"e\":\"AQAB\"}", "kty rsa" },
        { "{\"kty\":\"EC\",\"crv\":\"P-521\",\"x\":\"AA\",\"y\":\"AA\"}",
          "EC P-521" },
        { "{\"kty\":\"EC\",\"crv\":\"secp256k1\",\"x\":\"AA\",\"y\":\"AA\"}",
          "EC secp256k1" },
        { "{\"kty\":\"EC\",\"x\":\"AA\",\"y\":\"AA\"}", "EC without crv" },
        { "{\"kty\":\"OKP\",\"crv\":\"X25519\",\"x\":\"AA\"}", "OKP X25519" },
        { "{\"kty\":\"OKP\",\"crv\":\"Ed448\",\"x\":\"AA\"}", "OKP Ed448" },
        { "{\"kty\":\"oct\",\"alg\":\"A128KW\",\"k\":\"AAAA\"}",
          "alg A128KW" },
        { "{\"kty\":\"oct\",\"alg\":\"none\",\"k\":\"AAAA\"}", "alg none" },
        { "{\"kty\":\"oct\",\"alg\":7,\"k\":\"AAAA\"}", "alg not a string" }
    };

    for (i = 0; i < sizeof(skip) / sizeof(skip[0]); i++) {
        is_int(add(skip[i].jwk, NULL, skip[i].name), 0,
               "JWK skipped: %s", skip[i].name);
    }

    is_int(add("{\"keys\":[]}", NULL, "empty"), 0, "JWKS with no keys: 0");

    is_int(add("{\"keys\":[{\"kty\":\"oct\",\"use\":\"enc\",\"k\":\"AAAA\"},"
               "{\"kty\":\"oct\",\"kid\":\"a\",\"k\":\"AAAA\"},"
               "{\"kty\":\"EC\",\"crv\":\"P-521\",\"x\":\"A\"},"
               "{\"kty\":\"oct\",\"kid\":\"b\",\"k\":\"AAAA\","
               "\"key_ops\":[\"sign\",\"verify\"]}]}", NULL, "mixed"), 2,
           "JWKS mixed: 2 of 4 keys added");
}


static void
test_jwk_invalid(void)
{
    size_t      i;
    static const struct {
        const char  *jwk;
        const char  *err;
        const char  *name;
    } bad[] = {
        { "{", "invalid JSON", "JSON truncated" },
        { "{\"keys\":[]} x", "invalid JSON", "JSON trailing garbage" },
        { "{\"keys\":[],\"keys\":[]}", "invalid JSON", "duplicate \"keys\"" },
        { "{\"kty\":\"oct\",\"kty\":\"oct\",\"k\":\"AAAA\"}", "invalid JSON",
          "duplicate \"kty\"" },
        { "{\"kty\":\"oct\",\"k\":\"AA\\u0000AA\"}", "invalid JSON",
          "\\u0000 inside \"k\"" },
        { "{\"keys\":{}}", "not an array", "\"keys\" an object" },
        { "{\"keys\":[1]}", "not a JSON object", "a key a number" },
        { "{\"keys\":[[]]}", "not a JSON object", "a key an array" },
        { "{\"k\":\"AAAA\"}", "no \"kty\"", "no kty" },
        { "{\"kty\":1}", "no \"kty\"", "kty a number" },
        { "{\"kty\":\"oct\",\"kid\":1,\"k\":\"AAAA\"}", "\"kid\"",
          "kid a number" },
        { "{\"kty\":\"oct\"}", "\"k\" missing", "oct without k" },
        { "{\"kty\":\"oct\",\"k\":\"\"}", "empty", "oct k empty" },
        { "{\"kty\":\"oct\",\"k\":4}", "\"k\" missing", "oct k a number" },
        { "{\"kty\":\"oct\",\"k\":\"AA==\"}", "base64url", "oct k padded" },
        { "{\"kty\":\"oct\",\"k\":\"AA+/\"}", "base64url", "oct k base64" },
        { "{\"kty\":\"oct\",\"k\":\"AB\"}", "base64url",
          "oct k trailing bits" },
        { "{\"kty\":\"oct\",\"k\":\"A\"}", "base64url", "oct k 1 char" },
        { "{\"kty\":\"RSA\",\"e\":\"AQAB\"}", "\"n\" missing", "RSA no n" },
        { "{\"kty\":\"RSA\",\"n\":\"AQAB\"}", "\"e\" missing", "RSA no e" },
        { "{\"kty\":\"RSA\",\"n\":\"AQAB\",\"e\":\"AQAB\"}",
          "shorter than 2048", "RSA n of 17 bits" },
        { "{\"kty\":\"RSA\",\"n\":\"AQ AB\",\"e\":\"AQAB\"}", "\"n\"",
          "RSA n with a space" },
        { "{\"kty\":\"EC\",\"crv\":\"P-256\",\"y\":\"AA\"}", "\"x\" missing",
          "EC no x" },
        { "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"AA\"}", "\"y\" missing",
          "EC no y" },
        { "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"A*\",\"y\":\"AA\"}",
          "\"x\" is not base64url", "EC x bad base64" },
        { "{\"kty\":\"OKP\",\"crv\":\"Ed25519\"}", "\"x\" missing",
          "OKP no x" },
        { "[]", "no PEM", "JWKS an array (not '{': read as PEM)" }
    };

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        add(bad[i].jwk, bad[i].err, bad[i].name);
    }
}


static void
test_ec_points(void)
{
    int              size, c, rc;
    char            *x, *y, *x2, *y2, text[1024];
    long             n;
    EVP_PKEY        *pkey;
    unsigned char    buf[64];
    velro_keyset_t  *ks;
    const char      *crv;

    for (c = 0; c < 2; c++) {
        pkey = c ? ut.ec384 : ut.ec256;
        size = c ? 48 : 32;
        crv = c ? "P-384" : "P-256";

        x = pkey_param_b64(pkey, OSSL_PKEY_PARAM_EC_PUB_X, size);
        y = pkey_param_b64(pkey, OSSL_PKEY_PARAM_EC_PUB_Y, size);

        snprintf(text, sizeof(text), "{\"kty\":\"EC\",\"crv\":\"%s\","
                 "\"x\":\"%s\",\"y\":\"%s\"}", crv, x, y);
        is_int(add(text, NULL, crv), 1, "EC %s: the real point loads", crv);

        /* a byte of y flipped: the point is not on the curve */

        n = velro_base64url_decode(buf, y, strlen(y));
        buf[size / 2] ^= 0x01;
        y2 = ut_b64url(buf, (size_t) n);
        snprintf(text, sizeof(text), "{\"kty\":\"EC\",\"crv\":\"%s\","
                 "\"x\":\"%s\",\"y\":\"%s\"}", crv, x, y2);
        ks = ut_keyset(text, &rc, err, sizeof(err));
        ok(rc == -1 && (strstr(err, "not on") || strstr(err, "invalid")),
           "EC %s off the curve: \"%s\"", crv, err);
        velro_keyset_free(ks);
        free(y2);

        /* x and y swapped */

        snprintf(text, sizeof(text), "{\"kty\":\"EC\",\"crv\":\"%s\","
                 "\"x\":\"%s\",\"y\":\"%s\"}", crv, y, x);
        ok(add(text, NULL, crv) == -1, "EC %s x and y swapped refused", crv);

        /* zero point */

        memset(buf, 0, sizeof(buf));
        x2 = ut_b64url(buf, (size_t) size);
        snprintf(text, sizeof(text), "{\"kty\":\"EC\",\"crv\":\"%s\","
                 "\"x\":\"%s\",\"y\":\"%s\"}", crv, x2, x2);
        ok(add(text, NULL, crv) == -1, "EC %s (0, 0) refused", crv);
        free(x2);

        /* coordinates one byte short and one byte long */

        n = velro_base64url_decode(buf, x, strlen(x));
        x2 = ut_b64url(buf + 1, (size_t) n - 1);
        snprintf(text, sizeof(text), "{\"kty\":\"EC\",\"crv\":\"%s\","
                 "\"x\":\"%s\",\"y\":\"%s\"}", crv, x2, y);
        add(text, "coordinates must be", "EC x one byte short");
        free(x2);

        memmove(buf + 1, buf, (size_t) n);
        buf[0] = 0;
        x2 = ut_b64url(buf, (size_t) n + 1);
        snprintf(text, sizeof(text), "{\"kty\":\"EC\",\"crv\":\"%s\","
                 "\"x\":\"%s\",\"y\":\"%s\"}", crv, x2, y);
        add(text, "coordinates must be", "EC x with a leading zero byte");
        free(x2);

        n = velro_base64url_decode(buf, y, strlen(y));
        y2 = ut_b64url(buf, (size_t) n - 1);
        snprintf(text, sizeof(text), "{\"kty\":\"EC\",\"crv\":\"%s\","
                 "\"x\":\"%s\",\"y\":\"%s\"}", crv, x, y2);
        add(text, "coordinates must be", "EC y one byte short");
        free(y2);

        /* the other curve's name */

        snprintf(text, sizeof(text), "{\"kty\":\"EC\",\"crv\":\"%s\","
                 "\"x\":\"%s\",\"y\":\"%s\"}", c ? "P-256" : "P-384", x, y);
        add(text, "coordinates must be", "EC coordinates of the other curve");

        free(x);
        free(y);
    }
}


static void
test_rsa(void)
{
    int              rc;
    char            *n, *text, *pem, *t, jwk[2048];
    size_t           len;
    BIGNUM          *bn;
    EVP_PKEY        *pub, *weak;
    velro_keyset_t  *ks;
    unsigned char    em[256], h[32];
    unsigned int     hlen;
    velro_jwt_policy_t    p;
    static const unsigned char  prefix[] = {
        0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
        0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20
    };

    /* a 1024-bit JWK */

    {
        BIO  *bio;

        text = ut_read_key_file("rsa1024.pub", &len);
        bio = BIO_new_mem_buf(text, (int) len);
        pub = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
        BIO_free(bio);
        free(text);
    }

    n = pkey_param_b64(pub, OSSL_PKEY_PARAM_RSA_N, 0);
    snprintf(jwk, sizeof(jwk), "{\"kty\":\"RSA\",\"n\":\"%s\",\"e\":\"AQAB\"}",
             n);
    add(jwk, "shorter than 2048", "JWK RSA 1024 bits");
    free(n);
    EVP_PKEY_free(pub);

    /* exponents */

    n = pkey_param_b64(ut.rsa, OSSL_PKEY_PARAM_RSA_N, 0);

    snprintf(jwk, sizeof(jwk), "{\"kty\":\"RSA\",\"n\":\"%s\",\"e\":\"AA\"}",
             n);
    add(jwk, "exponent", "JWK RSA e = 0");

    snprintf(jwk, sizeof(jwk), "{\"kty\":\"RSA\",\"n\":\"%s\",\"e\":\"\"}",
             n);
    add(jwk, "exponent", "JWK RSA e empty");

    snprintf(jwk, sizeof(jwk), "{\"kty\":\"RSA\",\"n\":\"%s\",\"e\":\"AQAA\"}",
             n);
    add(jwk, "exponent", "JWK RSA e even (65536)");

    snprintf(jwk, sizeof(jwk), "{\"kty\":\"RSA\",\"n\":\"%s\",\"e\":\"AQ\"}",
             n);
    add(jwk, "exponent", "JWK RSA e = 1");

    snprintf(jwk, sizeof(jwk), "{\"kty\":\"RSA\",\"n\":\"%s\",\"e\":\"Aw\"}",
             n);
    is_int(add(jwk, NULL, "e = 3"), 1, "JWK RSA e = 3 loads");

    snprintf(jwk, sizeof(jwk), "{\"kty\":\"RSA\",\"n\":\"AAAA%s\","
             "\"e\":\"AQAB\"}", n);
    is_int(add(jwk, NULL, "leading zeros"), 1,
           "JWK RSA n with leading zero bytes loads");

    /*
     * With e = 1 the padded digest is its own signature: whatever the
     * loader says, such a forged RS256 token must never verify.
     */

    snprintf(jwk, sizeof(jwk), "{\"kty\":\"RSA\",\"kid\":\"w\",\"n\":\"%s\","
             "\"e\":\"AQ\"}", n);
    ks = ut_keyset(jwk, &rc, err, sizeof(err));

    bn = NULL;
    EVP_PKEY_get_bn_param(ut.rsa, OSSL_PKEY_PARAM_RSA_N, &bn);
    weak = rsa_pub(bn, 1);
    pem = pem_of(weak);
    ok(pem != NULL, "an e = 1 PEM key can be written");
    add(pem, "exponent", "PEM RSA e = 1");
    velro_keyset_add_text(ks, pem, strlen(pem), err, sizeof(err));
    free(pem);
    EVP_PKEY_free(weak);

    weak = rsa_pub(bn, 65536 + 2);
    pem = pem_of(weak);
    add(pem, "exponent", "PEM RSA e even");
    free(pem);
    EVP_PKEY_free(weak);
    BN_free(bn);

    {
        char  *h64, *p64, *s64, input[512];

        h64 = ut_b64url("{\"alg\":\"RS256\",\"kid\":\"w\"}", 25);
        p64 = ut_b64url("{\"exp\":4102444800}", 18);
        snprintf(input, sizeof(input), "%s.%s", h64, p64);

        EVP_Digest(input, strlen(input), h, &hlen, EVP_sha256(), NULL);

        memset(em, 0xff, sizeof(em));
        em[0] = 0x00;
        em[1] = 0x01;
        em[256 - 52] = 0x00;
        memcpy(em + 256 - 51, prefix, sizeof(prefix));
        memcpy(em + 256 - 32, h, 32);

        s64 = ut_b64url(em, sizeof(em));
        t = malloc(strlen(input) + strlen(s64) + 2);
        sprintf(t, "%s.%s", input, s64);

        ut_policy(&p);
        is_str(velro_jwt_reason(ut_check(t, strlen(t), &p, ks, UT_NOW)),
               "kid", "forged RS256 for an e = 1 key: no such key loaded");

        free(t);
        free(s64);
        free(h64);
        free(p64);
    }

    velro_keyset_free(ks);
    free(n);

    /* a JWK n of 2048 bytes of base64url is the limit (RSA 12288 bits) */

    {
        char  *big;

        big = malloc(4200);
        memset(big, 0, 4200);
        strcpy(big, "{\"kty\":\"RSA\",\"e\":\"AQAB\",\"n\":\"");
        memset(big + strlen(big), '_', 2049);
        strcat(big, "\"}");
        add(big, "too long", "JWK RSA n of 2049 chars");
        free(big);
    }
}


static void
test_alg_binding(void)
{
    int              rc;
    char             text[4096], *n;
    velro_keyset_t  *ks;
    static const struct {
        const char  *jwk;
        const char  *name;
    } bad[] = {
        { "{\"kty\":\"oct\",\"alg\":\"RS256\",\"k\":\"AAAA\"}", "oct RS256" },
        { "{\"kty\":\"oct\",\"alg\":\"EdDSA\",\"k\":\"AAAA\"}", "oct EdDSA" },
        { "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"alg\":\"ES256\","
          "\"x\":\"LGTNThR5eTPy5qOnIHJtSUuD1M-NqL-R8ueUW_LcxKI\"}",
          "OKP ES256" },
        { "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"alg\":\"HS256\","
          "\"x\":\"LGTNThR5eTPy5qOnIHJtSUuD1M-NqL-R8ueUW_LcxKI\"}",
          "OKP HS256" },
        { "{\"kty\":\"EC\",\"crv\":\"P-256\",\"alg\":\"ES384\","
          "\"x\":\"V_0LnJnnbns0bCOTWV-SMJxsA8vReirs8ZkbaEZuvLo\","
          "\"y\":\"SAWOFXehm-6NFoz4S2SyGgaaFURPK9mTYwoZYshkpTo\"}",
          "EC P-256 ES384" },
        { "{\"kty\":\"EC\",\"crv\":\"P-256\",\"alg\":\"HS256\","
          "\"x\":\"V_0LnJnnbns0bCOTWV-SMJxsA8vReirs8ZkbaEZuvLo\","
          "\"y\":\"SAWOFXehm-6NFoz4S2SyGgaaFURPK9mTYwoZYshkpTo\"}",
          "EC P-256 HS256" }
    };
    size_t  i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        add(bad[i].jwk, "does not match", bad[i].name);
    }

    /* an RSA key with alg HS256 (the confusion, declared) */

    n = pkey_param_b64(ut.rsa, OSSL_PKEY_PARAM_RSA_N, 0);

    snprintf(text, sizeof(text), "{\"keys\":[{\"kty\":\"RSA\","
             "\"alg\":\"HS256\",\"e\":\"AQAB\",\"n\":\"%s\"}]}", n);
    add(text, "does not match", "RSA with alg HS256");

    snprintf(text, sizeof(text), "{\"kty\":\"RSA\",\"alg\":\"ES256\","
             "\"e\":\"AQAB\",\"n\":\"%s\"}", n);
    add(text, "does not match", "RSA with alg ES256");

    /* matching algs bind the key */

    ks = ut_keyset("{\"kty\":\"EC\",\"crv\":\"P-256\",\"alg\":\"ES256\","
                   "\"kid\":\"k\","
                   "\"x\":\"V_0LnJnnbns0bCOTWV-SMJxsA8vReirs8ZkbaEZuvLo\","
                   "\"y\":\"SAWOFXehm-6NFoz4S2SyGgaaFURPK9mTYwoZYshkpTo\"}",
                   &rc, err, sizeof(err));
    ok(rc == 1 && ks->keys[0].alg == VELRO_ALG_ES256, "EC P-256 alg ES256");
    ok(verifies(ks, VELRO_ALG_ES256, "k"), "EC P-256 alg ES256 verifies");
    velro_keyset_free(ks);

    snprintf(text, sizeof(text), "{\"kty\":\"RSA\",\"alg\":\"PS256\","
             "\"kid\":\"k\",\"e\":\"AQAB\",\"n\":\"%s\"}", n);
    ks = ut_keyset(text, &rc, err, sizeof(err));
    ok(rc == 1 && ks->keys[0].alg == VELRO_ALG_PS256, "RSA alg PS256");
    ok(verifies(ks, VELRO_ALG_PS256, "k"), "RSA alg PS256 verifies PS256");
    ok(!verifies(ks, VELRO_ALG_RS256, "k"), "RSA alg PS256 refuses RS256");
    ok(!verifies(ks, VELRO_ALG_RS256, NULL),
       "RSA alg PS256 refuses RS256 without kid");
    velro_keyset_free(ks);

    ks = ut_keyset("{\"kty\":\"oct\",\"alg\":\"HS384\",\"k\":\"YTUxZWViYTRm"
                   "Zjk3NjY4MzdhZTFlNmZjMzY2ZjUwYzExOGI1NGE1NDM1NjY0ZmNiYjk2"
                   "NTBiMWQ1MTc4MDc1Nw\"}", &rc, err, sizeof(err));
    ok(rc == 1 && ks->keys[0].alg == VELRO_ALG_HS384, "oct alg HS384");
    ok(verifies(ks, VELRO_ALG_HS384, NULL), "oct alg HS384 verifies HS384");
    ok(!verifies(ks, VELRO_ALG_HS256, NULL), "oct alg HS384 refuses HS256");
    velro_keyset_free(ks);
    free(n);
}


static void
test_limits(void)
{
    int              i, rc;
    char            *text, *p;
    size_t           size;
    velro_keyset_t  *ks;

    size = 70 * 64 + 32;
    text = malloc(size);

    for (rc = 64; rc <= 65; rc++) {
        p = text;
        p += sprintf(p, "{\"keys\":[");

        for (i = 0; i < rc; i++) {
            p += sprintf(p, "%s{\"kty\":\"oct\",\"kid\":\"k%d\","
                         "\"k\":\"AAAA\"}", i ? "," : "", i);
        }

        sprintf(p, "]}");

        if (rc == 64) {
            is_int(add(text, NULL, "64"), 64, "JWKS of 64 keys loads");

            /* the limit is on the set: one more key is refused */
            ks = ut_keyset(text, &i, err, sizeof(err));
            i = velro_keyset_add_text(ks, "{\"kty\":\"oct\",\"k\":\"AAAA\"}",
                                      24, err, sizeof(err));
            ok(i == -1 && ks->nkeys == 64 && strstr(err, "more than 64"),
               "a 65th key added to a full set is refused");
            velro_keyset_free(ks);

        } else {
            add(text, "more than 64", "JWKS of 65 keys");
        }
    }

    /* 65 entries of which only some are usable: still refused */

    p = text;
    p += sprintf(p, "{\"keys\":[");
    for (i = 0; i < 65; i++) {
        p += sprintf(p, "%s{\"kty\":\"oct\",\"use\":\"enc\",\"k\":\"AAAA\"}",
                     i ? "," : "");
    }
    sprintf(p, "]}");
    add(text, "more than 64", "JWKS of 65 skipped keys");

    free(text);

    /* kid values are copied */

    ks = ut_keyset("{\"kty\":\"oct\",\"kid\":\"\xc3\xa9t\xc3\xa9\","
                   "\"k\":\"AAAA\"}", &rc, err, sizeof(err));
    ok(rc == 1 && strcmp(ks->keys[0].kid, "\xc3\xa9t\xc3\xa9") == 0,
       "UTF-8 kid kept");
    velro_keyset_free(ks);

    /* a key set that fails half way keeps what was added (caller's job) */

    ks = ut_keyset("{\"keys\":[{\"kty\":\"oct\",\"k\":\"AAAA\"},"
                   "{\"kty\":\"oct\",\"k\":\"!\"}]}", &rc, err, sizeof(err));
    ok(rc == -1, "JWKS with a bad second key refused (%s)", err);
    velro_keyset_free(ks);

    velro_keyset_free(NULL);
    ok(1, "velro_keyset_free(NULL)");
}


void
test_jwk(void)
{
    diag("velro_jwk.c");

    test_alg_names();
    test_files();
    test_jwk_types();
    test_jwk_skipped();
    test_jwk_invalid();
    test_ec_points();
    test_rsa();
    test_alg_binding();
    test_limits();
}
