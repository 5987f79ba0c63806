
/*
 * velro unit tests: tokens (velro_jwt.c).
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"


#define RC(rc)  velro_jwt_reason(rc)


static char *tok(int alg, const char *kid, const char *payload);
static char *tok_h(int alg, const char *header, const char *payload);
static velro_jwt_rc_e check(const char *token, const velro_jwt_policy_t *p,
    const velro_keyset_t *keys, time_t now);
static velro_jwt_rc_e check_claims(const char *payload,
    const velro_jwt_policy_t *p, time_t now);
static void test_base64url(void);
static void test_algorithms(void);
static void test_signatures(void);
static void test_alg_header(void);
static void test_kid(void);
static void test_structure(void);
static void test_json(void);
static void test_times(void);
static void test_leeway(void);
static void test_iss_aud(void);
static void test_required(void);
static void test_limits(void);
static void test_misc(void);


static const char   b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static const char  *payload_ok = "{\"sub\":\"user-1\",\"exp\":4102444800}";


static char *
tok(int alg, const char *kid, const char *payload)
{
    char  header[256];

    if (kid) {
        snprintf(header, sizeof(header), "{\"alg\":\"%s\",\"kid\":\"%s\"}",
                 velro_alg_name(alg), kid);

    } else {
        snprintf(header, sizeof(header), "{\"alg\":\"%s\"}",
                 velro_alg_name(alg));
    }

    return tok_h(alg, header, payload ? payload : payload_ok);
}


static char *
tok_h(int alg, const char *header, const char *payload)
{
    ut_key_t  key;

    key = ut_key_for(alg);

    return ut_token(alg, &key, header, payload);
}


static velro_jwt_rc_e
check(const char *token, const velro_jwt_policy_t *p,
    const velro_keyset_t *keys, time_t now)
{
    return ut_check(token, strlen(token), p, keys, now);
}


/* a correctly signed HS256 token with this payload, through all checks */

static velro_jwt_rc_e
check_claims(const char *payload, const velro_jwt_policy_t *p, time_t now)
{
    char            *t;
    velro_jwt_rc_e   rc;

    t = tok(VELRO_ALG_HS256, "hs1", payload);
    rc = check(t, p, ut.jwks, now);
    free(t);

    return rc;
}


static void
test_base64url(void)
{
    int             i, j, bad;
    long            n;
    char           *enc;
    unsigned char   buf[64], in[48];

    is_int(velro_base64url_decode(buf, "", 0), 0, "b64: empty is 0 bytes");

    n = velro_base64url_decode(buf, "Zg", 2);
    ok(n == 1 && buf[0] == 'f', "b64: \"Zg\" is \"f\"");

    n = velro_base64url_decode(buf, "Zm8", 3);
    ok(n == 2 && memcmp(buf, "fo", 2) == 0, "b64: \"Zm8\" is \"fo\"");

    n = velro_base64url_decode(buf, "Zm9v", 4);
    ok(n == 3 && memcmp(buf, "foo", 3) == 0, "b64: \"Zm9v\" is \"foo\"");

    n = velro_base64url_decode(buf, "-_-_", 4);
    ok(n == 3 && buf[0] == 0xfb && buf[1] == 0xff && buf[2] == 0xbf,
       "b64: '-' and '_' are 62 and 63");

    is_int(velro_base64url_decode(buf, "Z", 1), -1, "b64: 1 char refused");
    is_int(velro_base64url_decode(buf, "Zm9vY", 5), -1,
           "b64: 4n+1 chars refused");
    is_int(velro_base64url_decode(buf, "Zh", 2), -1,
           "b64: non-canonical trailing bits (2 chars) refused");
    is_int(velro_base64url_decode(buf, "Zm9", 3), -1,
           "b64: non-canonical trailing bits (3 chars) refused");
    is_int(velro_base64url_decode(buf, "Zg==", 4), -1,
           "b64: '=' padding refused");
    is_int(velro_base64url_decode(buf, "Zm8=", 4), -1,
           "b64: one '=' refused");
    is_int(velro_base64url_decode(buf, "Zm+v", 4), -1, "b64: '+' refused");
    is_int(velro_base64url_decode(buf, "Zm/v", 4), -1, "b64: '/' refused");
    is_int(velro_base64url_decode(buf, "Zm v", 4), -1, "b64: space refused");
    is_int(velro_base64url_decode(buf, "Zm\0v", 4), -1, "b64: NUL refused");
    is_int(velro_base64url_decode(buf, "Zm\xc3\xa9", 4), -1,
           "b64: 8-bit bytes refused");

    /* every length and byte value round-trips with an independent encoder */

    bad = 0;

    for (i = 0; i <= (int) sizeof(in); i++) {
        for (j = 0; j < i; j++) {
            in[j] = (unsigned char) (j * 37 + i * 11 + 255 * (j & 1));
        }

        enc = ut_b64url(in, (size_t) i);
        n = velro_base64url_decode(buf, enc, strlen(enc));

        if (n != i || memcmp(buf, in, (size_t) i) != 0) {
            bad++;
        }

        free(enc);
    }

    is_int(bad, 0, "b64: lengths 0..48 round-trip");

    bad = 0;

    /*
     * The expected set comes from memchr(), not from a chain of range
     * tests: gcc 12.2 -O1 miscompiles "(n >= 0) != (c >= 'A' && ...)".
     */

    for (i = 0; i < 256; i++) {
        char  s[4] = { 'A', 'A', 'A', 'A' };

        s[1] = (char) i;
        n = velro_base64url_decode(buf, s, 4);
        j = memchr(b64_alphabet, i, 64) != NULL;

        if ((n >= 0) != j) {
            diag("byte %d: %ld", i, n);
            bad++;
        }
    }

    is_int(bad, 0, "b64: exactly the 64 base64url characters accepted");
}


