/* checksum.c -- the S3 additional checksums (x-amz-checksum-*): CRC32 (zlib), CRC32C and
 * CRC64NVME (table-driven here, slice-by-8), SHA1 and SHA256 (OpenSSL EVP). Used by the body
 * filter in chunked.c; see sigv4.h for the contracts.
 */
#include "sts/sigv4.h"

#include <pthread.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <zlib.h>

#include "core/enc.h"
#include "core/err.h"

/* CRC-32C: Castagnoli polynomial 0x1EDC6F41, reflected 0x82F63B78 (RFC 3720 B.4).
 * CRC-64/NVME: Rocksoft polynomial 0xAD93D23594C93659, reflected 0x9A6C9329AC4BC9B5
 * (NVM Express Command Set spec, 5.2.1.3.4). Both reflected, init and xorout all ones.
 * Tables for slice-by-8 are built once. */
#define CRC32C_POLY 0x82F63B78u
#define CRC64NVME_POLY 0x9A6C9329AC4BC9B5ull

/* One slice-by-8 implementation serves both: a reflected CRC of up to 64 bits lives in the
 * low bits of a uint64_t (CRC-32C's table entries and register never exceed 32 bits). */
static uint64_t crc32c_tab[8][256];
static uint64_t crc64_tab[8][256];
static pthread_once_t tab_once = PTHREAD_ONCE_INIT;

static void tab_build(uint64_t tab[8][256], uint64_t poly)
{
    for (unsigned i = 0; i < 256; i++) {
        uint64_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? (c >> 1) ^ poly : c >> 1;
        tab[0][i] = c;
    }
    for (unsigned i = 0; i < 256; i++)
        for (int t = 1; t < 8; t++)
            tab[t][i] = (tab[t - 1][i] >> 8) ^ tab[0][tab[t - 1][i] & 0xff];
}

static void tab_init(void)
{
    tab_build(crc32c_tab, CRC32C_POLY);
    tab_build(crc64_tab, CRC64NVME_POLY);
}

static uint64_t load_le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

/* The CRC register c (already inverted) after buf. */
static uint64_t crc_slice8(const uint64_t tab[8][256], uint64_t c, const void *buf, size_t n)
{
    const uint8_t *p = buf;

    pthread_once(&tab_once, tab_init);
    while (n >= 8) {
        uint64_t v = load_le64(p) ^ c;
        c = tab[7][v & 0xff] ^ tab[6][(v >> 8) & 0xff] ^ tab[5][(v >> 16) & 0xff] ^
            tab[4][(v >> 24) & 0xff] ^ tab[3][(v >> 32) & 0xff] ^ tab[2][(v >> 40) & 0xff] ^
            tab[1][(v >> 48) & 0xff] ^ tab[0][v >> 56];
        p += 8;
        n -= 8;
    }
    while (n-- > 0)
        c = (c >> 8) ^ tab[0][(c ^ *p++) & 0xff];
    return c;
}

uint32_t sigv4_crc32c(uint32_t crc, const void *buf, size_t n)
{
    return ~(uint32_t)crc_slice8(crc32c_tab, (uint32_t)~crc, buf, n);
}

uint64_t sigv4_crc64nvme(uint64_t crc, const void *buf, size_t n)
{
    return ~crc_slice8(crc64_tab, ~crc, buf, n);
}

static const struct {
    enum sigv4_cksum_algo algo;
    const char *name, *header;
    size_t size;
} algos[] = {
    {SIGV4_CK_CRC32, "CRC32", "x-amz-checksum-crc32", 4},
    {SIGV4_CK_CRC32C, "CRC32C", "x-amz-checksum-crc32c", 4},
    {SIGV4_CK_CRC64NVME, "CRC64NVME", "x-amz-checksum-crc64nvme", 8},
    {SIGV4_CK_SHA1, "SHA1", "x-amz-checksum-sha1", 20},
    {SIGV4_CK_SHA256, "SHA256", "x-amz-checksum-sha256", 32},
};

const char *sigv4_cksum_name(enum sigv4_cksum_algo algo)
{
    for (size_t i = 0; i < sizeof algos / sizeof algos[0]; i++)
        if (algos[i].algo == algo)
            return algos[i].name;
    return "";
}

enum sigv4_cksum_algo sigv4_cksum_from_header(const char *name)
{
    for (size_t i = 0; i < sizeof algos / sizeof algos[0]; i++)
        if (strcasecmp(name, algos[i].header) == 0)
            return algos[i].algo;
    return SIGV4_CK_NONE;
}

size_t sigv4_cksum_size(enum sigv4_cksum_algo algo)
{
    for (size_t i = 0; i < sizeof algos / sizeof algos[0]; i++)
        if (algos[i].algo == algo)
            return algos[i].size;
    return 0;
}

int sigv4_cksum_init(struct sigv4_cksum *c, enum sigv4_cksum_algo algo)
{
    memset(c, 0, sizeof *c);
    c->algo = algo;
    if (algo == SIGV4_CK_CRC32)
        c->crc32 = (uint32_t)crc32(0L, Z_NULL, 0);
    if (algo == SIGV4_CK_SHA1 || algo == SIGV4_CK_SHA256) {
        EVP_MD_CTX *md = EVP_MD_CTX_new();
        if (md == NULL ||
            EVP_DigestInit_ex(md, algo == SIGV4_CK_SHA1 ? enc_md_sha1() : enc_md_sha256(), NULL) !=
                1) {
            EVP_MD_CTX_free(md);
            c->algo = SIGV4_CK_NONE;
            return TS_E_INTERNAL;
        }
        c->md = md;
    }
    return TS_OK;
}

