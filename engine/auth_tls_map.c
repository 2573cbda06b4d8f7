/* tls { verify_and_map: true }: the user a client certificate names, found as nats-server
 * finds it (auth.go's checkClientTLSCertSubject): each e-mail address of its subject
 * alternative names, then each DNS name, then each URI, as a user's name; then its subject
 * as a distinguished name, equal to a user's name read as one (RFC 4514: attribute types
 * without regard to case, values exactly, the attributes of one RDN in any order), then
 * equal with its RDNs in another order. nats-server's last fallbacks, the subject written as
 * Go's pkix package writes it (with and without domain components), are not tried: a name
 * they would match reads as the same distinguished name, except for attributes Go writes as
 * dotted OIDs with hex values. Shard threads, reading the configuration only. */
#include "engine/auth_tls_map.h"

#include "base/hex.h"

#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The most attributes a distinguished name may hold here, in all its RDNs. */
enum { DN_ATTRIBUTES_MAX = 32, DN_TEXT_MAX = 1024 };

struct dn_attribute {
    char type[64];
    char value[256];
    int rdn; /* which RDN it belongs to, from 0 */
};

struct dn {
    struct dn_attribute attributes[DN_ATTRIBUTES_MAX];
    int count;
    int rdn_count;
};

static const struct auth_user *user_named(const struct auth_config *auth, const char *name,
                                          size_t length)
{
    for (uint32_t i = 0; i < auth->user_count; i++) {
        const struct auth_user *user = &auth->users[i];
        if (user->name != NULL && !user->standard_denied && strlen(user->name) == length &&
            memcmp(user->name, name, length) == 0) {
            return user;
        }
    }
    return NULL;
}

/* The e-mail addresses (pass GEN_EMAIL), DNS names or URIs of the certificate's subject
 * alternative names, each tried as a user's name. */
static const struct auth_user *by_alt_names(const struct auth_config *auth,
                                            const GENERAL_NAMES *names, int kind)
{
    for (int i = 0; i < sk_GENERAL_NAME_num(names); i++) {
        const GENERAL_NAME *name = sk_GENERAL_NAME_value(names, i);
        if (name->type != kind) {
            continue;
        }
        const ASN1_IA5STRING *text = name->d.ia5; /* rfc822Name, dNSName and URI alike */
        const struct auth_user *user =
            user_named(auth, (const char *)ASN1_STRING_get0_data(text),
                       (size_t)ASN1_STRING_length(text));
        if (user != NULL) {
            return user;
        }
    }
    return NULL;
}

/* ---- distinguished names ---- */

/* The short names go-ldap gives the attribute types it knows; others by dotted OID. */
static void type_name(const ASN1_OBJECT *object, char *out, size_t size)
{
    static const struct {
        int nid;
        const char *name;
    } names[] = {
        {NID_countryName, "C"},           {NID_organizationName, "O"},
        {NID_organizationalUnitName, "OU"}, {NID_commonName, "CN"},
        {NID_serialNumber, "SERIALNUMBER"}, {NID_localityName, "L"},
        {NID_stateOrProvinceName, "ST"},  {NID_streetAddress, "STREET"},
        {NID_postalCode, "POSTALCODE"},   {NID_domainComponent, "DC"},
        {NID_userId, "UID"},
    };
    int nid = OBJ_obj2nid(object);
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (names[i].nid == nid) {
            snprintf(out, size, "%s", names[i].name);
            return;
        }
    }
    if (OBJ_obj2txt(out, (int)size, object, 1) <= 0) {
        out[0] = '\0';
    }
}

/* The certificate's subject, its RDNs in the order a DN is written (the last of the
 * certificate's first). False when it holds more than this module reads. */
static bool dn_of_subject(const X509_NAME *subject, struct dn *dn)
{
    memset(dn, 0, sizeof *dn);
    int count = X509_NAME_entry_count(subject);
    if (count > DN_ATTRIBUTES_MAX) {
        return false;
    }
    int last_set = -1;
    for (int i = count - 1; i >= 0; i--) {
        const X509_NAME_ENTRY *entry = X509_NAME_get_entry(subject, i);
        struct dn_attribute *attribute = &dn->attributes[dn->count++];
        int set = X509_NAME_ENTRY_set(entry);
        if (set != last_set) {
            dn->rdn_count++;
            last_set = set;
        }
        attribute->rdn = dn->rdn_count - 1;
        type_name(X509_NAME_ENTRY_get_object(entry), attribute->type, sizeof attribute->type);
        unsigned char *utf8 = NULL;
        int length = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(entry));
        if (length < 0 || (size_t)length >= sizeof attribute->value) {
            OPENSSL_free(utf8);
            return false;
        }
        memcpy(attribute->value, utf8, (size_t)length);
        attribute->value[length] = '\0';
        OPENSSL_free(utf8);
    }
    return true;
}

/* Appends one character of a value at `*at` (an escape read whole) to `out`, which holds
 * `*used`; false on a malformed escape or when it does not fit. */
static bool value_char(const char **at, char *out, size_t size, size_t *used, bool *escaped)
{
    const char *p = *at;
    char c = *p;
    *escaped = false;
    if (c == '\\') {
        int high = hex_value(p[1]);
        int low = high >= 0 ? hex_value(p[2]) : -1;
        if (high >= 0 && low >= 0) {
            c = (char)(high * 16 + low);
            p += 2;
        } else if (p[1] != '\0') {
            c = p[1];
            p += 1;
        } else {
            return false;
        }
        *escaped = true;
    }
    if (*used + 1 >= size) {
        return false;
    }
    out[(*used)++] = c;
    *at = p + 1;
    return true;
}