static void
test_algorithms(void)
{
    int                 alg;
    char               *t;
    velro_jwt_t         jwt;
    velro_jwt_rc_e      rc;
    velro_jwt_policy_t  p;

    ut_policy(&p);

    for (alg = 0; alg < VELRO_ALG_COUNT; alg++) {
        t = tok(alg, ut_kid_for(alg), NULL);

        rc = velro_jwt_parse(&jwt, t, strlen(t), p.max_len);
        is_str(RC(rc), "valid", "%s: parses", velro_alg_name(alg));
        is_int(jwt.alg, alg, "%s: alg read", velro_alg_name(alg));
        is_str(jwt.kid, ut_kid_for(alg), "%s: kid read", velro_alg_name(alg));
        is_str(jwt.sub, "user-1", "%s: sub read", velro_alg_name(alg));
        is_int(jwt.exp, UT_EXP, "%s: exp read", velro_alg_name(alg));

        rc = velro_jwt_verify(&jwt, &p, ut.jwks);
        is_str(RC(rc), "valid", "%s: verifies with kid", velro_alg_name(alg));

        rc = velro_jwt_check_claims(&jwt, &p, UT_NOW);
        is_str(RC(rc), "valid", "%s: claims pass", velro_alg_name(alg));

        velro_jwt_free(&jwt);
        free(t);

        t = tok(alg, NULL, NULL);
        is_str(RC(check(t, &p, ut.jwks, UT_NOW)), "valid",
               "%s: verifies without kid (keys of its type tried)",
               velro_alg_name(alg));
        free(t);
    }
}


static void
test_signatures(void)
{
    int                 alg, bit;
    char               *t, *t2;
    size_t              len;
    ut_key_t            key;
    unsigned char      *sig;
    velro_jwt_policy_t  p;

    ut_policy(&p);

    for (alg = 0; alg < VELRO_ALG_COUNT; alg++) {
        t = tok(alg, ut_kid_for(alg), NULL);
        sig = ut_token_sig(t, &len);

        /* a flipped bit at the start, the middle and the end */

        for (bit = 0; bit < 3; bit++) {
            size_t  at = (bit == 0) ? 0 : (bit == 1) ? len / 2 : len - 1;

            sig[at] ^= (unsigned char) (1 << (bit * 3));
            t2 = ut_token_set_sig(t, sig, len);
            sig[at] ^= (unsigned char) (1 << (bit * 3));

            is_str(RC(check(t2, &p, ut.jwks, UT_NOW)), "signature",
                   "%s: bit flipped in signature byte %zu refused",
                   velro_alg_name(alg), at);
            free(t2);
        }

        t2 = ut_token_set_sig(t, sig, len - 1);
        is_str(RC(check(t2, &p, ut.jwks, UT_NOW)), "signature",
               "%s: signature one byte short refused", velro_alg_name(alg));
        free(t2);

        t2 = ut_token_set_sig(t, sig, 1);
        is_str(RC(check(t2, &p, ut.jwks, UT_NOW)), "signature",
               "%s: 1-byte signature refused", velro_alg_name(alg));
        free(t2);

        /* base64url text cut to 4n+1 characters */
        t2 = strdup(t);
        len = strlen(t2);
        while ((len - (size_t) (strrchr(t2, '.') - t2) - 1) % 4 != 1) {
            len--;
        }
        t2[len] = '\0';
        is_str(RC(check(t2, &p, ut.jwks, UT_NOW)), "malformed",
               "%s: signature text cut to 4n+1 chars is malformed",
               velro_alg_name(alg));
        free(t2);

        /* the signature of another token */
        t2 = tok(alg, ut_kid_for(alg),
                 "{\"sub\":\"user-2\",\"exp\":4102444800}");
        free(sig);
        sig = ut_token_sig(t2, &len);
        free(t2);
        t2 = ut_token_set_sig(t, sig, len);
        is_str(RC(check(t2, &p, ut.jwks, UT_NOW)), "signature",
               "%s: signature of another payload refused",
               velro_alg_name(alg));
        free(t2);

        free(sig);
        free(t);
    }

    /* ECDSA: only raw R || S (RFC 7518 3.4), never DER */

    key = ut_key_for(VELRO_ALG_ES256);
    key.der = 1;
    t = ut_token(VELRO_ALG_ES256, &key, "{\"alg\":\"ES256\",\"kid\":\"ec256\"}",
                 payload_ok);
    is_str(RC(check(t, &p, ut.jwks, UT_NOW)), "signature",
           "ES256: DER signature refused");
    free(t);

    key = ut_key_for(VELRO_ALG_ES384);
    key.der = 1;
    t = ut_token(VELRO_ALG_ES384, &key, "{\"alg\":\"ES384\"}", payload_ok);
    is_str(RC(check(t, &p, ut.jwks, UT_NOW)), "signature",
           "ES384: DER signature refused");
    free(t);

    /* all-zero signatures of the right length */

    for (alg = 0; alg < VELRO_ALG_COUNT; alg++) {
        unsigned char  zero[512];

        memset(zero, 0, sizeof(zero));
        t = tok(alg, NULL, NULL);
        sig = ut_token_sig(t, &len);
        t2 = ut_token_set_sig(t, zero, len);
        is_str(RC(check(t2, &p, ut.jwks, UT_NOW)), "signature",
               "%s: all-zero signature refused", velro_alg_name(alg));
        free(t2);
        free(sig);
        free(t);
    }

    /* signed by a key that is not in the set */

    key.pkey = ut.rsa2;
    key.secret = NULL;
    t = ut_token(VELRO_ALG_RS256, &key, "{\"alg\":\"RS256\",\"kid\":\"rsa1\"}",
                 payload_ok);
    is_str(RC(check(t, &p, ut.jwks, UT_NOW)), "signature",
           "RS256 signed by rsa2 with kid rsa1 refused");
    free(t);

    /* PSS signature presented as RS256, and the reverse */

    key.pkey = ut.rsa;
    t = ut_token(VELRO_ALG_PS256, &key, "{\"alg\":\"RS256\",\"kid\":\"rsa1\"}",
                 payload_ok);
    is_str(RC(check(t, &p, ut.jwks, UT_NOW)), "signature",
           "PS256 signature under \"alg\":\"RS256\" refused");
    free(t);

    t = ut_token(VELRO_ALG_RS256, &key, "{\"alg\":\"PS256\",\"kid\":\"rsa1\"}",
                 payload_ok);
    is_str(RC(check(t, &p, ut.jwks, UT_NOW)), "signature",
           "RS256 signature under \"alg\":\"PS256\" refused");
    free(t);

    t = ut_token(VELRO_ALG_RS384, &key, "{\"alg\":\"RS256\",\"kid\":\"rsa1\"}",
                 payload_ok);
    is_str(RC(check(t, &p, ut.jwks, UT_NOW)), "signature",
           "RS384 signature under \"alg\":\"RS256\" refused");
    free(t);

    /* HS512 signature under HS256: the MAC length differs */

    key = ut_key_for(VELRO_ALG_HS512);
    t = ut_token(VELRO_ALG_HS512, &key, "{\"alg\":\"HS256\",\"kid\":\"hs1\"}",
                 payload_ok);
    is_str(RC(check(t, &p, ut.jwks, UT_NOW)), "signature",
           "HS512 MAC under \"alg\":\"HS256\" refused");
    free(t);

    /* the MAC of the token with the signature part of the header changed */

    t = tok(VELRO_ALG_HS256, "hs1", NULL);
    t2 = strdup(t);
    t2[strchr(t2, '.') - t2 - 1] ^= 1;
    ok(strcmp(RC(check(t2, &p, ut.jwks, UT_NOW)), "valid") != 0,
       "HS256: a changed header character is not valid");
    free(t2);
    free(t);
}


