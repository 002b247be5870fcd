/* names.c -- the one set of rules for every name that reaches the store: bucket names, object
 * keys, upload ids, part numbers and version ids. The S3 router checks the names of the
 * request's target and of its copy source with these same functions before anything is
 * authorized or looked up, and the store's key builders check their own bounds again with
 * them (a caller that forgot gets an error, never a write past a buffer). */
#include "objstore/obj_int.h"

#include <stdlib.h>
#include <string.h>

#include "core/err.h"

bool obj_bucket_name_reserved(const char *name)
{
    return strcmp(name, "tessera") == 0; /* /tessera/admin/v1/: signed like S3 requests */
}

bool obj_bucket_name_valid(const char *name)
{
    size_t n = strlen(name);
    if (n < 3 || n > OBJ_MAX_BUCKET_LEN || obj_bucket_name_reserved(name))
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-'))
            return false;
    }
    if (name[0] == '.' || name[0] == '-' || name[n - 1] == '.' || name[n - 1] == '-')
        return false;
    if (strstr(name, "..") || strstr(name, ".-") || strstr(name, "-."))
        return false;
    if (strncmp(name, "xn--", 4) == 0 || strncmp(name, "sthree-", 7) == 0)
        return false;
    if (n >= 8 && strcmp(name + n - 8, "-s3alias") == 0)
        return false;
    if (n >= 7 && strcmp(name + n - 7, "--ol-s3") == 0)
        return false;
    /* Not an IPv4 address: four dot-separated all-digit labels. */
    int dots = 0;
    bool digits = true;
    for (size_t i = 0; i < n; i++) {
        if (name[i] == '.')
            dots++;
        else if (name[i] < '0' || name[i] > '9')
            digits = false;
    }
    if (digits && dots == 3)
        return false;
    return true;
}

int obj_check_bucket(const char *name)
{
    if (name == NULL)
        return TS_E_INVALID_BUCKET_NAME;
    size_t n = strnlen(name, OBJ_MAX_BUCKET_LEN + 1);
    if (n < 3 || n > OBJ_MAX_BUCKET_LEN)
        return TS_E_INVALID_BUCKET_NAME;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '-' || c == '_'))
            return TS_E_INVALID_BUCKET_NAME;
    }
    return TS_OK;
}

static bool utf8_valid(const unsigned char *s)
{
    while (*s) {
        unsigned char c = *s;
        int n;
        unsigned cp;
        if (c < 0x80) {
            s++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            n = 1;
            cp = c & 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            n = 2;
            cp = c & 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            n = 3;
            cp = c & 0x07;
        } else {
            return false;
        }
        for (int i = 1; i <= n; i++) {
            if ((s[i] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i] & 0x3f);
        }
        if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
            cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        s += n + 1;
    }
    return true;
}

int obj_check_key(const char *key)
{
    if (key == NULL || key[0] == 0)
        return TS_E_INVALID_ARGUMENT;
    if (strnlen(key, OBJ_MAX_KEY_LEN + 1) > OBJ_MAX_KEY_LEN)
        return TS_E_KEY_TOO_LONG;
    if (!utf8_valid((const unsigned char *)key))
        return TS_E_INVALID_URI;
    return TS_OK;
}

int obj_check_upload_id(const char *id)
{
    if (id == NULL || strnlen(id, OBJ_ID_LEN + 1) != OBJ_ID_LEN)
        return TS_E_NO_SUCH_UPLOAD;
    for (const char *p = id; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return TS_E_NO_SUCH_UPLOAD;
    return TS_OK;
}

int obj_check_part_number(const char *v, unsigned *out)
{
    unsigned long n = 0;
    if (v == NULL || v[0] == 0)
        return TS_E_INVALID_ARGUMENT;
    for (const char *p = v; *p; p++) {
        if (*p < '0' || *p > '9')
            return TS_E_INVALID_ARGUMENT;
        if (n <= OBJ_MAX_PARTS) /* past it the value no longer matters: saturate */
            n = n * 10 + (unsigned long)(*p - '0');
    }
    if (n < 1 || n > OBJ_MAX_PARTS)
        return TS_E_INVALID_ARGUMENT; /* an integer between 1 and 10000, inclusive */
    if (out)
        *out = (unsigned)n;
    return TS_OK;
}

int obj_check_version_id(const char *v)
{
    /* What versions.c makes (OBJ_VID_LEN lower-case hex digits) or "null"; anything else can
     * name no version. */
    if (v == NULL || strcmp(v, "null") == 0)
        return TS_OK;
    if (strnlen(v, OBJ_VID_LEN + 1) != OBJ_VID_LEN)
        return TS_E_INVALID_ARGUMENT;
    for (const char *p = v; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return TS_E_INVALID_ARGUMENT;
    return TS_OK;
}