/* Reads one `type=value` from `*at` into `attribute`, stopping before an unescaped ',' or
 * '+' (or the end). False when it is not one. */
static bool attribute_read(const char **at, struct dn_attribute *attribute)
{
    const char *p = *at;
    while (*p == ' ') {
        p++;
    }
    size_t type_length = 0;
    while (*p != '\0' && *p != '=' && *p != ' ') {
        if (type_length + 1 >= sizeof attribute->type) {
            return false;
        }
        attribute->type[type_length++] = *p++;
    }
    attribute->type[type_length] = '\0';
    while (*p == ' ') {
        p++;
    }
    if (type_length == 0 || *p != '=') {
        return false;
    }
    p++;
    while (*p == ' ') {
        p++;
    }
    if (*p == '#') {
        return false; /* a BER-encoded value: not read here */
    }
    size_t used = 0;
    size_t kept = 0; /* the length up to the last character that is not an unescaped blank */
    while (*p != '\0' && *p != ',' && *p != '+') {
        bool escaped = false;
        if (!value_char(&p, attribute->value, sizeof attribute->value, &used, &escaped)) {
            return false;
        }
        if (escaped || attribute->value[used - 1] != ' ') {
            kept = used;
        }
    }
    attribute->value[kept] = '\0';
    *at = p;
    return true;
}

/* A user's name read as a distinguished name; false when it is not one. */
static bool dn_parse(const char *text, struct dn *dn)
{
    memset(dn, 0, sizeof *dn);
    const char *p = text;
    if (strchr(text, '=') == NULL) {
        return false;
    }
    dn->rdn_count = 1;
    for (;;) {
        if (dn->count == DN_ATTRIBUTES_MAX) {
            return false;
        }
        struct dn_attribute *attribute = &dn->attributes[dn->count];
        if (!attribute_read(&p, attribute)) {
            return false;
        }
        attribute->rdn = dn->rdn_count - 1;
        dn->count++;
        if (*p == '\0') {
            return true;
        }
        if (*p == ',') {
            dn->rdn_count++;
        }
        p++;
    }
}

static bool attribute_equal(const struct dn_attribute *a, const struct dn_attribute *b)
{
    return strcasecmp(a->type, b->type) == 0 && strcmp(a->value, b->value) == 0;
}

/* Whether RDN `i` of `a` and RDN `j` of `b` hold the same attributes, in any order. */
static bool rdn_equal(const struct dn *a, int i, const struct dn *b, int j)
{
    int a_count = 0;
    int b_count = 0;
    for (int k = 0; k < b->count; k++) {
        b_count += b->attributes[k].rdn == j;
    }
    for (int k = 0; k < a->count; k++) {
        if (a->attributes[k].rdn != i) {
            continue;
        }
        a_count++;
        bool found = false;
        for (int m = 0; m < b->count && !found; m++) {
            found = b->attributes[m].rdn == j && attribute_equal(&a->attributes[k],
                                                                 &b->attributes[m]);
        }
        if (!found) {
            return false;
        }
    }
    return a_count == b_count;
}

/* Equal RDN by RDN, or (`any_order`) each RDN of `a` somewhere in `b`. */
static bool dn_equal(const struct dn *a, const struct dn *b, bool any_order)
{
    if (a->rdn_count != b->rdn_count) {
        return false;
    }
    for (int i = 0; i < a->rdn_count; i++) {
        bool found = rdn_equal(a, i, b, i);
        for (int j = 0; any_order && j < b->rdn_count && !found; j++) {
            found = rdn_equal(a, i, b, j);
        }
        if (!found) {
            return false;
        }
    }
    return true;
}

static const struct auth_user *by_subject(const struct auth_config *auth, const X509 *cert)
{
    struct dn *subject = malloc(sizeof *subject);
    struct dn *named = malloc(sizeof *named);
    const struct auth_user *match = NULL;
    if (subject == NULL || named == NULL ||
        !dn_of_subject(X509_get_subject_name(cert), subject) || subject->count == 0) {
        goto done;
    }
    for (int pass = 0; pass < 2 && match == NULL; pass++) {
        for (uint32_t i = 0; i < auth->user_count && match == NULL; i++) {
            const struct auth_user *user = &auth->users[i];
            if (user->name != NULL && !user->standard_denied &&
                strlen(user->name) < DN_TEXT_MAX && dn_parse(user->name, named) &&
                dn_equal(named, subject, pass == 1)) {
                match = user;
            }
        }
    }
done:
    free(subject);
    free(named);
    return match;
}

const struct auth_user *auth_tls_map_find(const struct auth_config *auth,
                                          const struct x509_st *certificate)
{
    if (auth == NULL || certificate == NULL) {
        return NULL;
    }
    GENERAL_NAMES *names = X509_get_ext_d2i(certificate, NID_subject_alt_name, NULL, NULL);
    const struct auth_user *user = NULL;
    if (names != NULL) {
        static const int kinds[] = {GEN_EMAIL, GEN_DNS, GEN_URI};
        for (size_t k = 0; k < sizeof kinds / sizeof kinds[0] && user == NULL; k++) {
            user = by_alt_names(auth, names, kinds[k]);
        }
        GENERAL_NAMES_free(names);
    }
    return user != NULL ? user : by_subject(auth, certificate);
}