static void
test_alg_header(void)
{
    int                 i;
    char               *t, *pem, hdr[128];
    size_t              pem_len;
    ut_key_t            key;
    velro_keyset_t     *pub;
    velro_jwt_policy_t  p;
    char                err[256];
    static const char  *nones[] = { "none", "NONE", "None", "nOnE" };

    ut_policy(&p);

    for (i = 0; i < 4; i++) {
        snprintf(hdr, sizeof(hdr), "{\"alg\":\"%s\"}", nones[i]);

        t = ut_token_unsigned(hdr, strlen(hdr), payload_ok,
                              strlen(payload_ok), "");
        is_str(RC(check(t, &p, ut.jwks, UT_NOW)), "alg",
               "\"alg\":\"%s\" without signature refused", nones[i]);
        free(t);

        t = ut_token_unsigned(hdr, strlen(hdr), payload_ok,
                              strlen(payload_ok), "AAAA");
        is_str(RC(check(t, &p, ut.jwks, UT_NOW)), "alg",
               "\"alg\":\"%s\" with a signature refused", nones[i]);
        free(t);
    }

    t = ut_token_unsigned("{\"alg\":\"hs256\"}", 15, payload_ok,
                          strlen(payload_ok), "AAAA");
    is_str(RC(check(t, &p, ut.jwks, UT_NOW)), "alg",
           "\"alg\" is case-sensitive (hs256)");
    free(t);

    t = ut_token_unsigned("{\"alg\":\"HS1024\"}", 16, payload_ok,
                          strlen(payload_ok), "AAAA");
    is_str(RC(check(t, &p, ut.jwks, UT_NOW)), "alg", "unknown \"alg\"");
    free(t);

    t = ut_token_unsigned("{\"alg\":\"ES512\"}", 15, payload_ok,
                          strlen(payload_ok), "AAAA");
    is_str(RC(check(t, &p, ut.jwks, UT_NOW)), "alg", "ES512 not supported");
    free(t);

    t = ut_token_unsigned("{\"alg\":\"\"}", 10, payload_ok,
                          strlen(payload_ok), "AAAA");
    is_str(RC(check(t, &p, ut.jwks, UT_NOW)), "alg", "empty \"alg\"");
    free(t);

    t = ut_token_unsigned("{\"alg\":256}", 11, payload_ok,
                          strlen(payload_ok), "AAAA");
    is_str(RC(check(t, &p, ut.jwks, UT_NOW)), "malformed",
           "\"alg\" not a string");
    free(t);

    t = ut_token_unsigned("{\"typ\":\"JWT\"}", 13, payload_ok,
                          strlen(payload_ok), "AAAA");
    is_str(RC(check(t, &p, ut.jwks, UT_NOW)), "malformed", "no \"alg\"");
    free(t);

    t = ut_token_unsigned("{\"alg\":\"RS256\\u0000\"}", 21, payload_ok,
                          strlen(payload_ok), "AAAA");
    is_str(RC(check(t, &p, ut.jwks, UT_NOW)), "malformed",
           "\"alg\" with \\u0000 refused");
    free(t);

    /* the allow-list */

    p.algs = VELRO_ALG_DEFAULT;

    for (i = 0; i < VELRO_ALG_COUNT; i++) {
        t = tok(i, ut_kid_for(i), NULL);
        is_str(RC(check(t, &p, ut.jwks, UT_NOW)),
               (VELRO_ALG_DEFAULT & (1u << i)) ? "valid" : "alg",
               "default allow-list: %s %s", velro_alg_name(i),
               (VELRO_ALG_DEFAULT & (1u << i)) ? "accepted" : "refused");
        free(t);
    }

    p.algs = 1u << VELRO_ALG_RS384;
    t = tok(VELRO_ALG_RS256, "rsa1", NULL);
    is_str(RC(check(t, &p, ut.jwks, UT_NOW)), "alg",
           "RS256 refused when only RS384 is allowed");
    free(t);

    p.algs = 0;
    t = tok(VELRO_ALG_ES256, "ec256", NULL);
    is_str(RC(check(t, &p, ut.jwks, UT_NOW)), "alg",
           "empty allow-list refuses all");
    free(t);

    /*
     * Algorithm confusion: HS256 "signed" with the RSA public key's PEM
     * text as the HMAC secret.  The RSA key must never act as a secret.
     */

    ut_policy(&p);

    pem = ut_read_key_file("rsa.pub", &pem_len);
    memset(&key, 0, sizeof(ut_key_t));
    key.secret = (unsigned char *) pem;
    key.secret_len = pem_len;

    t = ut_token(VELRO_ALG_HS256, &key, "{\"alg\":\"HS256\",\"kid\":\"rsa1\"}",
                 payload_ok);
    is_str(RC(check(t, &p, ut.jwks, UT_NOW)), "alg",
           "confusion: HS256 with the RSA PEM as secret, kid rsa1: alg");
    free(t);

    t = ut_token(VELRO_ALG_HS256, &key, "{\"alg\":\"HS256\"}", payload_ok);

    pub = ut_keyset(pem, &i, err, sizeof(err));
    is_int(i, 1, "confusion: rsa.pub loads");
    is_str(RC(check(t, &p, pub, UT_NOW)), "kid",
           "confusion: HS256 with the PEM as secret, PEM key set: kid");
    ok(strcmp(RC(check(t, &p, ut.jwks, UT_NOW)), "valid") != 0,
       "confusion: HS256 with the PEM as secret, no kid, JWKS: refused");
    velro_keyset_free(pub);
    free(t);

    /* and with the PEM without its final newline, and the DER key */

    key.secret_len = pem_len - 1;
    t = ut_token(VELRO_ALG_HS512, &key, "{\"alg\":\"HS512\",\"kid\":\"rsa1\"}",
                 payload_ok);
    is_str(RC(check(t, &p, ut.jwks, UT_NOW)), "alg",
           "confusion: HS512 with the PEM as secret, kid rsa1: alg");
    free(t);
    free(pem);

    /* an EdDSA token whose kid names the EC key */

    t = tok(VELRO_ALG_EDDSA, "ec256", NULL);
    is_str(RC(check(t, &p, ut.jwks, UT_NOW)), "alg",
           "EdDSA token with kid of a P-256 key: alg");
    free(t);
}


