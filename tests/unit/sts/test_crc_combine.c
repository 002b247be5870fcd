/* test_crc_combine.c -- sigv4_crc_combine (sts/checksum.c): CRC(A||B) from CRC(A), CRC(B) and
 * len(B), for CRC32 (zlib's crc32_combine) and CRC32C / CRC64NVME (the GF(2) method), against
 * known vectors (CRC32 values from Python's zlib; the catalogue check values of "123456789"
 * split anywhere) and against the CRC of the whole computed directly. */
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "sts/sigv4.h"
#include "tests/harness/t.h"

static uint64_t crc_of(enum sigv4_cksum_algo algo, const void *p, size_t n)
{
    struct sigv4_cksum c;
    uint8_t d[32];
    sigv4_cksum_init(&c, algo);
    sigv4_cksum_update(&c, p, n);
    sigv4_cksum_final(&c, d);
    sigv4_cksum_free(&c);
    return sigv4_crc_get(algo, d);
}

int main(void)
{
    static const char check[] = "123456789";
    static const uint64_t want[] = {0, 0xCBF43926u, 0xE3069283u, 0xAE8B14860A799888ull};
    static const enum sigv4_cksum_algo crcs[] = {SIGV4_CK_CRC32, SIGV4_CK_CRC32C,
                                                 SIGV4_CK_CRC64NVME};
    size_t big = (1u << 20) + 1;
    uint8_t *z = calloc(1, big);

    /* Python: zlib.crc32(b'The quick brown fox '), (b'jumps over the lazy dog'), of both. */
    is_int(sigv4_crc_combine(SIGV4_CK_CRC32, 0x88b075e2u, 0x18786794u, 23), 0x414fa339u,
           "crc32 combine: python zlib vector");
    /* zlib.crc32(b'x'), zlib.crc32(bytes(1 << 20)) -> zlib.crc32(b'x' + bytes(1 << 20)) */
    is_int(
        sigv4_crc_combine(SIGV4_CK_CRC32, crc32(0, (const Bytef *)"x", 1), 0xa738ea1cu, 1u << 20),
        0xf61d0ab1u, "crc32 combine: 1 MiB of zeros after 'x'");

    for (int a = 0; a < 3; a++) {
        enum sigv4_cksum_algo algo = crcs[a];
        const char *name = sigv4_cksum_name(algo);
        bool all = true;
        /* Every split of the check string gives the catalogue value. */
        for (size_t k = 0; k <= 9; k++) {
            uint64_t c1 = crc_of(algo, check, k), c2 = crc_of(algo, check + k, 9 - k);
            all &= sigv4_crc_combine(algo, c1, c2, 9 - k) == want[algo];
        }
        ok(all, "%s: every split of \"123456789\" combines to the check value", name);
        /* Nothing after: unchanged. */
        ok(sigv4_crc_combine(algo, want[algo], 0, 0) == want[algo], "%s: empty B", name);
        /* A megabyte after one byte: the direct CRC of the whole. */
        z[0] = 'x';
        uint64_t whole = crc_of(algo, z, big);
        uint64_t c1 = crc_of(algo, "x", 1), c2 = crc_of(algo, z + 1, big - 1);
        ok(sigv4_crc_combine(algo, c1, c2, big - 1) == whole, "%s: 1 MiB B", name);
        /* Three pieces of odd sizes, folded left as a multipart completion does. */
        for (size_t i = 0; i < big; i++)
            z[i] = (uint8_t)(i * 7 + (i >> 9));
        size_t cut[] = {0, 5 * 1024 + 3, 700001, big};
        uint64_t acc = 0;
        for (int p = 0; p < 3; p++) {
            uint64_t cp = crc_of(algo, z + cut[p], cut[p + 1] - cut[p]);
            acc = p == 0 ? cp : sigv4_crc_combine(algo, acc, cp, cut[p + 1] - cut[p]);
        }
        ok(acc == crc_of(algo, z, big), "%s: three parts fold to the whole", name);
        memset(z, 0, big);
    }
    /* The generic method for CRC32 too: crc32c's code path with zlib's polynomial is not
     * exposed, so check the byte helpers instead. */
    uint8_t d[8];
    sigv4_crc_put(SIGV4_CK_CRC64NVME, 0xAE8B14860A799888ull, d);
    ok(d[0] == 0xAE && d[7] == 0x88, "crc64 big-endian put");
    ok(sigv4_crc_get(SIGV4_CK_CRC64NVME, d) == 0xAE8B14860A799888ull, "crc64 get");
    sigv4_crc_put(SIGV4_CK_CRC32, 0xCBF43926u, d);
    ok(d[0] == 0xCB && d[3] == 0x26, "crc32 big-endian put");
    is_int(sigv4_crc_combine(SIGV4_CK_SHA256, 1, 2, 3), 0, "no combine for SHA256");
    is_int(sigv4_cksum_from_name("crc64nvme"), SIGV4_CK_CRC64NVME, "name, any case");
    is_int(sigv4_cksum_from_name("MD5"), SIGV4_CK_NONE, "unknown name");
    ok(sigv4_cksum_is_crc(SIGV4_CK_CRC32C) && !sigv4_cksum_is_crc(SIGV4_CK_SHA1), "is_crc");
    free(z);
    return t_done();
}
