/* bench_saml_sign -- signs N copies of a SAML Response template, each with its own Assertion
 * ID (AssumeRoleWithSAML refuses a replayed assertion, so a load test needs one per request),
 * with xmlsec as the xmlsec1 CLI does, and writes one STS form body per line:
 *
 *   bench_saml_sign KEY.pem TEMPLATE.xml N PREFIX OUT
 *
 * TEMPLATE holds @ID@ where the Assertion's ID goes (its ID attribute and its Signature's
 * Reference URI) and an empty Signature template as the Assertion's child; each line of OUT is
 * PREFIX followed by the URL-encoded base64 of one signed Response. tests/bench/saml.py drives
 * it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/valid.h>
#include <xmlsec/crypto.h>
#include <xmlsec/xmldsig.h>
#include <xmlsec/xmlsec.h>
#include <xmlsec/xmltree.h>

#include "core/enc.h"

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf = malloc(1 << 20);
    size_t n = f != NULL && buf != NULL ? fread(buf, 1, (1 << 20) - 1, f) : 0;
    if (f == NULL || buf == NULL || n == 0)
        exit(2);
    fclose(f);
    buf[n] = '\0';
    return buf;
}

/* tmpl with every @ID@ replaced by id. */
static char *with_id(const char *tmpl, const char *id)
{
    size_t n = strlen(tmpl) + 8 * strlen(id) + 1, at = 0;
    char *out = malloc(n);
    for (const char *p = tmpl; *p != '\0';) {
        if (strncmp(p, "@ID@", 4) == 0) {
            at += (size_t)snprintf(out + at, n - at, "%s", id);
            p += 4;
        } else {
            out[at++] = *p++;
        }
    }
    out[at] = '\0';
    return out;
}

/* The signed document's base64, URL-encoded, onto f. */
static void put_form_value(FILE *f, const xmlChar *xml, int len)
{
    char *b64 = enc_b64(xml, (size_t)len);
    for (const char *p = b64; *p != '\0'; p++)
        if (*p == '+')
            fputs("%2B", f);
        else if (*p == '/')
            fputs("%2F", f);
        else if (*p == '=')
            fputs("%3D", f);
        else
            fputc(*p, f);
    free(b64);
}

static int sign_one(xmlSecKeyPtr key, const char *tmpl, long i, const char *prefix, FILE *f)
{
    char id[64]; /* unique across runs: the server remembers every ID it accepted */
    snprintf(id, sizeof id, "_bench%lx%x_%08ld", (long)time(NULL), (unsigned)getpid(), i);
    char *text = with_id(tmpl, id);
    xmlDocPtr d = xmlReadMemory(text, (int)strlen(text), NULL, NULL, XML_PARSE_NONET);
    xmlNodePtr sig =
        d ? xmlSecFindNode(xmlDocGetRootElement(d), xmlSecNodeSignature, xmlSecDSigNs) : NULL;
    xmlSecDSigCtxPtr ctx = xmlSecDSigCtxCreate(NULL);
    xmlChar *out = NULL;
    int len = 0, rc = -1;

    if (sig != NULL && ctx != NULL) {
        xmlAttrPtr a = xmlHasProp(sig->parent, (const xmlChar *)"ID");
        ctx->signKey = xmlSecKeyDuplicate(key);
        if (a != NULL && xmlAddID(NULL, d, (const xmlChar *)id, a) != NULL &&
            xmlSecDSigCtxSign(ctx, sig) == 0) {
            xmlDocDumpMemory(d, &out, &len);
            fputs(prefix, f);
            put_form_value(f, out, len);
            fputc('\n', f);
            rc = 0;
        }
    }
    xmlFree(out);
    if (ctx != NULL)
        xmlSecDSigCtxDestroy(ctx);
    xmlFreeDoc(d);
    free(text);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: bench_saml_sign KEY.pem TEMPLATE.xml N PREFIX OUT\n");
        return 2;
    }
    char *tmpl = slurp(argv[2]);
    long n = atol(argv[3]);
    FILE *f = fopen(argv[5], "w");
    xmlInitParser();
    if (f == NULL || xmlSecInit() < 0 || xmlSecCryptoAppInit(NULL) < 0 || xmlSecCryptoInit() < 0)
        return 1;
    xmlSecKeyPtr key = xmlSecCryptoAppKeyLoad(argv[1], xmlSecKeyDataFormatPem, NULL, NULL, NULL);
    if (key == NULL)
        return 1;
    for (long i = 0; i < n; i++)
        if (sign_one(key, tmpl, i, argv[4], f) != 0)
            return 1;
    xmlSecKeyDestroy(key);
    fclose(f);
    free(tmpl);
    xmlSecCryptoShutdown();
    xmlSecCryptoAppShutdown();
    xmlSecShutdown();
    return 0;
}