static void
test_kid(void)
{
    int                 rc;
    char               *t, *text, err[256];
    size_t              len;
    ut_key_t            key;
    velro_keyset_t     *ks;
    velro_jwt_policy_t  p;

    ut_policy(&p);

    t = tok(VELRO_ALG_RS256, "nope", NULL);
    is_str(RC(check(t, &p, ut.jwks, UT_NOW)), "kid", "unknown kid: kid");
    free(t);

    t = tok(VELRO_ALG_RS256, "", NULL);
    is_str(RC(check(t, &p, ut.jwks, UT_NOW)), "kid", "empty kid: kid");
    free(t);

    t = tok(VELRO_ALG_RS256, "RSA1", NULL);
    is_str(RC(check(t, &p, ut.jwks, UT_NOW)), "kid", "kid is case-sensitive");
    free(t);

    t = tok(VELRO_ALG_ES256, "rsa1", NULL);
    is_str(RC(check(t, &p, ut.jwks, UT_NOW)), "alg",
           "ES256 with kid of the RSA key: alg");
    free(t);

    t = tok(VELRO_ALG_ES384, "ec256", NULL);
    is_str(RC(check(t, &p, ut.jwks, UT_NOW)), "alg",
           "ES384 with kid of the P-256 key: alg");
    free(t);

    t = tok(VELRO_ALG_HS256, "ed1", NULL);
    is_str(RC(check(t, &p, ut.jwks, UT_NOW)), "alg",
           "HS256 with kid of the Ed25519 key: alg");
    free(t);

    t = tok_h(VELRO_ALG_RS256, "{\"alg\":\"RS256\",\"kid\":1}", payload_ok);
    is_str(RC(check(t, &p, ut.jwks, UT_NOW)), "malformed",
           "kid not a string: malformed");
    free(t);

    t = tok_h(VELRO_ALG_RS256, "{\"alg\":\"RS256\",\"kid\":null}", payload_ok);
    is_str(RC(check(t, &p, ut.jwks, UT_NOW)), "malformed",
           "kid null: malformed");
    free(t);

    t = tok(VELRO_ALG_RS256, "rsa1", NULL);
    is_str(RC(check(t, &p, NULL, UT_NOW)), "kid", "no key set: kid");
    free(t);

    t = tok(VELRO_ALG_RS256, NULL, NULL);
    ks = velro_keyset_new();
    is_str(RC(check(t, &p, ks, UT_NOW)), "kid", "empty key set: kid");
    velro_keyset_free(ks);
    free(t);

    /* rotation: both sets merged, each kid selects its own key */

    text = ut_read_key_file("jwks.json", &len);
    ks = ut_keyset(text, &rc, err, sizeof(err));
    free(text);
    text = ut_read_key_file("jwks-rotated.json", &len);
    is_int(velro_keyset_add_text(ks, text, len, err, sizeof(err)), 1,
           "rotation: jwks-rotated.json adds 1 key");
    free(text);

    memset(&key, 0, sizeof(ut_key_t));
    key.pkey = ut.rsa2;

    t = ut_token(VELRO_ALG_RS256, &key, "{\"alg\":\"RS256\",\"kid\":\"rsa2\"}",
                 payload_ok);
    is_str(RC(check(t, &p, ks, UT_NOW)), "valid", "rotation: kid rsa2 valid");
    is_str(RC(check(t, &p, ut.jwks, UT_NOW)), "kid",
           "rotation: kid rsa2 unknown to the old set");
    free(t);

    t = ut_token(VELRO_ALG_RS256, &key, "{\"alg\":\"RS256\"}", payload_ok);
    is_str(RC(check(t, &p, ks, UT_NOW)), "valid",
           "rotation: no kid, second RSA key tried");
    free(t);

    t = ut_token(VELRO_ALG_RS256, &key, "{\"alg\":\"RS256\",\"kid\":\"rsa1\"}",
                 payload_ok);
    is_str(RC(check(t, &p, ks, UT_NOW)), "signature",
           "rotation: signed by rsa2 with kid rsa1: signature");
    free(t);

    velro_keyset_free(ks);

    /* a key restricted by its JWK "alg" */

    text = ut_read_key_file("jwks.json", &len);
    ks = velro_keyset_new();
    is_int(velro_keyset_add_text(ks, text, len, err, sizeof(err)), 5,
           "jwks.json loads again");
    free(text);

    ks->keys[0].alg = VELRO_ALG_RS256;       /* as "alg":"RS256" would */

    t = tok(VELRO_ALG_RS384, "rsa1", NULL);
    is_str(RC(check(t, &p, ks, UT_NOW)), "alg",
           "key with \"alg\":\"RS256\" refuses an RS384 token");
    free(t);

    t = tok(VELRO_ALG_PS256, "rsa1", NULL);
    is_str(RC(check(t, &p, ks, UT_NOW)), "alg",
           "key with \"alg\":\"RS256\" refuses a PS256 token");
    free(t);

    t = tok(VELRO_ALG_RS256, "rsa1", NULL);
    is_str(RC(check(t, &p, ks, UT_NOW)), "valid",
           "key with \"alg\":\"RS256\" accepts an RS256 token");
    free(t);

    velro_keyset_free(ks);
}


