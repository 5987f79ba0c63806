
/*
 * velro: key sets (RFC 7517 JWKS and PEM public keys) for JWT verification.
 *
 * Pure logic: OpenSSL 3 and jansson only, no nginx.  Keys are parsed once,
 * at configuration time or when a fetched JWKS arrives, never per request.
 */


#ifndef _VELRO_JWK_H_INCLUDED_
#define _VELRO_JWK_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>


typedef enum {
    VELRO_ALG_HS256 = 0,
    VELRO_ALG_HS384,
    VELRO_ALG_HS512,
    VELRO_ALG_RS256,
    VELRO_ALG_RS384,
    VELRO_ALG_RS512,
    VELRO_ALG_PS256,
    VELRO_ALG_PS384,
    VELRO_ALG_PS512,
    VELRO_ALG_ES256,
    VELRO_ALG_ES384,
    VELRO_ALG_EDDSA,
    VELRO_ALG_COUNT
} velro_alg_e;


#define VELRO_ALG_DEFAULT                                                     \
    ((1u << VELRO_ALG_RS256) | (1u << VELRO_ALG_ES256)                        \
     | (1u << VELRO_ALG_EDDSA))


typedef enum {
    VELRO_KTY_OCT = 0,
    VELRO_KTY_RSA,
    VELRO_KTY_EC256,
    VELRO_KTY_EC384,
    VELRO_KTY_ED25519
} velro_kty_e;


typedef struct {
    char             *kid;           /* NULL: none */
    int               kty;           /* VELRO_KTY_x */
    int               alg;           /* VELRO_ALG_x, or -1: any of its type */
    EVP_PKEY         *pkey;          /* asymmetric keys */
    unsigned char    *secret;        /* oct keys */
    size_t            secret_len;
    EVP_MAC_CTX      *hmac[3];       /* oct: keyed for HS256/384/512, or
                                        NULL if shorter than the hash */
} velro_jwk_t;


typedef struct {
    velro_jwk_t      *keys;
    size_t            nkeys;
    size_t            nalloc;
} velro_keyset_t;


/* "RS256" -> VELRO_ALG_RS256; -1 if unknown ("none" is unknown) */
int velro_alg_parse(const char *name, size_t len);
const char *velro_alg_name(int alg);

/* the key type an algorithm needs */
int velro_alg_kty(int alg);

velro_keyset_t *velro_keyset_new(void);
void velro_keyset_free(velro_keyset_t *ks);

/*
 * Adds keys from a JWKS document ({"keys":[...]}) or a single JWK.
 * Keys of unsupported types or with "use" other than "sig" are skipped;
 * a malformed supported key is an error.  Returns the number of keys added
 * or -1 with a message in err.
 */
int velro_keyset_add_jwks(velro_keyset_t *ks, const char *json, size_t len,
    char *err, size_t errlen);

/* adds one PEM public key or certificate */
int velro_keyset_add_pem(velro_keyset_t *ks, const char *pem, size_t len,
    char *err, size_t errlen);

/* JWKS if the text starts with '{', PEM otherwise */
int velro_keyset_add_text(velro_keyset_t *ks, const char *text, size_t len,
    char *err, size_t errlen);

#endif /* _VELRO_JWK_H_INCLUDED_ */
