/* xml.c -- XML writer helpers and an expat-based reader into a small tree. */
#include "core/xml.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <expat.h>

void xml_begin(struct buf *b)
{
    buf_adds(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
}

/* Tags are written with plain appends: printf-style formatting was a visible share of every
 * XML reply (STS credentials, 1000-key listings) in the profiles. */
void xml_open(struct buf *b, const char *name, const char *xmlns)
{
    buf_add(b, "<", 1);
    buf_adds(b, name);
    if (xmlns) {
        buf_add(b, " xmlns=\"", 8);
        buf_adds(b, xmlns);
        buf_add(b, "\"", 1);
    }
    buf_add(b, ">", 1);
}

void xml_close(struct buf *b, const char *name)
{
    buf_add(b, "</", 2);
    buf_adds(b, name);
    buf_add(b, ">", 1);
}

void xml_elem(struct buf *b, const char *name, const char *text)
{
    if (text == NULL)
        return;
    size_t n = strlen(name);
    buf_add(b, "<", 1);
    buf_add(b, name, n);
    buf_add(b, ">", 1);
    buf_add_xml(b, text);
    buf_add(b, "</", 2);
    buf_add(b, name, n);
    buf_add(b, ">", 1);
}

void xml_elemf(struct buf *b, const char *name, const char *fmt, ...)
{
    char small[128];
    struct buf tmp;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n < sizeof small) {
        xml_elem(b, name, small);
        return;
    }
    buf_init(&tmp, 1 << 20);
    va_start(ap, fmt);
    buf_vaddf(&tmp, fmt, ap);
    va_end(ap);
    xml_elem(b, name, buf_str(&tmp));
    buf_free(&tmp);
}

/* ---- reader ---- */

#define XML_MAX_NODES 10000
#define XML_MAX_DEPTH 32

struct xml_parse_state {
    XML_Parser parser;
    struct xml_node *root, *cur;
    struct buf text;
    int nodes, depth;
    bool failed;
};

static void xml_stop(struct xml_parse_state *ps)
{
    ps->failed = true;
    XML_StopParser(ps->parser, XML_FALSE);
}

static int xml_flush_text(struct xml_parse_state *ps)
{
    if (ps->cur == NULL || buf_len(&ps->text) == 0)
        return 0;
    size_t old = strlen(ps->cur->text), n = buf_len(&ps->text);
    char *t = realloc(ps->cur->text, old + n + 1);
    if (t == NULL)
        return -1;
    memcpy(t + old, buf_str(&ps->text), n + 1);
    ps->cur->text = t;
    buf_free(&ps->text);
    buf_init(&ps->text, 1 << 20);
    return 0;
}

static void XMLCALL xml_on_start(void *ud, const XML_Char *name, const XML_Char **attrs)
{
    struct xml_parse_state *ps = ud;
    (void)attrs;
    if (ps->failed)
        return;
    if (++ps->nodes > XML_MAX_NODES || ++ps->depth > XML_MAX_DEPTH || xml_flush_text(ps) != 0) {
        xml_stop(ps);
        return;
    }
    struct xml_node *n = calloc(1, sizeof *n);
    if (n == NULL) {
        xml_stop(ps);
        return;
    }
    /* With namespace processing the name is "uri|local": keep the local part. */
    const char *local = strrchr(name, '|');
    n->name = strdup(local ? local + 1 : name);
    n->text = strdup("");
    if (n->name == NULL || n->text == NULL) {
        xml_free(n);
        xml_stop(ps);
        return;
    }
    n->parent = ps->cur;
    if (ps->cur == NULL) {
        if (ps->root != NULL) { /* cannot happen: expat refuses two roots */
            xml_free(n);
            xml_stop(ps);
            return;
        }
        ps->root = n;
    } else {
        struct xml_node **pp = &ps->cur->child;
        while (*pp)
            pp = &(*pp)->next;
        *pp = n;
    }
    ps->cur = n;
}

static void XMLCALL xml_on_end(void *ud, const XML_Char *name)
{
    struct xml_parse_state *ps = ud;
    (void)name;
    if (ps->failed)
        return;
    if (xml_flush_text(ps) != 0) {
        xml_stop(ps);
        return;
    }
    ps->depth--;
    ps->cur = ps->cur ? ps->cur->parent : NULL;
}

static void XMLCALL xml_on_text(void *ud, const XML_Char *s, int len)
{
    struct xml_parse_state *ps = ud;
    if (ps->failed)
        return;
    if (buf_add(&ps->text, s, (size_t)len) != 0)
        xml_stop(ps);
}

static void XMLCALL xml_on_doctype(void *ud, const XML_Char *name, const XML_Char *sysid,
                                   const XML_Char *pubid, int has_internal_subset)
{
    (void)name, (void)sysid, (void)pubid, (void)has_internal_subset;
    xml_stop(ud);
}

static void XMLCALL xml_on_entity(void *ud, const XML_Char *name, int is_param,
                                  const XML_Char *value, int value_len, const XML_Char *base,
                                  const XML_Char *sysid, const XML_Char *pubid,
                                  const XML_Char *notation)
{
    (void)name, (void)is_param, (void)value, (void)value_len, (void)base, (void)sysid;
    (void)pubid, (void)notation;
    xml_stop(ud);
}

struct xml_node *xml_parse(const char *doc, size_t len)
{
    struct xml_parse_state ps;
    memset(&ps, 0, sizeof ps);
    if (len > 0x7fffffff)
        return NULL;
    ps.parser = XML_ParserCreateNS("UTF-8", '|');
    if (ps.parser == NULL)
        return NULL;
    buf_init(&ps.text, 1 << 20);
    XML_SetUserData(ps.parser, &ps);
    XML_SetElementHandler(ps.parser, xml_on_start, xml_on_end);
    XML_SetCharacterDataHandler(ps.parser, xml_on_text);
    XML_SetStartDoctypeDeclHandler(ps.parser, xml_on_doctype);
    XML_SetEntityDeclHandler(ps.parser, xml_on_entity);
    enum XML_Status st = XML_Parse(ps.parser, doc, (int)len, XML_TRUE);
    XML_ParserFree(ps.parser);
    buf_free(&ps.text);
    if (st != XML_STATUS_OK || ps.failed || ps.root == NULL) {
        xml_free(ps.root);
        return NULL;
    }
    return ps.root;
}

void xml_free(struct xml_node *n)
{
    while (n) {
        struct xml_node *next = n->next;
        xml_free(n->child);
        free(n->name);
        free(n->text);
        free(n);
        n = next;
    }
}

struct xml_node *xml_child(const struct xml_node *n, const char *name)
{
    if (n == NULL)
        return NULL;
    for (struct xml_node *c = n->child; c; c = c->next)
        if (strcmp(c->name, name) == 0)
            return c;
    return NULL;
}

const char *xml_child_text(const struct xml_node *n, const char *name)
{
    struct xml_node *c = xml_child(n, name);
    return c ? c->text : NULL;
}
