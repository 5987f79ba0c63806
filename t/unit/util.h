
/*
 * velro unit tests: shared helpers.  Tokens are made at test time with
 * OpenSSL from the private keys in t/keys (or $VELRO_KEYS_DIR), so they
 * never expire and every signature variant can be produced.
 */


#ifndef _VELRO_UNIT_UTIL_H_INCLUDED_
#define _VELRO_UNIT_UTIL_H_INCLUDED_


#include <stddef.h>
#include <time.h>

#include <openssl/evp.h>

#include "velro_jwk.h"
#include "velro_jwt.h"
#include "tap.h"


/* "now" for every claim check: 2023-11-14T22:13:20Z */
#define UT_NOW   1700000000L

/* exp of the tokens that must not expire: 2100-01-01 */
#define UT_EXP   4102444800LL


typedef struct {
    EVP_PKEY             *pkey;          /* RS, PS, ES, EdDSA */
    const unsigned char  *secret;        /* HS */
    size_t                secret_len;
    int                   der;           /* ES: DER, not R || S */
} ut_key_t;


typedef struct {
    EVP_PKEY         *rsa;
    EVP_PKEY         *rsa2;
    EVP_PKEY         *ec256;
    EVP_PKEY         *ec384;
    EVP_PKEY         *ed25519;
    unsigned char    *hs;                /* the 64 ASCII chars of hs.secret */
    size_t            hs_len;
    velro_keyset_t   *jwks;              /* t/keys/jwks.json */
} ut_keys_t;


extern ut_keys_t  ut;


void ut_init(void);
void ut_cleanup(void);

/* $VELRO_KEYS_DIR/name (default t/keys), NUL-terminated; aborts if missing */
char *ut_read_key_file(const char *name, size_t *len);

char *ut_b64url(const void *data, size_t len);

/* "b64(header).b64(payload)." plus the signature of alg with key */
char *ut_token(int alg, const ut_key_t *key, const char *header,
    const char *payload);

/* the usual key of each algorithm in t/keys, and its kid in jwks.json */
ut_key_t ut_key_for(int alg);
const char *ut_kid_for(int alg);

/* "b64(header).b64(payload).sig" with sig given as base64url text */
char *ut_token_unsigned(const char *header, size_t hlen,
    const char *payload, size_t plen, const char *sig);

/* decodes the signature of a token; replaces it */
unsigned char *ut_token_sig(const char *token, size_t *len);
char *ut_token_set_sig(const char *token, const unsigned char *sig,
    size_t len);

/* parse + verify + claims, the first failure */
velro_jwt_rc_e ut_check(const char *token, size_t len,
    const velro_jwt_policy_t *policy, const velro_keyset_t *keys, time_t now);

/* a policy with every algorithm, no iss/aud, leeway 0, max_len 16384 */
void ut_policy(velro_jwt_policy_t *policy);

/* a new key set with velro_keyset_add_text(text) done; *rc its result */
velro_keyset_t *ut_keyset(const char *text, int *rc, char *err,
    size_t errlen);

/* n times "[", inner, n times "]"; malloc()ed */
char *ut_nested(size_t n, const char *inner);

void test_jwt(void);
void test_jwk(void);
void test_cache(void);

#endif /* _VELRO_UNIT_UTIL_H_INCLUDED_ */
