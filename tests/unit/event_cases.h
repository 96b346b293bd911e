/*
 * NAME
 *	event_cases - tables for check_event.c
 * DESCRIPTION
 *	fixture_expect: what each file in the datagram fixture directory
 *	must parse to. ev_cases: malformed and edge datagrams with the
 *	result ev_parse() must give; for accepted ones also the number of
 *	policies kept, the first reason a part was dropped and, when pr is
 *	set, the decoded pr member and how many strings were repaired.
 *	A bad part in a DROP() case must be the policy itself, so that
 *	dropped_policies is 1 exactly when part_error is set.
 *	Raw bytes are split into their own literals ("\xE9" "a") so a hex
 *	escape never swallows the letter after it.
 */
#ifndef CHECK_EVENT_CASES_H
#define CHECK_EVENT_CASES_H

#include <stddef.h>
#include <stdint.h>

#include "event.h"

struct fx_failure {
	long code;
	const char *s, *n, *h, *r, *a, *f;	/* NULL: absent (empty) */
};

struct fx_policy {
	long type;
	const char *domain;
	uint32_t nstrings, nmx, nfailures;
	const char *string0, *mx0;		/* first entries, if any */
	int failed;
	long t;
	struct fx_failure fail0;		/* first failure, if any */
};

struct fx_expect {
	const char *file;
	const char *d, *pr;
	uint32_t npolicies, repaired;
	int exact;		/* ev_encode() must give the file's bytes back */
	struct fx_policy pol[2];
};

#define PR_EX "v=TLSRPTv1; rua=mailto:tlsrpt@example.com,https://tlsrpt.example.com/v1"
#define PR_DOM "v=TLSRPTv1;rua=mailto:tlsrpt@dom00000.example"
#define STS0 "version: STSv1"
#define TLSA0 "3 1 1 0C72AC70B745AC19998811B131D662C9AC69DBDBE7CB23E5B514B56664C5D3D6"
#define DOM "dom00000.example"
#define MX1DOM "mx1.dom00000.example"

