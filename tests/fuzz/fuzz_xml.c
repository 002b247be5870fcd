/* fuzz_xml.c -- core/xml.c's reader (every S3 request body: CompleteMultipartUpload,
 * DeleteObjects, tagging...): xml_parse on arbitrary bytes, then a walk of the tree, and the
 * AccessControlPolicy parser (objstore/acl.c) and the LifecycleConfiguration parser
 * (objstore/lc_rules.c: a document it accepts must write back (lc_write) to a document it
 * accepts again and that writes back to the same bytes; its rules are evaluated) on the same
 * bytes. And the
 * writer (every S3 and STS reply): the input, up to its first NUL, is written as an element's
 * text with xml_elem (under the sanitizers). Whatever the bytes, the reader must accept the
 * document (the writer never emits malformed XML: issue 13 item 15); when the text is
 * well-formed UTF-8 holding only XML 1.0 characters (no C0 control other than tab, LF, CR; no
 * U+FFFE/U+FFFF), the reader must give it back exactly. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/xml.h"
#include "objstore/acl.h"
#include "objstore/lc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t walk(const struct xml_node *n, int depth)
{
    size_t k = 0;
    for (; n != NULL; n = n->next) {
        k += strlen(n->name) + strlen(n->text);
        if (depth < 64)
            k += walk(n->child, depth + 1);
    }
    return k;
}

/* Whether s[0..n) is well-formed UTF-8 made of XML 1.0 characters only. */
static bool xml_chars(const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint32_t c = s[i], cp;
        size_t len;
        if (c < 0x80) {
            if (c < 0x20 && c != '\t' && c != '\n' && c != '\r')
                return false;
            i++;
            continue;
        }
        if ((c & 0xe0) == 0xc0)
            len = 2, cp = c & 0x1f;
        else if ((c & 0xf0) == 0xe0)
            len = 3, cp = c & 0x0f;
        else if ((c & 0xf8) == 0xf0)
            len = 4, cp = c & 0x07;
        else
            return false;
        if (i + len > n)
            return false;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
            cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) || cp == 0xfffe || cp == 0xffff)
            return false;
        i += len;
    }
    return true;
}

static void writer_roundtrip(const uint8_t *data, size_t size)
{
    size_t n = 0;
    while (n < size && data[n] != 0)
        n++;
    bool plain = xml_chars(data, n);
    char *text = malloc(n + 1);
    if (text == NULL)
        return;
    memcpy(text, data, n);
    text[n] = '\0';
    struct buf b;
    buf_init(&b, 1 << 20);
    xml_begin(&b);
    xml_open(&b, "R", "urn:t");
    xml_elem(&b, "K", text);
    xml_close(&b, "R");
    if (buf_failed(&b)) { /* over the buffer's limit: nothing written to check */
        free(text);
        return;
    }
    struct xml_node *root = xml_parse(buf_str(&b), buf_len(&b));
    if (root == NULL)
        abort(); /* the writer produced a document the reader refuses */
    const char *got = xml_child_text(root, "K");
    if (got == NULL)
        abort();
    /* A literal CR would come back as LF (XML line-end handling): it is written as &#13;.
     * Characters XML cannot carry come back as U+FFFD: only representable text compares. */
    if (plain && strcmp(got, text) != 0)
        abort(); /* escaping lost or changed bytes */
    xml_free(root);
    buf_free(&b);
    free(text);
}

/* The canonical form of c (lc_write) into a malloc'ed string, NULL when over the limit. */
static char *lc_canon(const struct lc_conf *c, size_t *len)
{
    struct buf b;
    buf_init(&b, LC_MAX_DOC);
    lc_write(&b, c);
    char *s = buf_failed(&b) ? NULL : strdup(buf_str(&b));
    *len = buf_failed(&b) ? 0 : buf_len(&b);
    buf_free(&b);
    return s;
}

static void lifecycle(const uint8_t *data, size_t size)
{
    struct lc_conf c, c2;
    char msg[256];
    if (lc_parse((const char *)data, size, &c, msg, sizeof msg) != TS_OK)
        return;
    static const struct http_kv tags[] = {{"k", "v"}, {"tmp", "yes"}};
    struct lc_object o = {"logs/a", 6, 1000, 1700000000, tags, 2, NULL, NULL};
    int64_t due = 0;
    const struct lc_rule *r = lc_expiration(&c, &o, INT64_MAX, &due);
    char h[LC_EXP_HDR_MAX];
    if (r != NULL &&
        (!r->enabled || !lc_expiration_header(r, due, h) || strpbrk(h, "\r\n") != NULL))
        abort(); /* a disabled rule chosen, or a header value that would split the answer */
    size_t n1, n2;
    char *w1 = lc_canon(&c, &n1);
    lc_conf_free(&c);
    if (w1 == NULL)
        return;
    if (lc_parse(w1, n1, &c2, msg, sizeof msg) != TS_OK)
        abort(); /* GET's document is refused by PUT */
    char *w2 = lc_canon(&c2, &n2);
    lc_conf_free(&c2);
    if (w2 == NULL || n1 != n2 || memcmp(w1, w2, n1) != 0)
        abort(); /* the canonical form is not stable */
    free(w1);
    free(w2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lifecycle(data, size);
    writer_roundtrip(data, size);
    struct xml_node *root = xml_parse((const char *)data, size);
    if (root != NULL) {
        volatile size_t k = walk(root, 0);
        (void)k;
        (void)xml_child_text(root, "Part");
        (void)xml_child(root, "Object");
        xml_free(root);
    }
    static const struct acl_ids ids = {
        "02d6176db174dc93cb1b899f7c6078f08654445fe8cf1b6ce98d8855f66bdbf4", "b"};
    struct ts_error e = {0};
    uint32_t acl = 0;
    int rc = acl_parse_xml((const char *)data, size, &ids, &acl, &e);
    if (rc == TS_OK && !(acl & ACL_SET))
        abort(); /* a parsed document is an explicit ACL */
    return 0;
}