static void
test_structure(void)
{
    size_t              i;
    char               *t, *t2;
    velro_jwt_policy_t  p;
    static const struct {
        const char  *token;
        const char  *name;
    } bad[] = {
        { "", "empty token" },
        { "eyJhbGciOiJIUzI1NiJ9", "1 segment" },
        { "eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjF9", "2 segments" },
        { "eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjF9.AAAA.AAAA", "4 segments" },
        { "eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZHQ00ifQ.AAAA.AAAA.AAAA.AAAA",
          "5 segments (JWE)" },
        { "eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjF9.AAAA.AAAA.AAAA.AAAA",
          "6 segments" },
        { "..", "three empty segments" },
        { ".eyJleHAiOjF9.AAAA", "empty header" },
        { "eyJhbGciOiJIUzI1NiJ9..AAAA", "empty payload" },
        { "eyJhbGciOiJIUzI1NiJ9=.eyJleHAiOjF9.AAAA", "'=' in header" },
        { "eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjF9.AA==", "'=' padding in sig" },
        { "eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjF9.AA+/", "'+' '/' in signature" },
        { "eyJhbGciOiJIUzI1NiJ9 .eyJleHAiOjF9.AAAA", "space in token" },
        { " eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjF9.AAAA", "leading space" },
        { "eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjF9.AAAA\n", "trailing newline" },
        { "Bearer eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjF9.AAAA", "scheme inside" },
        { "eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjF9.A", "4n+1 signature chars" },
        { "eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjF9.AB", "sig trailing bits" },
        { "eyJhbGciOiJIUzI1NiJ8.eyJleHAiOjF9.AAAA", "header trailing bits" },
        { "eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjF8.AAAA", "payload trailing bits" },
        { "eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjF9.\xff\xfe", "8-bit signature" }
    };

    ut_policy(&p);

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        is_str(RC(check(bad[i].token, &p, ut.jwks, UT_NOW)), "malformed",
               "structure: %s", bad[i].name);
    }

    t = ut_token_unsigned("{\"alg\":\"HS256\"}", 15, payload_ok,
                          strlen(payload_ok), "");
    is_str(RC(check(t, &p, ut.jwks, UT_NOW)), "signature",
           "structure: empty signature");
    free(t);

    /* a valid token with '=' padding added to each part */

    t = tok(VELRO_ALG_ES256, "ec256", NULL);
    ok(strcmp(RC(check(t, &p, ut.jwks, UT_NOW)), "valid") == 0,
       "structure: the unpadded token is valid");

    for (i = 0; i < 3; i++) {
        const char  *dot;
        size_t       at, len;

        len = strlen(t);
        dot = t;
        at = 0;

        if (i < 2) {
            dot = strchr(t, '.');
            if (i == 1) {
                dot = strchr(dot + 1, '.');
            }
            at = (size_t) (dot - t);

        } else {
            at = len;
        }

        t2 = malloc(len + 3);
        memcpy(t2, t, at);
        memcpy(t2 + at, "==", 2);
        memcpy(t2 + at + 2, t + at, len - at + 1);

        is_str(RC(check(t2, &p, ut.jwks, UT_NOW)), "malformed",
               "structure: \"==\" after segment %zu refused", i);
        free(t2);
    }

    /* NUL bytes inside the token (the length covers them) */

    {
        size_t  len;

        len = strlen(t);

        t2 = malloc(len + 1);
        memcpy(t2, t, len + 1);
        t2[5] = '\0';
        is_str(RC(ut_check(t2, len, &p, ut.jwks, UT_NOW)), "malformed",
               "NUL byte inside the header segment refused");

        memcpy(t2, t, len + 1);
        t2[len - 1] = '\0';
        is_str(RC(ut_check(t2, len, &p, ut.jwks, UT_NOW)), "malformed",
               "NUL byte as the last signature byte refused");

        memcpy(t2, t, len + 1);
        t2[strchr(t2, '.') - t2] = '\0';
        is_str(RC(ut_check(t2, len, &p, ut.jwks, UT_NOW)), "malformed",
               "NUL byte in place of the first dot refused");
        free(t2);

        t2 = malloc(len + 2);
        memcpy(t2, t, len + 1);
        t2[len + 1] = '\0';
        is_str(RC(ut_check(t2, len + 1, &p, ut.jwks, UT_NOW)), "malformed",
               "trailing NUL byte counted in the length refused");
        free(t2);
    }

    free(t);
}


static void
test_json(void)
{
    char               *t;
    velro_jwt_policy_t  p;
    static const char   raw_nul[] = "{\"alg\":\"HS256\",\0\"kid\":\"hs1\"}";
    static const char   raw_nul_p[] = "{\"sub\":\"a\0b\",\"exp\":4102444800}";

    ut_policy(&p);

#define HDR_BAD(h, name)                                                      \
    t = ut_token_unsigned(h, sizeof(h) - 1, payload_ok, strlen(payload_ok),   \
                          "AAAA");                                            \
    is_str(RC(check(t, &p, ut.jwks, UT_NOW)), "malformed", name);             \
    free(t)

#define PAY_BAD(pl, rc, name)                                                 \
    t = tok_h(VELRO_ALG_HS256, "{\"alg\":\"HS256\",\"kid\":\"hs1\"}", pl);   \
    is_str(RC(check(t, &p, ut.jwks, UT_NOW)), rc, name);                      \
    free(t)

    HDR_BAD("not json", "header: not JSON");
    HDR_BAD("[\"alg\",\"HS256\"]", "header: JSON array");
    HDR_BAD("\"HS256\"", "header: JSON string");
    HDR_BAD("42", "header: JSON number");
    HDR_BAD("null", "header: JSON null");
    HDR_BAD("{\"alg\":\"HS256\"", "header: truncated object");
    HDR_BAD("{\"alg\":\"HS256\"} {}", "header: two objects");
    HDR_BAD("{\"alg\":\"HS256\",\"alg\":\"HS256\"}",
            "header: duplicate \"alg\"");
    HDR_BAD("{\"alg\":\"RS256\",\"kid\":\"a\",\"kid\":\"b\"}",
            "header: duplicate \"kid\"");
    HDR_BAD("{\"alg\":\"HS256\",\"kid\":\"a\\u0000b\"}",
            "header: \\u0000 inside a string");
    HDR_BAD("{\"alg\":\"HS256\",\"x\":\"\xff\"}", "header: invalid UTF-8");
    HDR_BAD("\xef\xbb\xbf{\"alg\":\"HS256\"}", "header: UTF-8 BOM");

    t = ut_token_unsigned(raw_nul, sizeof(raw_nul) - 1, payload_ok,
                          strlen(payload_ok), "AAAA");
    is_str(RC(check(t, &p, ut.jwks, UT_NOW)), "malformed",
           "header: raw NUL byte inside the JSON");
    free(t);

    t = ut_token_unsigned("{\"alg\":\"HS256\"}", 15, raw_nul_p,
                          sizeof(raw_nul_p) - 1, "AAAA");
    is_str(RC(check(t, &p, ut.jwks, UT_NOW)), "malformed",
           "payload: raw NUL byte inside the JSON");
    free(t);

    PAY_BAD("[1,2]", "malformed", "payload: JSON array");
    PAY_BAD("not json", "malformed", "payload: not JSON");
    PAY_BAD("{\"exp\":4102444800,\"exp\":4102444800}", "malformed",
            "payload: duplicate \"exp\"");
    PAY_BAD("{\"sub\":\"a\",\"sub\":\"b\",\"exp\":4102444800}", "malformed",
            "payload: duplicate \"sub\"");
    PAY_BAD("{\"sub\":\"a\\u0000b\",\"exp\":4102444800}", "malformed",
            "payload: \\u0000 inside \"sub\"");
    PAY_BAD("{\"sub\":\"\",\"exp\":4102444800}", "claim",
            "payload: empty \"sub\"");
    PAY_BAD("{\"sub\":42,\"exp\":4102444800}", "claim",
            "payload: numeric \"sub\"");
    PAY_BAD("{\"sub\":null,\"exp\":4102444800}", "claim",
            "payload: null \"sub\"");
    PAY_BAD("{\"exp\":4102444800}", "valid", "payload: no \"sub\" is fine");

    /* crit, in any form, is refused: no extension is understood */

    t = tok_h(VELRO_ALG_HS256,
              "{\"alg\":\"HS256\",\"kid\":\"hs1\",\"crit\":[\"exp\"]}",
              payload_ok);
    is_str(RC(check(t, &p, ut.jwks, UT_NOW)), "crit", "crit: [\"exp\"]");
    free(t);

    t = tok_h(VELRO_ALG_HS256,
              "{\"alg\":\"HS256\",\"crit\":[\"b64\"],\"b64\":false}",
              payload_ok);
    is_str(RC(check(t, &p, ut.jwks, UT_NOW)), "crit", "crit: b64");
    free(t);

    t = tok_h(VELRO_ALG_HS256, "{\"alg\":\"HS256\",\"crit\":[]}", payload_ok);
    is_str(RC(check(t, &p, ut.jwks, UT_NOW)), "crit", "crit: empty array");
    free(t);

    t = tok_h(VELRO_ALG_HS256, "{\"alg\":\"HS256\",\"crit\":null}",
              payload_ok);
    is_str(RC(check(t, &p, ut.jwks, UT_NOW)), "crit", "crit: null");
    free(t);

    /* unknown header members are ignored */

    t = tok_h(VELRO_ALG_HS256,
              "{\"typ\":\"JWT\",\"alg\":\"HS256\",\"x5u\":\"http://x\","
              "\"jku\":\"http://evil\",\"jwk\":{\"kty\":\"oct\",\"k\":\"AA\"}}",
              payload_ok);
    is_str(RC(check(t, &p, ut.jwks, UT_NOW)), "valid",
           "header: jku/jwk/x5u are ignored, never used as keys");
    free(t);

#undef HDR_BAD
#undef PAY_BAD
}