static const struct fx_expect fixture_expect[] = {
	{ "success.json", DOM, PR_DOM, 1, 0, 1,
	    {{ 2, DOM, 5, 2, 0, STS0, MX1DOM, 0, 0, { 0 } }} },
	{ "failure-starttls-not-supported.json", DOM, PR_DOM, 1, 0, 1,
	    {{ 2, DOM, 5, 2, 1, STS0, MX1DOM, 1, 1, { 201, "192.0.2.10", MX1DOM,
	    MX1DOM, "203.0.113.1", "STARTTLS not offered in EHLO response",
	    NULL } }} },
	{ "failure-certificate-expired.json", DOM, PR_DOM, 1, 0, 1,
	    {{ 2, DOM, 5, 2, 1, STS0, MX1DOM, 1, 1, { 204, "192.0.2.10", MX1DOM,
	    MX1DOM, "203.0.113.1", NULL, "certificate has expired" } }} },
	{ "tlsa-success.json", "example.net", PR_EX, 1, 0, 1,
	    {{ 1, "mx.example.net", 2, 0, 0, TLSA0, NULL, 0, 0, { 0 } }} },
	{ "tlsa-invalid-downgrade.json", "example.net", PR_EX, 1, 0, 1,
	    {{ 1, "mx.example.net", 2, 0, 1, TLSA0, NULL, 1, 1, { 304,
	    "192.0.2.25", "mx.example.net",
	    "250-mx.example.net\r\n250-PIPELINING\r\n250 STARTTLS",
	    "198.51.100.10", NULL, "all-TLSA-records-unusable" } }} },
	{ "dane-required.json", "example.net", PR_EX, 1, 0, 1,
	    {{ 1, "mx.example.net", 0, 0, 1, NULL, NULL, 1, 1, { 306,
	    "192.0.2.25", "mx.example.net", NULL, "198.51.100.10", NULL,
	    NULL } }} },
	{ "no-policy-found-postfix310.json", "example.net", PR_EX, 1, 0, 0,
	    {{ 9, "example.net", 0, 0, 0, NULL, NULL, 0, 0, { 0 } }} },
	{ "no-policy-found-with-domain.json", "example.com", PR_EX, 1, 0, 1,
	    {{ 9, "example.com", 0, 0, 0, NULL, NULL, 0, 0, { 0 } }} },
	{ "sts-testing-host-mismatch-ipv6.json", "example.com", PR_EX, 1, 0, 1,
	    {{ 2, "example.com", 5, 2, 1, STS0, "mx1.example.com", 1, 1, { 202,
	    "2001:db8::25", "b1.backup.example.com", "b1.backup.example.com",
	    "2001:db8:1::10", NULL,
	    "certificate name \"mx.other.example\" does not match \\*.backup" } }} },
	{ "sts-policy-fetch-error.json", "example.com", PR_EX, 1, 0, 1,
	    {{ 2, "example.com", 0, 0, 1, NULL, NULL, 1, 1, { 301, "192.0.2.25",
	    NULL, NULL, NULL, "https://mta-sts.example.com/.well-known/mta-sts.txt",
	    "HTTP 404" } }} },
	{ "two-policies-sts-fail-tlsa-ok.json", "example.com", PR_EX, 2, 0, 1,
	    {{ 2, "example.com", 5, 1, 1, STS0, "mx1.example.com", 1, 1, { 303,
	    "192.0.2.25", "mx1.example.com", NULL, "203.0.113.5", NULL, NULL } },
	    { 1, "mx1.example.com", 2, 0, 0, TLSA0, NULL, 0, 0, { 0 } }} },
	{ "non-utf8-latin1.json", "example.com", PR_EX, 1, 2, 0,
	    {{ 2, "example.com", 5, 0, 1, STS0, NULL, 1, 1, { 201, "192.0.2.25",
	    "mx1.example.com", "mx1.example.com ESMTP Caf\xC3\xA9 ready",
	    "203.0.113.5", NULL, "r\xC3\xA9" "ponse" } }} },
	{ "dnssec-invalid.json", "example.com", PR_EX, 1, 0, 1,
	    {{ 1, "mx.example.com", 0, 0, 1, NULL, NULL, 1, 1, { 305, "192.0.2.25",
	    "mx.example.com", NULL, NULL, NULL, "bogus" } }} },
	{ "mixed-case-trailing-dot.json", "example.com", PR_EX, 1, 0, 0,
	    {{ 2, "example.com", 5, 0, 0, STS0, NULL, 0, 0, { 0 } }} },
};

struct ev_case {
	const char *name;
	const char *json;
	size_t len;		/* 0: strlen(json) */
	enum ev_error want;
	uint32_t npolicies;	/* the rest only when want is EV_OK */
	enum ev_error part;
	const char *pr;		/* NULL: not checked */
	uint32_t repaired;
};

#define POL_OK "{\"policy-type\":2,\"t\":0,\"f\":0}"
/* A datagram with extra top-level members (each starting with ',') */
#define DG(top, pols) \
	"{\"dpv\": \"1\",\"d\": \"example.com\"" top ",\"policies\":[" pols "]}"
#define DGP(pols) DG("", pols)
#define DGPR(pr) DG(",\"pr\": \"" pr "\"", POL_OK)
/* A good policy, then a bad one that must be dropped. */
#define DROP(bad) DGP(POL_OK "," bad)
#define LIT(s) s, sizeof(s) - 1
#define FFFD "\xEF\xBF\xBD"

