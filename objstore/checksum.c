/* checksum.c -- the additional checksums of multipart uploads (docs/API.md "Checksums"): an
 * upload's algorithm and type, the checksum kept with each part, and the object's checksum
 * made from the parts' at completion: COMPOSITE, the checksum of the concatenated part
 * checksums followed by "-N"; FULL_OBJECT, the CRC of the whole object combined from the parts'
 * CRCs (sigv4_crc_combine), without reading the data again. */
#include "objstore/obj_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/enc.h"
#include "core/err.h"

void obj_ck_hdr_name(enum sigv4_cksum_algo algo, char out[32])
{
    const char *n = sigv4_cksum_name(algo);
    size_t i = 0;
    memcpy(out, "x-amz-checksum-", 15);
    for (; n[i] && i < 16; i++)
        out[15 + i] = (char)(n[i] >= 'A' && n[i] <= 'Z' ? n[i] - 'A' + 'a' : n[i]);
    out[15 + i] = 0;
}

void obj_ck_mode_of(const struct obj_meta *up, struct obj_ck_mode *out)
{
    const char *t = obj_meta_hdr(up, OBJ_CK_TYPE_HDR);
    out->algo = sigv4_cksum_from_name(obj_meta_hdr(up, OBJ_CK_ALGO_HDR));
    out->full = t != NULL && strcmp(t, "FULL_OBJECT") == 0;
}

int obj_ck_decode(enum sigv4_cksum_algo algo, const char *b64, uint8_t out[32])
{
    uint8_t raw[64];
    size_t n = b64 ? strlen(b64) : 0, want = sigv4_cksum_size(algo);
    if (want == 0 || n == 0 || n > 64 || enc_unb64(b64, n, raw) != (long)want)
        return TS_E_INVALID_ARGUMENT;
    memcpy(out, raw, want);
    return TS_OK;
}

bool obj_ck_of(const struct obj_meta *m, enum sigv4_cksum_algo algo, uint8_t out[32])
{
    char name[32];
    obj_ck_hdr_name(algo, name);
    return obj_ck_decode(algo, obj_meta_hdr(m, name), out) == TS_OK;
}

int obj_ck_object(const struct obj_ck_mode *mode, const struct obj_meta *parts, size_t n,
                  char out[OBJ_CK_B64_MAX])
{
    size_t sz = sigv4_cksum_size(mode->algo);
    uint8_t d[32], all[32];
    uint64_t acc = 0;
    struct sigv4_cksum c;
    if (!mode->full && sigv4_cksum_init(&c, mode->algo) != TS_OK)
        return TS_E_INTERNAL;
    for (size_t i = 0; i < n; i++) {
        if (!obj_ck_of(&parts[i], mode->algo, d)) {
            if (!mode->full)
                sigv4_cksum_free(&c);
            return TS_E_INVALID_PART; /* a part without its checksum: checked by the caller */
        }
        if (!mode->full)
            sigv4_cksum_update(&c, d, sz);
        else if (i == 0)
            acc = sigv4_crc_get(mode->algo, d);
        else
            acc = sigv4_crc_combine(mode->algo, acc, sigv4_crc_get(mode->algo, d), parts[i].size);
    }
    if (mode->full) {
        sigv4_crc_put(mode->algo, acc, all);
    } else {
        sigv4_cksum_final(&c, all);
        sigv4_cksum_free(&c);
    }
    char *b = enc_b64(all, sz);
    if (b == NULL)
        return TS_E_INTERNAL;
    if (mode->full)
        snprintf(out, OBJ_CK_B64_MAX, "%s", b);
    else
        snprintf(out, OBJ_CK_B64_MAX, "%s-%zu", b, n);
    free(b);
    return TS_OK;
}
