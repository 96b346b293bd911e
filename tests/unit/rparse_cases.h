/*
 * NAME
 *	rparse_cases - tables for check_rparse.c
 * DESCRIPTION
 *	fixtures: what each file in tests/data/real-reports/ must parse to,
 *	filled in by reading the files (the .eml ones through their
 *	gzip attachment): organization-name, report-id, the start of the
 *	report day, end minus start (86399, or 86400 for the reporters
 *	that end at the next midnight), the number of policies, the
 *	summary counts summed over policies (Microsoft's sts + tlsa double
 *	count included) and the exact repairs string.
 *
 *	doc_cases: synthetic documents, each with the rp_parse() result;
 *	accepted ones with their exact repairs, rejected ones with a part
 *	of the reason. Built from a minimal valid report (REPORT(STS)) by
 *	changing one thing. Raw bytes are split into their own literals
 *	where a hex escape could swallow the next character.
 */
#ifndef CHECK_RPARSE_CASES_H
#define CHECK_RPARSE_CASES_H

#include <stddef.h>
#include <stdint.h>

#include "rparse.h"

#define DAY		86400

struct fixture {
	const char *file;
	const char *org;
	const char *report_id;
	int64_t start;		/* 00:00:00Z of the report day */
	int64_t length;		/* end - start: DAY - 1, or DAY (exclusive) */
	size_t policies;
	int64_t ok, failed;	/* summed over policies */
	const char *repairs;
};

#define JSON_IN_STRING	"policy-string JSON array in a string decoded"

static const struct fixture fixtures[] = {
	{ "google-cryinc-1.json", "Google Inc.", "2025-05-22T00:00:00Z_foo-bar.io",
	    1747872000, DAY - 1, 1, 1, 0, "" },
	{ "google-cryinc-2.json", "Google Inc.", "2025-03-27T00:00:00Z_foo-bar.io",
	    1743033600, DAY - 1, 1, 1, 0, "" },
	{ "google-imparser-1.json.gz", "Google Inc.",
	    "2022-01-09T00:00:00Z_digilicious.com", 1641686400, DAY - 1, 1, 5, 0,
	    "trailing whitespace trimmed from policy-string" },
	{ "google-isseis-1.eml", "Google Inc.", "2026-05-11T00:00:00Z_example.com",
	    1778457600, DAY - 1, 1, 1, 0, "" },
	{ "google-kravietz-2.eml", "Google Inc.", "2024-09-18T00:00:00Z_krvtz.net",
	    1726617600, DAY - 1, 1, 2, 0, "" },
	{ "google-mox-1.eml", "Google Inc.", "2022-09-15T00:00:00Z_test.xmox.nl",
	    1663200000, DAY - 1, 1, 3, 0, "" },
	{ "google-parsedmarc-1.eml", "Google Inc.",
	    "2024-09-03T00:00:00Z_cardinalhealth.ca", 1725321600, DAY - 1, 1, 48, 0,
	    "" },
	{ "google-parsedmarc-2.json", "Example Inc.",
	    "2024-01-09T00:00:00Z_example.com", 1704758400, DAY - 1, 1, 0, 3, "" },
	{ "google-phiag-1.json", "Google Inc.", "2024-02-17T00:00:00Z_example.com",
	    1708128000, DAY - 1, 1, 53, 0, "" },
	{ "mailru-kravietz-1.eml", "Mail.ru",
	    "c96d67df-0440-57f7-6e96-c83824d0fdf2@mail.ru", 1674604800, DAY, 1, 0,
	    1, "" },
	{ "microsoft-cryinc-1.json", "Microsoft Corporation",
	    "133925885310113267+random.net", 1747958400, DAY - 1, 2, 4, 0,
	    JSON_IN_STRING },
	{ "microsoft-cryinc-2.json", "Microsoft Corporation", "1234567890+",
	    1749859200, DAY - 1, 1, 0, 3, "" },
	{ "microsoft-kravietz-1.eml", "Microsoft Corporation",
	    "133708152202987951+krvtz.net", 1726185600, DAY - 1, 2, 4, 0,
	    JSON_IN_STRING },
	{ "microsoft-mox-1.eml", "Microsoft Corporation",
	    "133198585438131172+test.xmox.nl", 1673308800, DAY - 1, 1, 2, 0,
	    "date without time zone" },
	{ "microsoft-phiag-1.json", "Microsoft Corporation",
	    "133526718584528772+example.com", 1708041600, DAY - 1, 1, 18, 0, "" },
	{ "rfc8460-example.json", "Company-X",
	    "5065427c-23d3-47ca-b6e0-946ea0e8c4be", 1459468800, DAY - 1, 1, 5326,
	    303, "mx-host given as a string" },
	{ "stalwart-cryinc-1.json", "server.com", "123_456", 1768089600, DAY, 1,
	    1, 0, "no contact-info" },
};

