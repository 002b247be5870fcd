/* fuzz_saml.c -- idp/saml.c's verification of a SAML Response (AssumeRoleWithSAML, unsigned
 * and reachable by anyone): the input is the Response's XML (base64-encoded here, as the
 * SAMLAssertion parameter carries it), verified against the metadata of the unit test's
 * fixtures (tests/unit/idp/saml/) at a fixed time. The seeds are those fixtures (signed, valid
 * until 2099) and wrapping attacks on them: whatever the bytes, no crash, no leak, and only an
 * untouched signed document is accepted. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/enc.h"
#include "core/err.h"
#include "idp/saml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define NOW 1767225600 /* 2026-01-01 */

static const char metadata[] =
    "<?xml version=\"1.0\"?>\n<md:EntityDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:met"
    "adata\" xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\" entityID=\"https://idp.example.t"
    "est/saml\"><md:IDPSSODescriptor protocolSupportEnumeration=\"urn:oasis:names:tc:SAML:2.0"
    ":protocol\"><md:KeyDescriptor use=\"signing\"><ds:KeyInfo><ds:X509Data><ds:X509Certifica"
    "te>MIIDFzCCAf+gAwIBAgIUTt3TLuSpNJxEfuPH1d3+Jaay92EwDQYJKoZIhvcNAQELBQAwGzEZMBcGA1UEAwwQa"
    "WRwLmV4YW1wbGUudGVzdDAeFw0yNjEyMDYxNjMzNTRaFw0yNjEyMDkxNjMzNTRaMBsxGTAXBgNVBAMMEGlkcC5le"
    "GFtcGxlLnRlc3QwggEiMA0GCSqGSIb3DQEBAQUAA4IBDwAwggEKAoIBAQDCYethhoPaAXMQ+868LEsUwZcdqayaX"
    "XdwDDsKxFgdNyhtP5YzFdzRnd74DX9BXmEDPpIysSJkJvaOqKpt8MzGo5Hxi2wi0hC/TpGRGpzXcXV44wcXyWP+G"
    "IVDQJp4UcLIyQudl2O7KPUinII3qeNuacxWYWmqVlu3tjvJ3rPJjBdToHiFzVgRjDHfVzL1W9mEBWhfz1dqQMngk"
    "chrCEpu97eSMg04cWtO/eGfKiNVssZqlxv6mhKGn4YDMJG2GFncZ5a+64rQ7K/wPSM8X/4J02Zi8BDHxhaBMp54X"
    "dlQG71szDvWPtqL6cOolnvyC7W8uk/FiSDIGPggSftyyx6nAgMBAAGjUzBRMB0GA1UdDgQWBBT3oGhvF0dR4esr/"
    "z9NnTjpFV4dszAfBgNVHSMEGDAWgBT3oGhvF0dR4esr/z9NnTjpFV4dszAPBgNVHRMBAf8EBTADAQH/MA0GCSqGS"
    "Ib3DQEBCwUAA4IBAQA4WgXizlPdYzmaoErXHTiZDM9w/Cl+fFEWPubwKaxhlFvI1HWyfXi7Yz/dS8OhoC24cz8T/"
    "ww8yAM+7HszpS08WSxereDGZyYmqu1l17qvHHS1dqXdtPXBkA85udjS0VV6D27I0lNuxKcCwjhthtp/FZP0G1rhy"
    "sR9DGQbZywWMEIElzeStGHf51VX3gJDOX6hdQDStgs3yPQohJzT2j+gTaSMXEaESPRPzWb4eCbCr+16QmJ+ebcvm"
    "lj9/54oUaYtb7SKnQGNCfjk0eU2D0tQIXC1ND+BpKiKG3h9tmlTlpfxc75aZuus7nW+NVRSMdjcJU2XqdKkrQvnR"
    "MFx/A14</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor><md:KeyDescrip"
    "tor use=\"encryption\"><ds:KeyInfo><ds:KeyName>enc</ds:KeyName></ds:KeyInfo></md:KeyDesc"
    "riptor><md:SingleSignOnService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
    "\" Location=\"https://idp.example.test/sso\"/></md:IDPSSODescriptor></md:EntityDescripto"
    "r>";

static struct saml_idp *idp;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char path[] = "/tmp/ts_fuzz_saml_XXXXXX", err[300];
    int fd = mkstemp(path);
    struct saml_config c = {.metadata_file = path,
                            .audience = "urn:amazon:webservices",
                            .recipient = "https://signin.aws.amazon.com/saml",
                            .groups_attribute = "http://schemas.xmlsoap.org/claims/Group"};

    (void)argc, (void)argv;
    if (fd < 0 || write(fd, metadata, sizeof metadata - 1) != (ssize_t)(sizeof metadata - 1) ||
        saml_global_init() != TS_OK || saml_idp_new(&c, &idp, err, sizeof err) != TS_OK)
        abort();
    close(fd);
    unlink(path);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct saml_assertion a;
    struct ts_error e;
    char *b64;

    if (size > SAML_MAX_B64 / 4 * 3)
        return 0;
    b64 = enc_b64(data, size);
    if (b64 == NULL)
        abort();
    if (saml_verify(idp, b64, NOW, &a, &e) == TS_OK) {
        if (a.name_id == NULL || a.issuer == NULL || strcmp(a.issuer, saml_idp_entity_id(idp)))
            abort();
        saml_assertion_cleanup(&a);
    }
    free(b64);
    return 0;
}
