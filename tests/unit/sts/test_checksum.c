/* test_checksum.c -- CRC32 / CRC32C / CRC64NVME / SHA1 / SHA256 checksums of sts/checksum.c
 * against the catalogue check values ("123456789") and against themselves when fed in pieces
 * (the slice-by-8 path against the byte-wise one). */
#include <stdlib.h>
#include <string.h>

#include "core/enc.h"
#include "core/err.h"
#include "sts/sigv4.h"
#include "tests/harness/t.h"

static void digest_of(enum sigv4_cksum_algo algo, const void *p, size_t n, uint8_t out[32])
{
    struct sigv4_cksum c;
    sigv4_cksum_init(&c, algo);
    sigv4_cksum_update(&c, p, n);
    sigv4_cksum_final(&c, out);
    sigv4_cksum_free(&c);
}

int main(void)
{
    static const char check[] = "123456789";
    uint8_t d[32], e[32];
    char hex[65];
    uint8_t *big = malloc(100003);

    is_int(sigv4_crc32c(0, check, 9), 0xE3069283u, "crc32c check value");
    ok(sigv4_crc64nvme(0, check, 9) == 0xAE8B14860A799888ull, "crc64nvme check value");
    is_int(sigv4_crc32c(0, "", 0), 0, "crc32c of nothing");
    /* Chaining. */
    is_int(sigv4_crc32c(sigv4_crc32c(0, check, 4), check + 4, 5), 0xE3069283u, "crc32c chained");
    ok(sigv4_crc64nvme(sigv4_crc64nvme(0, check, 5), check + 5, 4) == 0xAE8B14860A799888ull,
       "crc64nvme chained");

    digest_of(SIGV4_CK_CRC32, check, 9, d);
    enc_hex(d, 4, hex);
    is_str(hex, "cbf43926", "crc32 check value, big-endian");
    digest_of(SIGV4_CK_CRC32C, check, 9, d);
    enc_hex(d, 4, hex);
    is_str(hex, "e3069283", "crc32c big-endian");
    digest_of(SIGV4_CK_CRC64NVME, check, 9, d);
    enc_hex(d, 8, hex);
    is_str(hex, "ae8b14860a799888", "crc64nvme big-endian");
    digest_of(SIGV4_CK_SHA1, "abc", 3, d);
    enc_hex(d, 20, hex);
    is_str(hex, "a9993e364706816aba3e25717850c26c9cd0d89d", "sha1 abc");
    digest_of(SIGV4_CK_SHA256, "abc", 3, d);
    enc_hex(d, 32, hex);
    is_str(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", "sha256 abc");

    /* One shot vs. pieces of odd sizes, for every algorithm. */
    for (size_t i = 0; i < 100003; i++)
        big[i] = (uint8_t)(i * 131 + (i >> 7));
    for (int algo = SIGV4_CK_CRC32; algo <= SIGV4_CK_SHA256; algo++) {
        struct sigv4_cksum c;
        size_t off = 0, step = 1;
        digest_of((enum sigv4_cksum_algo)algo, big, 100003, d);
        sigv4_cksum_init(&c, (enum sigv4_cksum_algo)algo);
        while (off < 100003) {
            size_t k = step < 100003 - off ? step : 100003 - off;
            sigv4_cksum_update(&c, big + off, k);
            off += k;
            step = step * 3 % 1021 + 1;
        }
        sigv4_cksum_final(&c, e);
        sigv4_cksum_free(&c);
        ok(memcmp(d, e, sigv4_cksum_size((enum sigv4_cksum_algo)algo)) == 0, "%s in pieces",
           sigv4_cksum_name((enum sigv4_cksum_algo)algo));
    }

    is_int(sigv4_cksum_from_header("X-Amz-Checksum-CRC32C"), SIGV4_CK_CRC32C, "header name");
    is_int(sigv4_cksum_from_header("x-amz-checksum-crc64nvme"), SIGV4_CK_CRC64NVME, "crc64");
    is_int(sigv4_cksum_from_header("x-amz-checksum-algorithm"), SIGV4_CK_NONE, "not a checksum");
    is_int(sigv4_cksum_from_header("x-amz-checksum-type"), SIGV4_CK_NONE, "not a checksum");
    is_str(sigv4_cksum_name(SIGV4_CK_SHA1), "SHA1", "name");
    is_int(sigv4_cksum_size(SIGV4_CK_CRC64NVME), 8, "size");
    free(big);
    return t_done();
}