#define NFIXTURES (sizeof(fixtures) / sizeof(fixtures[0]))

#define DR(start, end) "\"date-range\":{\"start-datetime\":\"" start \
	"\",\"end-datetime\":\"" end "\"}"
#define DR_OK	DR("2024-01-01T00:00:00Z", "2024-01-01T23:59:59Z")
#define HEAD	"{\"organization-name\":\"o\"," DR_OK \
	",\"contact-info\":\"c@x\",\"report-id\":\"r\","
#define REPORT(policies)	HEAD "\"policies\":[" policies "]}"
#define SUM(ok, failed)	"\"summary\":{\"total-successful-session-count\":" ok \
	",\"total-failure-session-count\":" failed "}"
#define POLICY(members)	"{\"policy\":{\"policy-type\":\"sts\"," \
	"\"policy-domain\":\"d\"" members "}," SUM("1", "0") "}"
#define STS	POLICY("")
#define WITH_COUNTS(ok, failed) "{\"policy\":{\"policy-type\":\"sts\"," \
	"\"policy-domain\":\"d\"}," SUM(ok, failed) "}"
#define WITH_ROWS(rows)	"{\"policy\":{\"policy-type\":\"sts\"," \
	"\"policy-domain\":\"d\"}," SUM("0", "1") ",\"failure-details\":" rows "}"
#define ROW(members)	"[{\"result-type\":\"x\",\"failed-session-count\":1" \
	members "}]"

struct doc_case {
	const char *name;
	const char *json;
	size_t len;
	int code;
	const char *expect;	/* accepted: repairs; else: part of err */
};

#define OK(name, json, repairs)	{ name, json, sizeof(json) - 1, RP_OK, repairs }
#define BAD(name, json, code, why) { name, json, sizeof(json) - 1, code, why }

