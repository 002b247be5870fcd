/* saml.h -- SAML 2.0 identity provider: verifies a base64 SAML Response (AssumeRoleWithSAML,
 * sts/act_saml.c) with xmlsec (OpenSSL backend) against the IdP's metadata, and says what the
 * one Assertion in it states. Rules (docs/SAML.md, docs/SECURITY.md):
 *
 * - input: at most SAML_MAX_B64 base64 characters, decoded then parsed by libxml2 without
 *   network, DTD loading or entity substitution; a document with a DOCTYPE is refused;
 * - shape: the root is one samlp:Response with exactly one saml:Assertion in the whole
 *   document, its direct child; EncryptedAssertion is refused; ID attributes are registered
 *   for the Response and the Assertion only, and no other element may carry either ID;
 * - signatures: every ds:Signature in the document is the direct child of the Response or of
 *   the Assertion, has exactly one Reference whose URI is "#" + its parent's ID, transforms
 *   only enveloped-signature and exc-c14n, digests SHA-256/384/512, signature RSA or ECDSA
 *   with SHA-256/384/512 (SHA-1 refused); it is verified with a key of the metadata's signing
 *   certificates (a KeyInfo in the message is never read); every signature present must
 *   verify and at least one must exist;
 * - content: Status Success; Issuer (Assertion, and Response when present) = the metadata's
 *   entityID; Conditions NotBefore/NotOnOrAfter and every AudienceRestriction naming the
 *   configured audience; one bearer SubjectConfirmation with NotOnOrAfter and Recipient = the
 *   configured recipient; text values read in full (every text node, comments skipped, no
 *   child elements); an assertion ID is accepted once within its validity (per process).
 */
#ifndef TS_IDP_SAML_H
#define TS_IDP_SAML_H

#include <stddef.h>
#include <time.h>

#include "core/err.h"
#include "idp/iam.h"

#define SAML_MAX_B64 (60 * 1024)    /* characters of SAMLAssertion (the STS form is 64 KiB) */
#define SAML_MAX_KEYS 8             /* signing certificates kept from the metadata */
#define SAML_MAX_METADATA (1 << 20) /* bytes of the metadata file */
#define SAML_CLOCK_SKEW 60          /* seconds of clock difference tolerated with the IdP */
#define SAML_REPLAY_MAX 100000      /* assertion IDs remembered at once; more are refused */
#define SAML_MAX_VALUES 256         /* values kept of one attribute */

#define SAML_ROLE_ATTR "https://aws.amazon.com/SAML/Attributes/Role"
#define SAML_SESSION_NAME_ATTR "https://aws.amazon.com/SAML/Attributes/RoleSessionName"
#define SAML_SESSION_DURATION_ATTR "https://aws.amazon.com/SAML/Attributes/SessionDuration"

struct saml_config {
    const char *metadata_file;    /* the IdP's EntityDescriptor (required) */
    const char *audience;         /* the SP entity ID the assertion must be restricted to */
    const char *recipient;        /* the ACS URL the bearer confirmation must name */
    const char *groups_attribute; /* attribute whose values are group names, or NULL */
};

/* What a verified assertion states. Owned; saml_assertion_cleanup frees it. */
struct saml_assertion {
    char *issuer;                   /* = the metadata's entityID */
    char *name_id;                  /* Subject/NameID, all its text */
    char *name_id_format;           /* its Format, or NULL */
    char *recipient;                /* SubjectConfirmationData Recipient */
    char *session_name;             /* RoleSessionName attribute (one value), or NULL */
    long session_duration;          /* SessionDuration attribute, 0 when absent */
    time_t session_not_on_or_after; /* AuthnStatement SessionNotOnOrAfter, 0 when absent */
    struct iam_strv roles;          /* Role attribute values ("roleArn,principalArn") */
    struct iam_strv groups;         /* values of the configured groups attribute */
};
void saml_assertion_cleanup(struct saml_assertion *a);

/* libxml2 and xmlsec: once, from the main thread, before any other thread uses them. */
int saml_global_init(void);
void saml_global_cleanup(void);

struct saml_idp;
/* Loads the metadata (entityID and the signing certificates). TS_OK or TS_E_INVALID_ARGUMENT
 * with a message in err. */
int saml_idp_new(const struct saml_config *c, struct saml_idp **out, char *err, size_t errlen);
void saml_idp_free(struct saml_idp *p);
const char *saml_idp_entity_id(const struct saml_idp *p);
size_t saml_idp_nkeys(const struct saml_idp *p);

/* Verifies the base64 SAML Response b64 at time now: TS_OK with *out, or InvalidIdentityToken
 * (any rule broken), ExpiredToken (past NotOnOrAfter), IDPRejectedClaim (Status not
 * Success), ServiceUnavailable (the replay cache is full) in err. Thread-safe. */
int saml_verify(struct saml_idp *p, const char *b64, time_t now, struct saml_assertion *out,
                struct ts_error *err);

/* xs:dateTime in UTC ("2026-01-02T03:04:05Z", fractions of a second ignored) into *t;
 * false when s is not one. Exposed for tests. */
bool saml_parse_time(const char *s, time_t *t);

#endif