static void
test_times(void)
{
    velro_jwt_t         jwt;
    velro_jwt_policy_t  p;
    char               *t;

    ut_policy(&p);

    is_str(RC(check_claims("{\"sub\":\"a\"}", &p, UT_NOW)), "claim",
           "exp missing");
    is_str(RC(check_claims("{\"exp\":\"4102444800\"}", &p, UT_NOW)), "claim",
           "exp a string");
    is_str(RC(check_claims("{\"exp\":true}", &p, UT_NOW)), "claim",
           "exp a boolean");
    is_str(RC(check_claims("{\"exp\":null}", &p, UT_NOW)), "claim",
           "exp null");
    is_str(RC(check_claims("{\"exp\":[4102444800]}", &p, UT_NOW)), "claim",
           "exp an array");
    is_str(RC(check_claims("{\"exp\":1e300}", &p, UT_NOW)), "claim",
           "exp 1e300 out of range");
    is_str(RC(check_claims("{\"exp\":-1e300}", &p, UT_NOW)), "claim",
           "exp -1e300 out of range");
    is_str(RC(check_claims("{\"exp\":4102444800.5}", &p, UT_NOW)), "valid",
           "exp a float in the future");
    is_str(RC(check_claims("{\"exp\":4.1024448e9}", &p, UT_NOW)), "valid",
           "exp in exponent notation");
    is_str(RC(check_claims("{\"exp\":1699999999.9}", &p, UT_NOW)), "expired",
           "exp a float in the past");
    is_str(RC(check_claims("{\"exp\":1700000000.5}", &p, UT_NOW)), "expired",
           "exp float within the current second is floored: expired");
    is_str(RC(check_claims("{\"exp\":1699999999}", &p, UT_NOW)), "expired",
           "exp one second ago");
    is_str(RC(check_claims("{\"exp\":0}", &p, UT_NOW)), "expired", "exp 0");
    is_str(RC(check_claims("{\"exp\":-9223372036854775808}", &p, UT_NOW)),
           "expired", "exp INT64_MIN");
    is_str(RC(check_claims("{\"exp\":99999999999999999999}", &p, UT_NOW)),
           "malformed", "exp beyond int64 is not JSON to jansson");

    p.leeway = 60;
    is_str(RC(check_claims("{\"exp\":9223372036854775807}", &p, UT_NOW)),
           "valid", "exp INT64_MAX with leeway 60 is not expired");
    is_str(RC(check_claims("{\"exp\":9.2e18}", &p, UT_NOW)), "valid",
           "exp 9.2e18 with leeway 60 is not expired");
    is_str(RC(check_claims("{\"exp\":4102444800,\"nbf\":-9223372036854775808,"
                           "\"iat\":-9223372036854775807}", &p, UT_NOW)),
           "valid", "nbf INT64_MIN, iat INT64_MIN + 1 with leeway 60");
    p.leeway = 0;

    is_str(RC(check_claims("{\"exp\":4102444800,\"nbf\":1700000001}", &p,
                           UT_NOW)), "nbf", "nbf one second ahead");
    is_str(RC(check_claims("{\"exp\":4102444800,\"nbf\":4000000000}", &p,
                           UT_NOW)), "nbf", "nbf far ahead");
    is_str(RC(check_claims("{\"exp\":4102444800,\"nbf\":1700000000}", &p,
                           UT_NOW)), "valid", "nbf now");
    is_str(RC(check_claims("{\"exp\":4102444800,\"nbf\":\"1\"}", &p,
                           UT_NOW)), "claim", "nbf a string");
    is_str(RC(check_claims("{\"exp\":4102444800,\"nbf\":null}", &p,
                           UT_NOW)), "claim", "nbf null");
    is_str(RC(check_claims("{\"exp\":4102444800,\"iat\":1700000001}", &p,
                           UT_NOW)), "iat", "iat one second ahead");
    is_str(RC(check_claims("{\"exp\":4102444800,\"iat\":1700000000}", &p,
                           UT_NOW)), "valid", "iat now");
    is_str(RC(check_claims("{\"exp\":4102444800,\"iat\":1}", &p,
                           UT_NOW)), "valid", "iat long ago");
    is_str(RC(check_claims("{\"exp\":4102444800,\"iat\":false}", &p,
                           UT_NOW)), "claim", "iat a boolean");
    is_str(RC(check_claims("{\"exp\":1600000000,\"nbf\":4000000000}", &p,
                           UT_NOW)), "expired", "expired is reported first");

    /* the parsed values */

    t = tok(VELRO_ALG_HS256, "hs1",
            "{\"exp\":4102444800.75,\"nbf\":-1.5,\"iat\":1600000000}");
    is_str(RC(velro_jwt_parse(&jwt, t, strlen(t), 4096)), "valid",
           "float times parse");
    is_int(jwt.exp, 4102444800LL, "exp 4102444800.75 floors to 4102444800");
    is_int(jwt.nbf, -1, "nbf -1.5 rounds up to -1 (the strict side)");
    is_int(jwt.iat, 1600000000, "iat read");
    ok(jwt.sub == NULL, "sub absent is NULL");
    velro_jwt_free(&jwt);
    free(t);

    t = tok(VELRO_ALG_HS256, "hs1", "{\"exp\":4102444800}");
    velro_jwt_parse(&jwt, t, strlen(t), 4096);
    ok(jwt.nbf == INT64_MIN && jwt.iat == INT64_MIN,
       "absent nbf and iat are INT64_MIN");
    velro_jwt_free(&jwt);
    free(t);
}