static const struct doc_case doc_cases[] = {
	OK("minimal", REPORT(STS), ""),
	BAD("empty input", "", RP_NOT_JSON, "not JSON"),
	BAD("words", "not json at all", RP_NOT_JSON, "not JSON"),
	BAD("top-level string", "\"report\"", RP_NOT_JSON, "not JSON"),
	BAD("top-level empty array", "[]", RP_INVALID, "top level is not an object"),
	BAD("top-level array of a report", "[" REPORT(STS) "]", RP_INVALID,
	    "top level is not an object"),
	BAD("empty object", "{}", RP_MISSING, "no organization-name"),
	BAD("null organization-name", "{\"organization-name\":null}", RP_MISSING,
	    "no organization-name"),
	BAD("empty organization-name", "{\"organization-name\":\"\"}", RP_MISSING,
	    "no organization-name"),
	BAD("no report-id", "{\"organization-name\":\"o\"," DR_OK
	    ",\"policies\":[" STS "]}", RP_MISSING, "no report-id"),
	BAD("empty report-id", "{\"organization-name\":\"o\",\"report-id\":\"\"}",
	    RP_MISSING, "no report-id"),
	BAD("numeric report-id", "{\"organization-name\":\"o\",\"report-id\":7}",
	    RP_INVALID, "report-id: not a string"),
	BAD("no date-range", "{\"organization-name\":\"o\",\"report-id\":\"r\"}",
	    RP_MISSING, "no date-range"),
	BAD("date-range a string", "{\"organization-name\":\"o\",\"report-id\":"
	    "\"r\",\"date-range\":\"2024-01-01\"}", RP_INVALID,
	    "date-range: not an object"),
	BAD("no end-datetime", "{\"organization-name\":\"o\",\"report-id\":\"r\","
	    "\"date-range\":{\"start-datetime\":\"2024-01-01T00:00:00Z\"}}",
	    RP_MISSING, "date-range: no end-datetime"),
	BAD("month 13", "{\"organization-name\":\"o\",\"report-id\":\"r\","
	    DR("2024-13-01T00:00:00Z", "2024-01-01T23:59:59Z") "}", RP_INVALID,
	    "date-range.start-datetime: not a date-time: \"2024-13-01T00:00:00Z\""),
	BAD("end before start", "{\"organization-name\":\"o\",\"report-id\":\"r\","
	    DR("2024-01-02T00:00:00Z", "2024-01-01T23:59:59Z") "}", RP_INVALID,
	    "end-datetime before start-datetime"),
	OK("zone-less dates", "{\"organization-name\":\"o\",\"report-id\":\"r\","
	    "\"contact-info\":\"c\","
	    DR("2024-01-01T00:00:00", "2024-01-01T23:59:59") ",\"policies\":["
	    STS "]}", "date without time zone"),
	OK("exclusive end, offsets and fractions", "{\"organization-name\":\"o\","
	    "\"report-id\":\"r\",\"contact-info\":\"c\","
	    DR("2024-01-01T01:00:00.5+01:00", "2024-01-02T00:00:00.000Z")
	    ",\"policies\":[" STS "]}", ""),
	BAD("no policies", HEAD "\"x\":1}", RP_MISSING, "no policies"),
	BAD("empty policies", REPORT(""), RP_MISSING, "no policies"),
	BAD("policies an object", HEAD "\"policies\":{}}", RP_INVALID,
	    "policies: not an array"),
	BAD("policy entry a number", REPORT(STS ",1"), RP_INVALID,
	    "policies[1]: not an object"),
	BAD("no policy member", REPORT("{" SUM("1", "0") "}"), RP_MISSING,
	    "policies[0]: no policy"),
	BAD("no policy-type", REPORT("{\"policy\":{\"policy-domain\":\"d\"}}"),
	    RP_MISSING, "policies[0].policy: no policy-type"),
	OK("unknown policy-type", REPORT("{\"policy\":{\"policy-type\":\"dane-x\","
	    "\"policy-domain\":\"d\"}," SUM("1", "0") "}"), ""),
	OK("no policy-domain", REPORT("{\"policy\":{\"policy-type\":"
	    "\"no-policy-found\"}," SUM("1", "0") "}"), "no policy-domain"),
	OK("no summary", REPORT("{\"policy\":{\"policy-type\":\"sts\","
	    "\"policy-domain\":\"d\"}}"), "missing summary count set to 0"),
	BAD("summary an array", REPORT("{\"policy\":{\"policy-type\":\"sts\"},"
	    "\"summary\":[]}"), RP_INVALID, "policies[0].summary: not an object"),
	OK("counts as strings", REPORT(WITH_COUNTS("\"12\"", "\"0\"")),
	    "count given as a string"),
	BAD("count string with junk", REPORT(WITH_COUNTS("\"12a\"", "0")),
	    RP_INVALID, "total-successful-session-count: not a count"),
	BAD("count string with space", REPORT(WITH_COUNTS("\" 12\"", "0")),
	    RP_INVALID, "not a count"),
	BAD("count string empty", REPORT(WITH_COUNTS("\"\"", "0")), RP_INVALID,
	    "not a count"),
	BAD("count string negative", REPORT(WITH_COUNTS("\"-3\"", "0")),
	    RP_INVALID, "negative count"),
	BAD("count string too big", REPORT(WITH_COUNTS("\"9007199254740992\"", "0")),
	    RP_INVALID, "count out of range"),
	BAD("negative count", REPORT(WITH_COUNTS("1", "-1")), RP_INVALID,
	    "policies[0].summary.total-failure-session-count: negative count"),
	BAD("fractional count", REPORT(WITH_COUNTS("1.5", "0")), RP_INVALID,
	    "count is not an integer"),
	OK("count as 7.0", REPORT(WITH_COUNTS("7.0", "0")),
	    "count given as a decimal number"),
	BAD("count 1e300", REPORT(WITH_COUNTS("1e300", "0")), RP_INVALID,
	    "count out of range"),
	BAD("count -0.5", REPORT(WITH_COUNTS("-0.5", "0")), RP_INVALID,
	    "negative count"),
	BAD("real overflow", REPORT(WITH_COUNTS("1e400", "0")), RP_NOT_JSON,
	    "not JSON"),
	BAD("integer overflow", REPORT(WITH_COUNTS("99999999999999999999", "0")),
	    RP_NOT_JSON, "not JSON"),
	BAD("count 2^53", REPORT(WITH_COUNTS("9007199254740992", "0")),
	    RP_INVALID, "count out of range"),
	OK("count 2^53-1", REPORT(WITH_COUNTS("9007199254740991", "0")), ""),
	BAD("sum past 2^53-1", REPORT(WITH_COUNTS("9007199254740991", "0") ","
	    WITH_COUNTS("1", "0")), RP_INVALID, "session totals out of range"),
	BAD("count true", REPORT(WITH_COUNTS("true", "0")), RP_INVALID,
	    "not a number"),
	BAD("count array", REPORT(WITH_COUNTS("[1]", "0")), RP_INVALID,
	    "not a number"),
	OK("count null", REPORT(WITH_COUNTS("null", "0")),
	    "missing summary count set to 0"),
	OK("mx-host a string", REPORT(POLICY(",\"mx-host\":\"mx.d\"")),
	    "mx-host given as a string"),
	OK("mx-host empty", REPORT(POLICY(",\"mx-host\":[]")), ""),
	OK("mx-host null", REPORT(POLICY(",\"mx-host\":null")),
	    "null member treated as absent"),
	BAD("mx-host number element", REPORT(POLICY(",\"mx-host\":[\"a\",1]")),
	    RP_INVALID, "policies[0].policy: mx-host[1]: not a string"),
	BAD("mx-host an object", REPORT(POLICY(",\"mx-host\":{}")), RP_INVALID,
	    "mx-host: not an array"),
	OK("mx-host with CR", REPORT(POLICY(",\"mx-host\":[\"mx.d\\r\"]")),
	    "trailing whitespace trimmed from mx-host"),
	OK("policy-string JSON in a string", REPORT(POLICY(",\"policy-string\":"
	    "[\"[\\\"3 1 1 AA\\\",\\\"3 1 1 BB\\\"]\"]")), JSON_IN_STRING),
	OK("policy-string '[' but not JSON", REPORT(POLICY(",\"policy-string\":"
	    "[\"[not json\"]")), ""),
	OK("policy-string JSON numbers", REPORT(POLICY(",\"policy-string\":"
	    "[\"[1,2]\"]")), ""),
	OK("policy-string JSON empty array", REPORT(POLICY(",\"policy-string\":"
	    "[\"[]\"]")), ""),
	OK("policy-string CR and blanks", REPORT(POLICY(",\"policy-string\":"
	    "[\"version: STSv1\\r\",\"mode: enforce \\t\\r\\n\"]")),
	    "trailing whitespace trimmed from policy-string"),
	OK("policy-string a string", REPORT(POLICY(",\"policy-string\":"
	    "\"version: STSv1\"")), "policy-string given as a string"),
	OK("policy-string null", REPORT(POLICY(",\"policy-string\":null")),
	    "null member treated as absent"),
	BAD("policy-string number", REPORT(POLICY(",\"policy-string\":3")),
	    RP_INVALID, "policy-string: not an array"),
	OK("failure with type and count only", REPORT(WITH_ROWS(ROW(""))), ""),
	OK("failure-details empty", REPORT(WITH_ROWS("[]")), ""),
	OK("failure-details null", REPORT(WITH_ROWS("null")),
	    "null member treated as absent"),
	OK("failure field null", REPORT(WITH_ROWS(ROW(",\"sending-mta-ip\":null"))),
	    "null member treated as absent"),
	BAD("failure-details an object", REPORT(WITH_ROWS("{}")), RP_INVALID,
	    "policies[0].failure-details: not an array"),
	BAD("failure row a number", REPORT(WITH_ROWS("[1]")), RP_INVALID,
	    "policies[0].failure-details[0]: not an object"),
	BAD("failure without result-type", REPORT(WITH_ROWS(
	    "[{\"failed-session-count\":1}]")), RP_MISSING,
	    "policies[0].failure-details[0]: no result-type"),
	BAD("failure without count", REPORT(WITH_ROWS(
	    "[{\"result-type\":\"x\"}]")), RP_MISSING,
	    "policies[0].failure-details[0]: no failed-session-count"),
	BAD("failure count negative", REPORT(WITH_ROWS(
	    "[{\"result-type\":\"x\",\"failed-session-count\":-2}]")), RP_INVALID,
	    "failed-session-count: negative count"),
	BAD("failure ip a number", REPORT(WITH_ROWS(ROW(",\"sending-mta-ip\":5"))),
	    RP_INVALID, "sending-mta-ip: not a string"),
	OK("contact-info missing", "{\"organization-name\":\"o\",\"report-id\":\"r\","
	    DR_OK ",\"policies\":[" STS "]}", "no contact-info"),
	OK("contact-info null", "{\"organization-name\":\"o\",\"report-id\":\"r\","
	    "\"contact-info\":null," DR_OK ",\"policies\":[" STS "]}",
	    "no contact-info"),
	BAD("contact-info a number", "{\"organization-name\":\"o\",\"report-id\":"
	    "\"r\",\"contact-info\":1}", RP_INVALID, "contact-info: not a string"),
	OK("extra members everywhere", "{\"x\":{\"y\":[1,{\"z\":null}]},"
	    "\"organization-name\":\"o\",\"report-id\":\"r\",\"contact-info\":\"c\","
	    DR_OK ",\"policies\":[{\"policy\":{\"policy-type\":\"sts\",\"q\":[],"
	    "\"policy-domain\":\"d\"},\"summary\":{\"total-successful-session-count\""
	    ":1,\"total-failure-session-count\":1,\"more\":\"\"},\"e\":true,"
	    "\"failure-details\":[{\"result-type\":\"x\",\"failed-session-count\":1,"
	    "\"new-field\":{}}]}],\"version\":2}", ""),
	OK("BOM", "\xef\xbb\xbf" REPORT(STS), "byte order mark removed"),
	BAD("two BOMs", "\xef\xbb\xbf\xef\xbb\xbf" REPORT(STS), RP_NOT_JSON,
	    "not JSON"),
	OK("Latin-1 organization-name", "{\"organization-name\":\"Soci\xe9t\xe9\","
	    "\"report-id\":\"r\",\"contact-info\":\"c\"," DR_OK ",\"policies\":["
	    STS "]}", "invalid UTF-8 read as Latin-1"),
	BAD("invalid UTF-8 outside strings", "\xff" REPORT(STS), RP_NOT_JSON,
	    "not JSON"),
	BAD("NUL byte between members", HEAD "\0\"policies\":[" STS "]}",
	    RP_NOT_JSON, "not JSON: NUL byte at offset"),
	BAD("NUL byte in a string", "{\"organization-name\":\"o\0x\"}", RP_NOT_JSON,
	    "NUL byte at offset 23"),
	BAD("NUL byte after the report", REPORT(STS) "\0", RP_NOT_JSON,
	    "NUL byte"),
	BAD("escaped NUL", "{\"organization-name\":\"o\\u0000x\"}", RP_NOT_JSON,
	    "not JSON"),
	BAD("duplicate member", "{\"organization-name\":\"o\",\"organization-name\":"
	    "\"p\"}", RP_NOT_JSON, "duplicate"),
	BAD("trailing garbage", REPORT(STS) " x", RP_NOT_JSON, "not JSON"),
	BAD("second document", REPORT(STS) REPORT(STS), RP_NOT_JSON, "not JSON"),
	OK("trailing CRLF", REPORT(STS) "\r\n", ""),
	BAD("truncated", HEAD "\"policies\":[", RP_NOT_JSON, "not JSON"),
	OK("every repair, in order", "\xef\xbb\xbf{\"organization-name\":\"\xe9\","
	    "\"report-id\":\"r\",\"contact-info\":null,"
	    DR("2024-01-01T00:00:00", "2024-01-01T23:59:59") ",\"policies\":["
	    "{\"policy\":{\"policy-type\":\"tlsa\",\"policy-string\":\"[\\\"1\\\\r\\\"]\","
	    "\"mx-host\":\"m \"},\"summary\":{\"total-successful-session-count\":"
	    "\"1\",\"total-failure-session-count\":2.0},\"failure-details\":null},"
	    "{\"policy\":{\"policy-type\":\"sts\",\"policy-string\":[\"a \"]}}]}",
	    "byte order mark removed; invalid UTF-8 read as Latin-1; date without "
	    "time zone; no contact-info; null member treated as absent; count given "
	    "as a string; count given as a decimal number; missing summary count "
	    "set to 0; no policy-domain; mx-host given as a string; policy-string "
	    "given as a string; " JSON_IN_STRING "; trailing whitespace trimmed "
	    "from policy-string; trailing whitespace trimmed from mx-host"),
};

#define NDOC (sizeof(doc_cases) / sizeof(doc_cases[0]))

#endif
