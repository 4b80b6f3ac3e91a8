/*
 * schema.h - XML Schema validation for the report tests (IODEF 1.0/2.0,
 * XEP-0268): load a schema from tests/data/spec/ (kept in the repository, see
 * its README for sources) and validate a parsed document, text, a file or one
 * element against it, with libxml2's schema API on the real output.
 *
 * The loaders and parsers assert (cmocka) on what a test cannot go on
 * without: a schema that does not load, a file that does not parse. Text that
 * does not parse is -1, so a test can tell "invalid" from "not XML".
 * Network access is off (XML_PARSE_NONET; the schemas' imports are offline
 * stubs). Single-threaded; header-only (static functions) so each test binary
 * is self-contained. Include after <cmocka.h>; needs SW_SOURCE_DIR.
 */
#ifndef SW_TEST_SCHEMA_H
#define SW_TEST_SCHEMA_H

#include <stddef.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/xmlschemas.h>

#define SW_TEST_SPEC SW_SOURCE_DIR "/tests/data/spec/"

/* tests/data/spec/@name, parsed; free with xmlSchemaFree. */
static inline xmlSchemaPtr sw_test_schema_load(const char *name)
{
    char path[512];
    snprintf(path, sizeof(path), "%s%s", SW_TEST_SPEC, name);
    xmlSchemaParserCtxtPtr pc = xmlSchemaNewParserCtxt(path);
    assert_non_null(pc);
    xmlSchemaPtr s = xmlSchemaParse(pc);
    xmlSchemaFreeParserCtxt(pc);
    assert_non_null(s);
    return s;
}

/* 0 valid, > 0 invalid (libxml2's error count), < 0 internal error. */
static inline int sw_test_validate_doc(xmlSchemaPtr schema, xmlDocPtr doc)
{
    xmlSchemaValidCtxtPtr vc = xmlSchemaNewValidCtxt(schema);
    assert_non_null(vc);
    int rc = xmlSchemaValidateDoc(vc, doc);
    xmlSchemaFreeValidCtxt(vc);
    return rc;
}

/* As sw_test_validate_doc for the subtree of @node (e.g. the <report/> in an <iq/>). */
static inline int sw_test_validate_element(xmlSchemaPtr schema, xmlNodePtr node)
{
    xmlSchemaValidCtxtPtr vc = xmlSchemaNewValidCtxt(schema);
    assert_non_null(vc);
    int rc = xmlSchemaValidateOneElement(vc, node);
    xmlSchemaFreeValidCtxt(vc);
    return rc;
}

/* -1 if @text is not well-formed XML, else as sw_test_validate_doc. */
static inline int sw_test_validate_text(xmlSchemaPtr schema, const char *text, size_t len)
{
    xmlDocPtr doc = xmlReadMemory(text, (int)len, NULL, NULL, XML_PARSE_NONET);
    if (doc == NULL) {
        return -1;
    }
    int rc = sw_test_validate_doc(schema, doc);
    xmlFreeDoc(doc);
    return rc;
}

/* The file at @path must parse; then as sw_test_validate_doc. */
static inline int sw_test_validate_file(xmlSchemaPtr schema, const char *path)
{
    xmlDocPtr doc = xmlReadFile(path, NULL, XML_PARSE_NONET);
    assert_non_null(doc);
    int rc = sw_test_validate_doc(schema, doc);
    xmlFreeDoc(doc);
    return rc;
}

/* One --reports line: must parse as an <iq/> whose first child is a <report/>
 * (*@iq, *@report point into the result; free it with xmlFreeDoc). */
static inline xmlDocPtr sw_test_iq_report(const char *line, xmlNodePtr *iq, xmlNodePtr *report)
{
    xmlDocPtr doc = xmlReadMemory(line, (int)strlen(line), NULL, NULL, XML_PARSE_NONET);
    assert_non_null(doc);
    *iq = xmlDocGetRootElement(doc);
    assert_string_equal((const char *)(*iq)->name, "iq");
    *report = xmlFirstElementChild(*iq);
    assert_non_null(*report);
    assert_string_equal((const char *)(*report)->name, "report");
    return doc;
}

#endif