static void
test_leeway(void)
{
    long                l;
    size_t              i;
    velro_jwt_policy_t  p;
    static const long   leeways[] = { 0, 1, 30, 60, 300 };
    static const char  *exp = "{\"exp\":1700000000}";
    static const char  *nbf = "{\"exp\":4102444800,\"nbf\":1700000000}";
    static const char  *iat = "{\"exp\":4102444800,\"iat\":1700000000}";

    ut_policy(&p);

    for (i = 0; i < sizeof(leeways) / sizeof(leeways[0]); i++) {
        l = leeways[i];
        p.leeway = l;

        /* exp: valid while now < exp + leeway */
        is_str(RC(check_claims(exp, &p, UT_NOW + l - 1)), "valid",
               "leeway %ld: exp + leeway - 1 valid", l);
        is_str(RC(check_claims(exp, &p, UT_NOW + l)), "expired",
               "leeway %ld: exp + leeway expired", l);

        /* nbf: valid from nbf - leeway */
        is_str(RC(check_claims(nbf, &p, UT_NOW - l)), "valid",
               "leeway %ld: nbf - leeway valid", l);
        is_str(RC(check_claims(nbf, &p, UT_NOW - l - 1)), "nbf",
               "leeway %ld: nbf - leeway - 1 not yet valid", l);

        /* iat: valid from iat - leeway */
        is_str(RC(check_claims(iat, &p, UT_NOW - l)), "valid",
               "leeway %ld: iat - leeway valid", l);
        is_str(RC(check_claims(iat, &p, UT_NOW - l - 1)), "iat",
               "leeway %ld: iat - leeway - 1 in the future", l);
    }
}


static void
test_iss_aud(void)
{
    velro_jwt_policy_t  p;

    ut_policy(&p);

    p.issuer = "https://issuer.example";

    is_str(RC(check_claims("{\"exp\":4102444800,"
                           "\"iss\":\"https://issuer.example\"}", &p, UT_NOW)),
           "valid", "iss matches");
    is_str(RC(check_claims("{\"exp\":4102444800,"
                           "\"iss\":\"https://issuer.example/\"}", &p, UT_NOW)),
           "iss", "iss with a trailing slash");
    is_str(RC(check_claims("{\"exp\":4102444800,"
                           "\"iss\":\"https://ISSUER.example\"}", &p, UT_NOW)),
           "iss", "iss differs in case");
    is_str(RC(check_claims("{\"exp\":4102444800,"
                           "\"iss\":\"https://issuer.exampl\"}", &p, UT_NOW)),
           "iss", "iss a prefix");
    is_str(RC(check_claims("{\"exp\":4102444800}", &p, UT_NOW)), "iss",
           "iss missing");
    is_str(RC(check_claims("{\"exp\":4102444800,\"iss\":1}", &p, UT_NOW)),
           "iss", "iss a number");
    is_str(RC(check_claims("{\"exp\":4102444800,"
                           "\"iss\":[\"https://issuer.example\"]}", &p,
                           UT_NOW)),
           "iss", "iss an array");

    p.issuer = NULL;
    is_str(RC(check_claims("{\"exp\":4102444800,\"iss\":\"any\"}", &p,
                           UT_NOW)), "valid", "no issuer required: any");

    p.audiences[0] = "api";
    p.audiences[1] = "web";
    p.naudiences = 2;

    is_str(RC(check_claims("{\"exp\":4102444800,\"aud\":\"api\"}", &p,
                           UT_NOW)), "valid", "aud string, first accepted");
    is_str(RC(check_claims("{\"exp\":4102444800,\"aud\":\"web\"}", &p,
                           UT_NOW)), "valid", "aud string, second accepted");
    is_str(RC(check_claims("{\"exp\":4102444800,\"aud\":\"apix\"}", &p,
                           UT_NOW)), "aud", "aud string, no match");
    is_str(RC(check_claims("{\"exp\":4102444800,\"aud\":\"\"}", &p,
                           UT_NOW)), "aud", "aud empty string");
    is_str(RC(check_claims("{\"exp\":4102444800,"
                           "\"aud\":[\"x\",\"y\",\"web\"]}", &p, UT_NOW)),
           "valid", "aud array, match last");
    is_str(RC(check_claims("{\"exp\":4102444800,"
                           "\"aud\":[1,null,{\"a\":\"api\"},\"api\"]}", &p,
                           UT_NOW)),
           "valid", "aud array, non-strings skipped");
    is_str(RC(check_claims("{\"exp\":4102444800,"
                           "\"aud\":[\"x\",\"API\"]}", &p, UT_NOW)),
           "aud", "aud array, no match");
    is_str(RC(check_claims("{\"exp\":4102444800,\"aud\":[]}", &p, UT_NOW)),
           "aud", "aud empty array");
    is_str(RC(check_claims("{\"exp\":4102444800,\"aud\":[[\"api\"]]}", &p,
                           UT_NOW)),
           "aud", "aud nested array");
    is_str(RC(check_claims("{\"exp\":4102444800,\"aud\":1}", &p, UT_NOW)),
           "aud", "aud a number");
    is_str(RC(check_claims("{\"exp\":4102444800}", &p, UT_NOW)), "aud",
           "aud missing");

    p.naudiences = 0;
    is_str(RC(check_claims("{\"exp\":4102444800,\"aud\":\"other\"}", &p,
                           UT_NOW)), "valid", "no audience required: any");
    is_str(RC(check_claims("{\"exp\":4102444800}", &p, UT_NOW)), "valid",
           "no audience required: none");
}


