
/*
 * velro: libFuzzer target for the token path.
 *
 * The input is the bytes of a compact token.  It is parsed, verified
 * against a fixed key set (an embedded copy of t/keys/jwks.json, compacted,
 * plus t/keys/rsa.pub, loaded once) and its claims are checked at a fixed time,
 * the way the module does per request.
 */


#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "velro_jwk.h"
#include "velro_jwt.h"


#define FUZZ_NOW  1700000000


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_jwt_init(void);


static const char  fuzz_jwks[] =
    "{\"keys\":[{\"e\":\"AQAB\",\"kid\":\"rsa1\",\"kty\":\"RSA\",\"n\":\"lq"
    "s3TuvE94qm83FUok9oSUgHR7_6dg3fMAyB2yDYW9FopHZE61xHAixD0ahkTEBtx_03GlDJ"
    "5cZdo4o4e92heuGUvJ5A-v9UYCIwIuIc_ko8iMhmiKB40WuW9WUqeeqaOdUTZ6xzFMmtZZ"
    "4z2-SXXD366XZTzaEh1fPMkuIzDJ7e6fJUU08cHfEHAamJ09lDA0LfaNUTfTjG5a5EU-_X"
    "LLOLmW-QVDNN1_1-Grx5g-WHx5ULfyvtyL8I-io8emMckhKDkOCMqSl1HX0lY00beWvACP"
    "7rGwHPJ9oqSU6tcXDVNgIUd-Dfb6rBgUG6PC6p_tj-3UFi_fTigZ_0EbNiJQ\",\"use\""
    ":\"sig\"},{\"crv\":\"P-256\",\"kid\":\"ec256\",\"kty\":\"EC\",\"use\":"
    "\"sig\",\"x\":\"V_0LnJnnbns0bCOTWV-SMJxsA8vReirs8ZkbaEZuvLo\",\"y\":\""
    "SAWOFXehm-6NFoz4S2SyGgaaFURPK9mTYwoZYshkpTo\"},{\"crv\":\"P-384\",\"ki"
    "d\":\"ec384\",\"kty\":\"EC\",\"use\":\"sig\",\"x\":\"ppZPFi8YKDR1sH_qV"
    "nHqF-mQ3gYN0WugHRJkpjKAWheQbejQtcM7urBrjs7UEDfM\",\"y\":\"IWSRxpbgj3en"
    "0qEf5LU5xoDPwCz8gOpNcP2mQjThPl3bA5QLXWr0nKYbQrkRr0DT\"},{\"crv\":\"Ed2"
    "5519\",\"kid\":\"ed1\",\"kty\":\"OKP\",\"use\":\"sig\",\"x\":\"LGTNThR"
    "5eTPy5qOnIHJtSUuD1M-NqL-R8ueUW_LcxKI\"},{\"k\":\"YTUxZWViYTRmZjk3NjY4M"
    "zdhZTFlNmZjMzY2ZjUwYzExOGI1NGE1NDM1NjY0ZmNiYjk2NTBiMWQ1MTc4MDc1Nw\",\""
    "kid\":\"hs1\",\"kty\":\"oct\",\"use\":\"sig\"}]}";


static const char  fuzz_rsa_pub[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAlqs3TuvE94qm83FUok9o\n"
    "SUgHR7/6dg3fMAyB2yDYW9FopHZE61xHAixD0ahkTEBtx/03GlDJ5cZdo4o4e92h\n"
    "euGUvJ5A+v9UYCIwIuIc/ko8iMhmiKB40WuW9WUqeeqaOdUTZ6xzFMmtZZ4z2+SX\n"
    "XD366XZTzaEh1fPMkuIzDJ7e6fJUU08cHfEHAamJ09lDA0LfaNUTfTjG5a5EU+/X\n"
    "LLOLmW+QVDNN1/1+Grx5g+WHx5ULfyvtyL8I+io8emMckhKDkOCMqSl1HX0lY00b\n"
    "eWvACP7rGwHPJ9oqSU6tcXDVNgIUd+Dfb6rBgUG6PC6p/tj+3UFi/fTigZ/0EbNi\n"
    "JQIDAQAB\n"
    "-----END PUBLIC KEY-----\n";


static velro_keyset_t      *fuzz_keys;
static velro_jwt_policy_t   fuzz_policy;


static void
fuzz_jwt_init(void)
{
    char  err[256];

    fuzz_keys = velro_keyset_new();

    if (fuzz_keys == NULL
        || velro_keyset_add_text(fuzz_keys, fuzz_jwks, sizeof(fuzz_jwks) - 1,
                                 err, sizeof(err)) != 5
        || velro_keyset_add_text(fuzz_keys, fuzz_rsa_pub,
                                 sizeof(fuzz_rsa_pub) - 1, err, sizeof(err))
           != 1)
    {
        fprintf(stderr, "fuzz_jwt: cannot load the key set: %s\n", err);
        abort();
    }

    fuzz_policy.algs = (1u << VELRO_ALG_COUNT) - 1;
    fuzz_policy.issuer = "https://issuer.example";
    fuzz_policy.audiences[0] = "api";
    fuzz_policy.audiences[1] = "web";
    fuzz_policy.naudiences = 2;
    fuzz_policy.required[0] = "sub";
    fuzz_policy.required[1] = "scope";
    fuzz_policy.nrequired = 2;
    fuzz_policy.leeway = 60;
    fuzz_policy.max_len = 16384;          /* -max_len=65536 goes past it */
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    long            n;
    size_t          want;
    json_t         *json;
    velro_jwt_t     jwt;
    unsigned char  *buf;
    velro_jwt_rc_e  rc;
    const char     *token;

    if (fuzz_keys == NULL) {
        fuzz_jwt_init();
    }

    token = (const char *) data;

    rc = velro_jwt_parse(&jwt, token, size, fuzz_policy.max_len);

    if (rc == VELRO_JWT_OK) {
        rc = velro_jwt_verify(&jwt, &fuzz_policy, fuzz_keys);

        /* claims are checked even when the signature fails, for coverage */
        (void) velro_jwt_check_claims(&jwt, &fuzz_policy, FUZZ_NOW);
    }

    if (jwt.error == NULL && rc != VELRO_JWT_OK) {
        /* every refusal carries a detail for the log */
        if (rc != VELRO_JWT_NOMEM) {
            abort();
        }
    }

    (void) velro_jwt_reason(rc);
    (void) velro_jwt_description(rc);

    velro_jwt_free(&jwt);

    /* every input starts from an empty header cache: reproducible runs */

    velro_jwt_cleanup();

    /* the helpers the module uses on an unverified token, for logging */

    json = velro_jwt_decode_segment(token, size, 0);
    json_decref(json);

    json = velro_jwt_decode_segment(token, size, 1);
    json_decref(json);

    /* the raw decoder: exact output bound, round trip of the length */

    buf = malloc(size / 4 * 3 + 2);
    if (buf) {
        n = velro_base64url_decode(buf, token, size);
        want = size / 4 * 3 + (size % 4 ? size % 4 - 1 : 0);

        if (n >= 0 && (size_t) n != want) {
            abort();
        }

        free(buf);
    }

    return 0;
}
