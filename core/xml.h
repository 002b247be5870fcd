/* xml.h -- writing S3/STS XML responses, and reading XML request bodies with expat into a
 * small element tree (size and depth limited; DTDs and entity declarations refused, so no
 * entity expansion attacks). */
#ifndef TS_XML_H
#define TS_XML_H

#include <stddef.h>

#include "core/buf.h"

/* ---- writer: a tiny helper over struct buf ---- */

/* Starts a document: the XML declaration. */
void xml_begin(struct buf *b);
/* <name> or <name xmlns="ns"> */
void xml_open(struct buf *b, const char *name, const char *xmlns);
void xml_close(struct buf *b, const char *name);
/* <name>escaped text</name>; text NULL writes nothing at all. */
void xml_elem(struct buf *b, const char *name, const char *text);
void xml_elemf(struct buf *b, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- reader ---- */

struct xml_node {
    char *name; /* local name, namespace prefix stripped */
    char *text; /* concatenated character data (trimmed of nothing), never NULL */
    struct xml_node *child, *next, *parent;
};

/* Parses doc (len bytes). Returns the root node, or NULL on malformed input, more than
 * 10000 elements, depth over 32, or any DTD. */
struct xml_node *xml_parse(const char *doc, size_t len);
void xml_free(struct xml_node *n);
/* The first child named name, or NULL. */
struct xml_node *xml_child(const struct xml_node *n, const char *name);
/* Text of the first child named name, or NULL. */
const char *xml_child_text(const struct xml_node *n, const char *name);

#endif
