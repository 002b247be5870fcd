/* fuzz_names.c -- objstore/ input validation: bucket names (obj_bucket_name_valid, checked
 * against an independent statement of the S3 rules), and the object metadata record decoder
 * (obj_meta_decode), which reads what the store wrote but must survive any bytes (a torn or
 * corrupted meta database). byte 0 even: the rest is a bucket name; odd: a meta record. */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "objstore/obj_int.h"
#include "tests/fuzz/fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* S3 bucket naming: 3..63 of [a-z0-9.-], starting and ending with a letter or digit. The
 * implementation may be stricter (no "..", not an IP address, reserved prefixes), never
 * laxer. */
static bool basic_ok(const char *s)
{
    size_t n = strlen(s);
    if (n < 3 || n > 63)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!(islower((unsigned char)s[i]) || isdigit((unsigned char)s[i]) || s[i] == '.' ||
              s[i] == '-'))
            return false;
    return isalnum((unsigned char)s[0]) && isalnum((unsigned char)s[n - 1]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    if ((data[0] & 1) == 0) {
        char *s = fz_strndup(data + 1, size - 1);
        if (obj_bucket_name_valid(s) && !basic_ok(s))
            abort();
        free(s);
    } else {
        struct obj_meta m;
        uint8_t *copy = malloc(size - 1 ? size - 1 : 1);
        memcpy(copy, data + 1, size - 1);
        if (obj_meta_decode(copy, size - 1, &m) == TS_OK) {
            void *enc;
            size_t elen = 0;
            (void)obj_meta_hdr(&m, "content-type");
            enc = obj_meta_encode(&m, &elen); /* what decodes re-encodes */
            free(enc);
            obj_meta_cleanup(&m);
        }
        free(copy);
    }
    return 0;
}
