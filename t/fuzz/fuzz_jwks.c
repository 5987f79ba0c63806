
/*
 * velro: libFuzzer target for key set loading.
 *
 * The input is JWKS JSON or PEM text given to velro_keyset_add_text(), as
 * from velro_jwks_file or a fetched JWKS document.  Keys that load are
 * checked for the invariants the verifier relies on, and a fixed token is
 * verified against them.
 */


#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "velro_jwk.h"
#include "velro_jwt.h"


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_verify_zero(const velro_keyset_t *ks);


/*
 * tokens without "kid" whose signatures are all zero bits, each as long as
 * its algorithm wants: no key that loads may ever accept one
 */

static const struct {
    const char  *header;
    size_t       sig_len;
} fuzz_tokens[] = {
    { "eyJhbGciOiJIUzI1NiJ9", 32 },                  /* HS256 */
    { "eyJhbGciOiJSUzI1NiJ9", 256 },                 /* RS256 */
    { "eyJhbGciOiJFUzI1NiJ9", 64 },                  /* ES256 */
    { "eyJhbGciOiJFUzM4NCJ9", 96 }                   /* ES384 */
};

/* {"exp":4102444800,"sub":"fuzz"} */
#define FUZZ_PAYLOAD  "eyJleHAiOjQxMDI0NDQ4MDAsInN1YiI6ImZ1enoifQ"


static void
fuzz_verify_zero(const velro_keyset_t *ks)
{
    char                token[512];
    size_t              i, len, siglen;
    velro_jwt_t         jwt;
    velro_jwt_policy_t  policy;

    memset(&policy, 0, sizeof(velro_jwt_policy_t));
    policy.algs = (1u << VELRO_ALG_COUNT) - 1;
    policy.max_len = sizeof(token);

    for (i = 0; i < sizeof(fuzz_tokens) / sizeof(fuzz_tokens[0]); i++) {
        len = (size_t) snprintf(token, sizeof(token), "%s.%s.",
                                fuzz_tokens[i].header, FUZZ_PAYLOAD);

        /* base64url of n zero bytes: 'A's, no padding */
        siglen = (fuzz_tokens[i].sig_len * 4 + 2) / 3;
        memset(token + len, 'A', siglen);
        len += siglen;

        if (velro_jwt_parse(&jwt, token, len, policy.max_len)
            != VELRO_JWT_OK)
        {
            abort();
        }

        if (velro_jwt_verify(&jwt, &policy, ks) == VELRO_JWT_OK) {
            abort();
        }

        velro_jwt_free(&jwt);
    }
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int                 n;
    char                err[256];
    size_t              i;
    velro_keyset_t     *ks;
    const velro_jwk_t  *k;

    ks = velro_keyset_new();
    if (ks == NULL) {
        return 0;
    }

    err[0] = '\0';

    n = velro_keyset_add_text(ks, (const char *) data, size, err, sizeof(err));

    if (n < 0 && err[0] == '\0') {
        /* a refusal always says why */
        abort();
    }

    if (n >= 0 && (size_t) n != ks->nkeys) {
        abort();
    }

    if (ks->nkeys > 64) {
        abort();
    }

    for (i = 0; i < ks->nkeys; i++) {
        k = &ks->keys[i];

        if (k->kty == VELRO_KTY_OCT) {
            if (k->secret == NULL || k->secret_len == 0 || k->pkey) {
                abort();
            }

        } else if (k->pkey == NULL || k->secret) {
            abort();
        }

        if (k->alg >= 0 && velro_alg_kty(k->alg) != k->kty) {
            abort();
        }

        if (k->kty == VELRO_KTY_RSA && EVP_PKEY_get_bits(k->pkey) < 2048) {
            abort();
        }
    }

    /* use whatever loaded, as a request would */

    if (ks->nkeys) {
        fuzz_verify_zero(ks);
    }

    velro_keyset_free(ks);

    return 0;
}