void sigv4_cksum_update(struct sigv4_cksum *c, const void *p, size_t n)
{
    switch (c->algo) {
    case SIGV4_CK_CRC32:
        /* zlib's crc32 takes a uInt length: feed in pieces. */
        while (n > 0) {
            uInt k = n > (1u << 30) ? (1u << 30) : (uInt)n;
            c->crc32 = (uint32_t)crc32(c->crc32, p, k);
            p = (const uint8_t *)p + k;
            n -= k;
        }
        break;
    case SIGV4_CK_CRC32C:
        c->crc32 = sigv4_crc32c(c->crc32, p, n);
        break;
    case SIGV4_CK_CRC64NVME:
        c->crc64 = sigv4_crc64nvme(c->crc64, p, n);
        break;
    case SIGV4_CK_SHA1:
    case SIGV4_CK_SHA256:
        EVP_DigestUpdate(c->md, p, n);
        break;
    case SIGV4_CK_NONE:
        break;
    }
}

void sigv4_cksum_final(struct sigv4_cksum *c, uint8_t out[32])
{
    switch (c->algo) {
    case SIGV4_CK_CRC32:
    case SIGV4_CK_CRC32C:
        for (int i = 0; i < 4; i++)
            out[i] = (uint8_t)(c->crc32 >> (24 - 8 * i));
        break;
    case SIGV4_CK_CRC64NVME:
        for (int i = 0; i < 8; i++)
            out[i] = (uint8_t)(c->crc64 >> (56 - 8 * i));
        break;
    case SIGV4_CK_SHA1:
    case SIGV4_CK_SHA256:
        EVP_DigestFinal_ex(c->md, out, NULL);
        break;
    case SIGV4_CK_NONE:
        break;
    }
}

void sigv4_cksum_free(struct sigv4_cksum *c)
{
    EVP_MD_CTX_free(c->md);
    c->md = NULL;
}

enum sigv4_cksum_algo sigv4_cksum_from_name(const char *name)
{
    for (size_t i = 0; name != NULL && i < sizeof algos / sizeof algos[0]; i++)
        if (strcasecmp(name, algos[i].name) == 0)
            return algos[i].algo;
    return SIGV4_CK_NONE;
}

bool sigv4_cksum_is_crc(enum sigv4_cksum_algo algo)
{
    return algo == SIGV4_CK_CRC32 || algo == SIGV4_CK_CRC32C || algo == SIGV4_CK_CRC64NVME;
}

uint64_t sigv4_crc_get(enum sigv4_cksum_algo algo, const uint8_t *d)
{
    uint64_t v = 0;
    for (size_t i = 0; i < sigv4_cksum_size(algo) && i < 8; i++)
        v = v << 8 | d[i];
    return v;
}

void sigv4_crc_put(enum sigv4_cksum_algo algo, uint64_t v, uint8_t *out)
{
    size_t n = sigv4_cksum_size(algo);
    for (size_t i = 0; i < n && i < 8; i++)
        out[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
}

/* ---- combining CRCs (zlib's method, for any reflected CRC of up to 64 bits) ----
 * In the reflected representation of width w the top bit is x^0. crc(A||B) is
 * crc(A) * x^(8 len(B)) mod P xor crc(B) when init equals xorout (all ones for the three). */

/* a * b mod P, width w. */
static uint64_t gf2_mult(uint64_t a, uint64_t b, uint64_t poly, int w)
{
    uint64_t m = 1ull << (w - 1), p = 0;
    for (;;) {
        if (a & m) {
            p ^= b;
            if ((a & (m - 1)) == 0)
                break;
        }
        m >>= 1;
        b = b & 1 ? (b >> 1) ^ poly : b >> 1;
    }
    return p;
}

/* x^(n * 2^k) mod P, width w, for n < 2^(64 - k). */
static uint64_t gf2_x2n(uint64_t n, int k, uint64_t poly, int w)
{
    uint64_t p = 1ull << (w - 1), sq = 1ull << (w - 2); /* x^0, then x^(2^0) */
    for (int i = 0; i < k; i++)
        sq = gf2_mult(sq, sq, poly, w);
    while (n) {
        if (n & 1)
            p = gf2_mult(sq, p, poly, w);
        n >>= 1;
        sq = gf2_mult(sq, sq, poly, w);
    }
    return p;
}

uint64_t sigv4_crc_combine(enum sigv4_cksum_algo algo, uint64_t crc1, uint64_t crc2, uint64_t len2)
{
    switch (algo) {
    case SIGV4_CK_CRC32:
        return (uint32_t)crc32_combine((uLong)crc1, (uLong)crc2, (z_off_t)len2);
    case SIGV4_CK_CRC32C:
        return gf2_mult(gf2_x2n(len2, 3, CRC32C_POLY, 32), crc1, CRC32C_POLY, 32) ^ crc2;
    case SIGV4_CK_CRC64NVME:
        return gf2_mult(gf2_x2n(len2, 3, CRC64NVME_POLY, 64), crc1, CRC64NVME_POLY, 64) ^ crc2;
    default:
        return 0;
    }
}
