/* fuzz_xml.c -- core/xml.c's reader (every S3 request body: CompleteMultipartUpload,
 * DeleteObjects, tagging...): xml_parse on arbitrary bytes, then a walk of the tree. And the
 * writer (every S3 and STS reply): the input, up to its first NUL, is written as an element's
 * text with xml_elem (under the sanitizers); when it is ASCII without control characters
 * other than tab, LF and CR, the reader must accept the document and give the text back. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/xml.h"

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

static void writer_roundtrip(const uint8_t *data, size_t size)
{
    size_t n = 0;
    bool plain = true;
    while (n < size && data[n] != 0) {
        uint8_t c = data[n++];
        plain = plain && c < 0x80 && (c >= 0x20 || c == '\t' || c == '\n' || c == '\r');
    }
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
    if (!plain) { /* C0 controls have no XML 1.0 form, bad UTF-8 is replaced: writing only */
        buf_free(&b);
        free(text);
        return;
    }
    struct xml_node *root = xml_parse(buf_str(&b), buf_len(&b));
    if (root == NULL)
        abort(); /* the writer produced a document the reader refuses */
    const char *got = xml_child_text(root, "K");
    /* a literal CR would come back as LF (XML line-end handling): it is written as &#13; */
    if (got == NULL || strcmp(got, text) != 0)
        abort(); /* escaping lost or changed bytes */
    xml_free(root);
    buf_free(&b);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    writer_roundtrip(data, size);
    struct xml_node *root = xml_parse((const char *)data, size);
    if (root != NULL) {
        volatile size_t k = walk(root, 0);
        (void)k;
        (void)xml_child_text(root, "Part");
        (void)xml_child(root, "Object");
        xml_free(root);
    }
    return 0;
}
