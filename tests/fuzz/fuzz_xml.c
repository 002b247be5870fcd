/* fuzz_xml.c -- core/xml.c's reader (every S3 request body: CompleteMultipartUpload,
 * DeleteObjects, tagging...): xml_parse on arbitrary bytes, then a walk of the tree. */
#include <stdint.h>
#include <string.h>

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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
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