static const struct ev_case ev_cases[] = {
	/* Not a datagram at all. */
	{ "empty", "", 0, EV_ERR_EMPTY, 0, 0, NULL, 0 },
	{ "whitespace-only", " \t\r\n ", 0, EV_ERR_SYNTAX, 0, 0, NULL, 0 },
	{ "not-json", "hello", 0, EV_ERR_SYNTAX, 0, 0, NULL, 0 },
	{ "binary", "\x01\x02\x03", 0, EV_ERR_SYNTAX, 0, 0, NULL, 0 },
	{ "nul-byte", LIT("\0"), EV_ERR_SYNTAX, 0, 0, NULL, 0 },
	{ "top-array", "[]", 0, EV_ERR_NOT_OBJECT, 0, 0, NULL, 0 },
	{ "top-array-of-object", "[" DGP(POL_OK) "]", 0, EV_ERR_NOT_OBJECT, 0, 0, NULL, 0 },
	{ "top-string", "\"x\"", 0, EV_ERR_NOT_OBJECT, 0, 0, NULL, 0 },
	{ "top-number", "42", 0, EV_ERR_NOT_OBJECT, 0, 0, NULL, 0 },
	{ "top-null", " null ", 0, EV_ERR_NOT_OBJECT, 0, 0, NULL, 0 },
	{ "top-true", "true", 0, EV_ERR_NOT_OBJECT, 0, 0, NULL, 0 },
	{ "top-array-garbage", "[] x", 0, EV_ERR_SYNTAX, 0, 0, NULL, 0 },
	{ "open-brace", "{", 0, EV_ERR_SYNTAX, 0, 0, NULL, 0 },
	{ "empty-object", "{}", 0, EV_ERR_MISSING, 0, 0, NULL, 0 },
	{ "bom", "\xEF\xBB\xBF" DGP(POL_OK), 0, EV_ERR_SYNTAX, 0, 0, NULL, 0 },
	{ "trailing-garbage", DGP(POL_OK) "x", 0, EV_ERR_SYNTAX, 0, 0, NULL, 0 },
	{ "trailing-brace", DGP(POL_OK) "}", 0, EV_ERR_SYNTAX, 0, 0, NULL, 0 },
	{ "two-objects", DGP(POL_OK) DGP(POL_OK), 0, EV_ERR_SYNTAX, 0, 0, NULL, 0 },
	{ "trailing-nul", LIT(DGP(POL_OK) "\0"), EV_ERR_SYNTAX, 0, 0, NULL, 0 },
	{ "trailing-comma-object", "{\"d\": \"example.com\",\"policies\":[" POL_OK "],}",
	    0, EV_ERR_SYNTAX, 0, 0, NULL, 0 },
	{ "trailing-comma-array", DGP(POL_OK ","), 0, EV_ERR_SYNTAX, 0, 0, NULL, 0 },
	{ "missing-colon", "{\"d\" \"example.com\"}", 0, EV_ERR_SYNTAX, 0, 0, NULL, 0 },
	{ "single-quotes", "{'d': 'example.com'}", 0, EV_ERR_SYNTAX, 0, 0, NULL, 0 },
	{ "unquoted-key", "{d: \"example.com\"}", 0, EV_ERR_SYNTAX, 0, 0, NULL, 0 },
	{ "bad-literal", DG(",\"x\":tru", POL_OK), 0, EV_ERR_SYNTAX, 0, 0, NULL, 0 },
	{ "literal-case", DG(",\"x\":True", POL_OK), 0, EV_ERR_SYNTAX, 0, 0, NULL, 0 },
	{ "leading-zero", DG(",\"x\":01", POL_OK), 0, EV_ERR_SYNTAX, 0, 0, NULL, 0 },
	{ "lone-minus", DG(",\"x\":-", POL_OK), 0, EV_ERR_SYNTAX, 0, 0, NULL, 0 },
	{ "bare-fraction", DG(",\"x\":1.", POL_OK), 0, EV_ERR_SYNTAX, 0, 0, NULL, 0 },
	{ "bare-exponent", DG(",\"x\":1e+", POL_OK), 0, EV_ERR_SYNTAX, 0, 0, NULL, 0 },
	{ "plus-sign", DG(",\"x\":+1", POL_OK), 0, EV_ERR_SYNTAX, 0, 0, NULL, 0 },
	{ "raw-control-char", DGPR("a\x01" "b"), 0, EV_ERR_SYNTAX, 0, 0, NULL, 0 },
	{ "raw-newline", DGPR("a\nb"), 0, EV_ERR_SYNTAX, 0, 0, NULL, 0 },
	{ "raw-tab", DGPR("a\tb"), 0, EV_ERR_SYNTAX, 0, 0, NULL, 0 },
	{ "raw-nul-in-string", LIT(DGPR("a\0b")), EV_ERR_SYNTAX, 0, 0, NULL, 0 },
	{ "bad-escape", DGPR("\\x41"), 0, EV_ERR_SYNTAX, 0, 0, NULL, 0 },
	{ "short-u-escape", DGPR("\\u12"), 0, EV_ERR_SYNTAX, 0, 0, NULL, 0 },
	{ "bad-hex-escape", DGPR("\\u12G4"), 0, EV_ERR_SYNTAX, 0, 0, NULL, 0 },
	{ "unterminated-string", "{\"d\": \"example.com", 0, EV_ERR_SYNTAX, 0, 0, NULL, 0 },
	{ "escape-at-end", "{\"d\": \"a\\", 0, EV_ERR_SYNTAX, 0, 0, NULL, 0 },
	{ "skipped-value-checked", DG(",\"x\":[1 2]", POL_OK), 0, EV_ERR_SYNTAX, 0, 0, NULL, 0 },
	{ "skipped-object-unclosed", DG(",\"x\":{\"a\":1", POL_OK), 0, EV_ERR_SYNTAX, 0, 0, NULL, 0 },
	{ "skipped-key-not-string", DG(",\"x\":{1:2}", POL_OK), 0, EV_ERR_SYNTAX, 0, 0, NULL, 0 },

	/* Wrong structure at the top. */
	{ "policies-null", "{\"d\": \"example.com\",\"policies\":null}", 0,
	    EV_ERR_NO_POLICIES, 0, 0, NULL, 0 },
	{ "policies-missing", "{\"dpv\": \"1\",\"d\": \"example.com\"}", 0,
	    EV_ERR_NO_POLICIES, 0, 0, NULL, 0 },
	{ "policies-empty", DGP(""), 0, EV_ERR_NO_POLICIES, 0, 0, NULL, 0 },
	{ "policies-object", "{\"d\": \"example.com\",\"policies\":{}}", 0,
	    EV_ERR_TYPE, 0, 0, NULL, 0 },
	{ "policies-string", "{\"d\": \"example.com\",\"policies\":\"x\"}", 0,
	    EV_ERR_TYPE, 0, 0, NULL, 0 },
	{ "policies-number", "{\"d\": \"example.com\",\"policies\":1}", 0,
	    EV_ERR_TYPE, 0, 0, NULL, 0 },
	{ "policies-all-bad", DGP("1,\"x\",null,[],true"), 0, EV_ERR_NO_POLICIES, 0, 0, NULL, 0 },
	{ "only-policy-missing-f", DGP("{\"policy-type\":2,\"t\":0}"), 0,
	    EV_ERR_NO_POLICIES, 0, 0, NULL, 0 },
	{ "only-policy-missing-type", DGP("{\"t\":0,\"f\":0}"), 0,
	    EV_ERR_NO_POLICIES, 0, 0, NULL, 0 },
	{ "only-policy-negative-type", DGP("{\"policy-type\":-2,\"t\":0,\"f\":0}"), 0,
	    EV_ERR_NO_POLICIES, 0, 0, NULL, 0 },
	{ "d-missing", "{\"policies\":[" POL_OK "]}", 0, EV_ERR_MISSING, 0, 0, NULL, 0 },
	{ "d-number", "{\"d\":7,\"policies\":[" POL_OK "]}", 0, EV_ERR_TYPE, 0, 0, NULL, 0 },
	{ "d-null", "{\"d\":null,\"policies\":[" POL_OK "]}", 0, EV_ERR_TYPE, 0, 0, NULL, 0 },
	{ "d-array", "{\"d\":[\"a.example\"],\"policies\":[" POL_OK "]}", 0,
	    EV_ERR_TYPE, 0, 0, NULL, 0 },
	{ "d-empty", "{\"d\": \"\",\"policies\":[" POL_OK "]}", 0, EV_ERR_DOMAIN, 0, 0, NULL, 0 },
	{ "d-space", "{\"d\": \"exa mple.com\",\"policies\":[" POL_OK "]}", 0,
	    EV_ERR_DOMAIN, 0, 0, NULL, 0 },
	{ "d-dot-only", "{\"d\": \".\",\"policies\":[" POL_OK "]}", 0,
	    EV_ERR_DOMAIN, 0, 0, NULL, 0 },
	/* Found by tests/fuzz/fuzz_event: "a.." became "a.", then "a" when re-read. */
	{ "d-two-trailing-dots", "{\"d\": \"a.example..\",\"policies\":[" POL_OK "]}", 0,
	    EV_ERR_DOMAIN, 0, 0, NULL, 0 },
	{ "d-dot-dot", "{\"d\": \"..\",\"policies\":[" POL_OK "]}", 0,
	    EV_ERR_DOMAIN, 0, 0, NULL, 0 },
	{ "policy-domain-two-trailing-dots",
	    DROP("{\"policy-type\":2,\"policy-domain\": \"a.example..\",\"t\":0,\"f\":0}"),
	    0, EV_OK, 1, EV_ERR_DOMAIN, NULL, 0 },
	{ "d-non-ascii", "{\"d\": \"ex\xC3\xA4" "mple.com\",\"policies\":[" POL_OK "]}", 0,
	    EV_ERR_DOMAIN, 0, 0, NULL, 0 },
	{ "d-slash", "{\"d\": \"a/b.example\",\"policies\":[" POL_OK "]}", 0,
	    EV_ERR_DOMAIN, 0, 0, NULL, 0 },
	{ "d-duplicate", "{\"d\": \"a.example\",\"d\": \"b.example\",\"policies\":["
	    POL_OK "]}", 0, EV_ERR_DUPLICATE, 0, 0, NULL, 0 },
	{ "policies-duplicate", DG(",\"policies\":[" POL_OK "]", POL_OK), 0,
	    EV_ERR_DUPLICATE, 0, 0, NULL, 0 },
	{ "pr-number", DG(",\"pr\":1", POL_OK), 0, EV_ERR_TYPE, 0, 0, NULL, 0 },
	{ "pr-duplicate", DG(",\"pr\": \"a\",\"pr\": \"a\"", POL_OK), 0,
	    EV_ERR_DUPLICATE, 0, 0, NULL, 0 },
	{ "d-escaped-key-name", "{\"\\u0064\": \"example.com\",\"policies\":[" POL_OK "]}",
	    0, EV_OK, 1, EV_OK, NULL, 0 },
	{ "dpv-number", "{\"dpv\":1,\"d\": \"example.com\",\"policies\":[" POL_OK "]}",
	    0, EV_OK, 1, EV_OK, NULL, 0 },

	/* A bad policy next to a good one: dropped, the datagram kept. */
	{ "type-negative", DROP("{\"policy-type\":-1,\"t\":0,\"f\":0}"), 0, EV_OK, 1, EV_ERR_RANGE, NULL, 0 },
	{ "type-huge", DROP("{\"policy-type\":99999999999,\"t\":0,\"f\":0}"), 0, EV_OK, 1, EV_ERR_RANGE, NULL, 0 },
	{ "type-2^32-plus-2", DROP("{\"policy-type\":4294967298,\"t\":0,\"f\":0}"), 0, EV_OK, 1, EV_ERR_RANGE, NULL, 0 },
	{ "type-25-digits", DROP("{\"policy-type\":1234567890123456789012345,\"t\":0,\"f\":0}"),
	    0, EV_OK, 1, EV_ERR_RANGE, NULL, 0 },
	{ "type-int32-max-plus-1", DROP("{\"policy-type\":2147483648,\"t\":0,\"f\":0}"), 0, EV_OK, 1, EV_ERR_RANGE, NULL, 0 },
	{ "type-int32-max", DROP("{\"policy-type\":2147483647,\"t\":0,\"f\":0}"), 0, EV_OK, 2, EV_OK, NULL, 0 },
	{ "type-exponent", DROP("{\"policy-type\":2e0,\"t\":0,\"f\":0}"), 0, EV_OK, 1, EV_ERR_RANGE, NULL, 0 },
	{ "type-fraction", DROP("{\"policy-type\":2.0,\"t\":0,\"f\":0}"), 0, EV_OK, 1, EV_ERR_RANGE, NULL, 0 },
	{ "type-string", DROP("{\"policy-type\":\"2\",\"t\":0,\"f\":0}"), 0, EV_OK, 1, EV_ERR_TYPE, NULL, 0 },
	{ "type-null", DROP("{\"policy-type\":null,\"t\":0,\"f\":0}"), 0, EV_OK, 1, EV_ERR_TYPE, NULL, 0 },
	{ "type-unknown-7", DROP("{\"policy-type\":7,\"t\":0,\"f\":0}"), 0, EV_OK, 2, EV_OK, NULL, 0 },
	{ "f-fraction", DROP("{\"policy-type\":2,\"t\":0,\"f\":0.5}"), 0, EV_OK, 1, EV_ERR_RANGE, NULL, 0 },
	{ "f-two", DROP("{\"policy-type\":2,\"t\":0,\"f\":2}"), 0, EV_OK, 1, EV_ERR_RANGE, NULL, 0 },
	{ "f-negative", DROP("{\"policy-type\":2,\"t\":0,\"f\":-1}"), 0, EV_OK, 1, EV_ERR_RANGE, NULL, 0 },
	{ "f-exponent", DROP("{\"policy-type\":2,\"t\":0,\"f\":1E0}"), 0, EV_OK, 1, EV_ERR_RANGE, NULL, 0 },
	{ "f-true", DROP("{\"policy-type\":2,\"t\":0,\"f\":true}"), 0, EV_OK, 1, EV_ERR_TYPE, NULL, 0 },
	{ "f-string", DROP("{\"policy-type\":2,\"t\":0,\"f\":\"1\"}"), 0, EV_OK, 1, EV_ERR_TYPE, NULL, 0 },
	{ "f-missing", DROP("{\"policy-type\":2,\"t\":0}"), 0, EV_OK, 1, EV_ERR_MISSING, NULL, 0 },
	{ "policy-duplicate-key", DROP("{\"policy-type\":2,\"policy-type\":2,\"t\":0,\"f\":0}"),
	    0, EV_OK, 1, EV_ERR_DUPLICATE, NULL, 0 },
	{ "policy-domain-space", DROP("{\"policy-type\":2,\"policy-domain\": \"a b\",\"t\":0,\"f\":0}"),
	    0, EV_OK, 1, EV_ERR_DOMAIN, NULL, 0 },
	{ "policy-domain-number", DROP("{\"policy-type\":2,\"policy-domain\":5,\"t\":0,\"f\":0}"),
	    0, EV_OK, 1, EV_ERR_TYPE, NULL, 0 },
	{ "policy-string-not-array", DROP("{\"policy-type\":2,\"policy-string\": \"x\",\"t\":0,\"f\":0}"),
	    0, EV_OK, 1, EV_ERR_TYPE, NULL, 0 },
	{ "policy-string-number-entry", DROP("{\"policy-type\":2,\"policy-string\":[\"a\",1],\"t\":0,\"f\":0}"),
	    0, EV_OK, 1, EV_ERR_TYPE, NULL, 0 },
	{ "mx-host-object", DROP("{\"policy-type\":2,\"mx-host\":{},\"t\":0,\"f\":0}"),
	    0, EV_OK, 1, EV_ERR_TYPE, NULL, 0 },
	{ "failure-details-object", DROP("{\"policy-type\":2,\"failure-details\":{},\"t\":0,\"f\":1}"),
	    0, EV_OK, 1, EV_ERR_TYPE, NULL, 0 },
	{ "policy-not-object", DROP("42"), 0, EV_OK, 1, EV_ERR_TYPE, NULL, 0 },
	{ "policy-nested-array", DROP("[" POL_OK "]"), 0, EV_OK, 1, EV_ERR_TYPE, NULL, 0 },
	{ "f-minus-zero", DROP("{\"policy-type\":2,\"t\":0,\"f\":-0}"), 0, EV_OK, 2, EV_OK, NULL, 0 },

	/* Unknown members of every JSON type are checked and skipped. */
	{ "unknown-top-all-types", DG(",\"o\":{\"a\":{\"b\":[1,{\"c\":null}]}},"
	    "\"a\":[true,false,null,1,-2.5e+3,\"s\",[],{}],\"t\":true,\"f\":false,"
	    "\"n\":null,\"num\":-1.5E-7,\"z\":0,\"s\": \"x\\\"y\",\"e\":{},\"ea\":[]", POL_OK),
	    0, EV_OK, 1, EV_OK, NULL, 0 },
	{ "unknown-in-policy", DGP("{\"x\":{\"y\":[1,2]},\"policy-type\":2,\"z\":null,"
	    "\"t\":0,\"f\":0,\"w\":[\"a\",{\"b\":false}],\"q\":true}"), 0, EV_OK, 1, EV_OK, NULL, 0 },
	{ "unknown-in-failure", DGP("{\"policy-type\":2,\"failure-details\":[{\"c\":201,"
	    "\"zz\":{\"a\":[]},\"x\":true,\"cc\":\"s\",\"y\":null,\"w\":[1]}],\"t\":1,\"f\":1}"),
	    0, EV_OK, 1, EV_OK, NULL, 0 },
	{ "unknown-key-not-utf8", DG(",\"k\xFF\":\"\xFF\"", POL_OK), 0, EV_OK, 1, EV_OK, "", 0 },

	/* Whitespace may surround every token. */
	{ "whitespace-everywhere", " \r\n\t{ \"dpv\" : \"1\" , \"d\" :\n\"example.com\" ,"
	    "\t\"pr\"  :  \"x\"  , \"policies\" : [ { \"policy-type\" : 2 , "
	    "\"failure-details\" : [ { \"c\" : 201 } ] , \"t\" : 1 , \"f\" : 1 } ] } \n",
	    0, EV_OK, 1, EV_OK, "x", 0 },
	{ "empty-containers-with-space", DG(",\"x\":[ ],\"y\":{ }", POL_OK), 0, EV_OK, 1, EV_OK, NULL, 0 },

	/* Escapes, decoded into pr. */
	{ "esc-u0041", DGPR("\\u0041"), 0, EV_OK, 1, EV_OK, "A", 0 },
	{ "esc-short-forms", DGPR("\\\"\\\\\\/\\b\\f\\n\\r\\t"), 0, EV_OK, 1, EV_OK,
	    "\"\\/\b\f\n\r\t", 0 },
	{ "esc-u00e9", DGPR("caf\\u00e9"), 0, EV_OK, 1, EV_OK, "caf\xC3\xA9", 0 },
	{ "esc-upper-hex", DGPR("\\u00E9\\u20AC"), 0, EV_OK, 1, EV_OK, "\xC3\xA9\xE2\x82\xAC", 0 },
	{ "esc-surrogate-pair", DGPR("\\ud83d\\ude00"), 0, EV_OK, 1, EV_OK, "\xF0\x9F\x98\x80", 0 },
	{ "esc-lone-high", DGPR("\\ud83dx"), 0, EV_OK, 1, EV_OK, FFFD "x", 1 },
	{ "esc-lone-low", DGPR("\\ude00"), 0, EV_OK, 1, EV_OK, FFFD, 1 },
	{ "esc-high-high", DGPR("\\ud83d\\ud83d"), 0, EV_OK, 1, EV_OK, FFFD FFFD, 1 },
	{ "esc-high-then-bmp", DGPR("\\ud83d\\u0041"), 0, EV_OK, 1, EV_OK, FFFD "A", 1 },
	{ "esc-nul", DGPR("a\\u0000b"), 0, EV_OK, 1, EV_OK, "a" FFFD "b", 1 },
	{ "esc-control", DGPR("\\u001f\\u007f"), 0, EV_OK, 1, EV_OK, "\x1f\x7f", 0 },

	/* Raw bytes: valid UTF-8 kept, the rest read as ISO-8859-1. */
	{ "utf8-valid", DGPR("\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80"), 0, EV_OK, 1, EV_OK,
	    "\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80", 0 },
	{ "raw-del", DGPR("a\x7f" "b"), 0, EV_OK, 1, EV_OK, "a\x7f" "b", 0 },
	{ "latin1-e9", DGPR("caf\xE9"), 0, EV_OK, 1, EV_OK, "caf\xC3\xA9", 1 },
	{ "overlong-c0-80", DGPR("\xC0\x80"), 0, EV_OK, 1, EV_OK, "\xC3\x80" FFFD, 1 },
	{ "overlong-e0-80-80", DGPR("\xE0\x80\x80"), 0, EV_OK, 1, EV_OK, "\xC3\xA0" FFFD FFFD, 1 },
	{ "surrogate-ed-a0-80", DGPR("\xED\xA0\x80"), 0, EV_OK, 1, EV_OK,
	    "\xC3\xAD\xC2\xA0" FFFD, 1 },
	{ "lead-f5", DGPR("\xF5\x80\x80\x80"), 0, EV_OK, 1, EV_OK, "\xC3\xB5" FFFD FFFD FFFD, 1 },
	{ "above-u10ffff", DGPR("\xF4\x90\x80\x80"), 0, EV_OK, 1, EV_OK,
	    "\xC3\xB4" FFFD FFFD FFFD, 1 },
	{ "truncated-2-at-end", DGPR("caf\xC3"), 0, EV_OK, 1, EV_OK, "caf\xC3\x83", 1 },
	{ "truncated-3-at-end", DGPR("\xE2\x82"), 0, EV_OK, 1, EV_OK, "\xC3\xA2" FFFD, 1 },
	{ "truncated-4-at-end", DGPR("\xF0\x9F\x98"), 0, EV_OK, 1, EV_OK,
	    "\xC3\xB0" FFFD FFFD, 1 },
	{ "c1-controls", DGPR("\x80\x9F"), 0, EV_OK, 1, EV_OK, FFFD FFFD, 1 },
	{ "latin1-a0-ff", DGPR("\xA0\xFF"), 0, EV_OK, 1, EV_OK, "\xC2\xA0\xC3\xBF", 1 },
	{ "lone-continuation", DGPR("\xBF" "a"), 0, EV_OK, 1, EV_OK, "\xC2\xBF" "a", 1 },
	{ "repaired-counts-strings", DG(",\"pr\": \"\xE9\"", "{\"policy-type\":2,"
	    "\"policy-string\":[\"\xE9\",\"ok\",\"\xE9\xE9\"],\"t\":0,\"f\":0}"), 0,
	    EV_OK, 1, EV_OK, "\xC3\xA9", 3 },
};

/* ev_json_escape(): input bytes and libtlsrpt's escaped form. */
static const struct {
	const char *in;
	size_t len;
	const char *out;
} escape_cases[] = {
	{ LIT(""), "" },
	{ LIT("plain text / 0-9"), "plain text / 0-9" },
	{ LIT("\""), "\\\"" },
	{ LIT("\\"), "\\\\" },
	{ LIT("\b\f\n\r\t"), "\\b\\f\\n\\r\\t" },
	{ LIT("\x01\x0b\x1f"), "\\u0001\\u000b\\u001f" },
	{ LIT("\x7f"), "\\u007f" },
	{ LIT("a\0b"), "a\\u0000b" },
	{ LIT("caf\xC3\xA9 \xE9\x80\xFF"), "caf\xC3\xA9 \xE9\x80\xFF" },	/* copied */
	{ LIT("\r\n250 \"x\""), "\\r\\n250 \\\"x\\\"" },
};

#endif