static void
test_required(void)
{
    velro_jwt_policy_t  p;

    ut_policy(&p);

    p.required[0] = "scope";
    p.required[1] = "tenant";
    p.nrequired = 2;

    is_str(RC(check_claims("{\"exp\":4102444800,\"scope\":\"r\","
                           "\"tenant\":7}", &p, UT_NOW)),
           "valid", "required: both present");
    is_str(RC(check_claims("{\"exp\":4102444800,\"scope\":\"r\"}", &p,
                           UT_NOW)), "claim", "required: one missing");
    is_str(RC(check_claims("{\"exp\":4102444800,\"scope\":\"r\","
                           "\"tenant\":null}", &p, UT_NOW)),
           "claim", "required: null counts as missing");
    is_str(RC(check_claims("{\"exp\":4102444800,\"scope\":false,"
                           "\"tenant\":\"\"}", &p, UT_NOW)),
           "valid", "required: false and \"\" are present");
    is_str(RC(check_claims("{\"exp\":4102444800,\"Scope\":\"r\","
                           "\"tenant\":1}", &p, UT_NOW)),
           "claim", "required: names are case-sensitive");
}


static void
test_limits(void)
{
    char               *t, *payload;
    size_t              len, i;
    velro_jwt_policy_t  p;

    ut_policy(&p);

    t = tok(VELRO_ALG_ES256, "ec256", NULL);
    len = strlen(t);

    p.max_len = len;
    is_str(RC(check(t, &p, ut.jwks, UT_NOW)), "valid",
           "max_len: exactly the limit accepted");

    p.max_len = len - 1;
    is_str(RC(check(t, &p, ut.jwks, UT_NOW)), "too_large",
           "max_len: one byte over refused");

    p.max_len = 0;
    is_str(RC(check(t, &p, ut.jwks, UT_NOW)), "too_large",
           "max_len: 0 refuses all");

    p.max_len = 16;
    is_str(RC(check("not even a token, but long", &p, ut.jwks, UT_NOW)),
           "too_large", "max_len is checked before anything else");
    free(t);

    /* a large (but allowed) payload goes through the heap buffer path */

    payload = malloc(40000);
    len = (size_t) snprintf(payload, 40000, "{\"exp\":4102444800,\"pad\":\"");
    for (i = 0; i < 30000; i++) {
        payload[len++] = 'x';
    }
    memcpy(payload + len, "\"}", 3);

    ut_policy(&p);
    p.max_len = 65536;

    t = tok(VELRO_ALG_RS256, "rsa1", payload);
    is_str(RC(check(t, &p, ut.jwks, UT_NOW)), "valid",
           "40 KB token with a 30 KB claim");

    t[strlen(t) - 1] = t[strlen(t) - 1] == 'A' ? 'Q' : 'A';
    ok(strcmp(RC(check(t, &p, ut.jwks, UT_NOW)), "valid") != 0,
       "40 KB token with its last character changed refused");
    free(t);

    /* deep nesting in the header does not crash jansson */

    len = 0;
    len += (size_t) snprintf(payload, 40000, "{\"alg\":\"HS256\",\"x\":");
    for (i = 0; i < 5000; i++) {
        payload[len++] = '[';
    }
    for (i = 0; i < 5000; i++) {
        payload[len++] = ']';
    }
    memcpy(payload + len, "}", 2);

    t = ut_token_unsigned(payload, strlen(payload), payload_ok,
                          strlen(payload_ok), "AAAA");
    is_str(RC(check(t, &p, ut.jwks, UT_NOW)), "malformed",
           "header nested 5000 deep refused");
    free(t);
    free(payload);
}


static void
test_misc(void)
{
    int          i;
    char        *t;
    json_t      *j;
    const char  *s;

    is_str(velro_jwt_reason(VELRO_JWT_OK), "valid", "reason: OK");
    is_str(velro_jwt_reason(VELRO_JWT_EXPIRED), "expired", "reason: EXPIRED");
    is_str(velro_jwt_reason(VELRO_JWT_NREASONS), "internal",
           "reason: out of range");
    is_str(velro_jwt_reason((velro_jwt_rc_e) -1), "internal",
           "reason: negative");
    is_str(velro_jwt_description(VELRO_JWT_NREASONS), "internal error",
           "description: out of range");

    for (i = 0; i < VELRO_JWT_NREASONS; i++) {
        s = velro_jwt_description((velro_jwt_rc_e) i);

        if (s == NULL || strpbrk(s, "\"\\") != NULL) {
            break;
        }
    }

    is_int(i, VELRO_JWT_NREASONS,
           "descriptions: present, no quotes or backslashes");

    t = tok(VELRO_ALG_HS256, "hs1", NULL);

    j = velro_jwt_decode_segment(t, strlen(t), 0);
    is_str(json_string_value(json_object_get(j, "kid")), "hs1",
           "decode_segment 0: header");
    json_decref(j);

    j = velro_jwt_decode_segment(t, strlen(t), 1);
    is_str(json_string_value(json_object_get(j, "sub")), "user-1",
           "decode_segment 1: payload");
    json_decref(j);

    j = velro_jwt_decode_segment(t, strlen(t), 2);
    ok(j == NULL, "decode_segment 2: the signature is not JSON");

    j = velro_jwt_decode_segment(t, strlen(t), 3);
    ok(j == NULL, "decode_segment 3: no such segment");

    j = velro_jwt_decode_segment("", 0, 0);
    ok(j == NULL, "decode_segment of an empty token");

    free(t);
}


void
test_jwt(void)
{
    diag("velro_jwt.c");

    test_base64url();
    test_algorithms();
    test_signatures();
    test_alg_header();
    test_kid();
    test_structure();
    test_json();
    test_times();
    test_leeway();
    test_iss_aud();
    test_required();
    test_limits();
    test_misc();
}
