#!/usr/bin/python3
"""Checks for tests/integration/dashboard.sh: the JSON API, /metrics,
tlsrptctl output and the DOM Chromium rendered, against figures computed
here from the report files themselves (not from the database).

usage:
  dashboard-check.py expect REPORT...          > expected.json
  dashboard-check.py api BASE EXPECTED SRCDIR
  dashboard-check.py metrics FILE EXPECTED
  dashboard-check.py ctl DIR EXPECTED BASE     (DIR holds tlsrptctl outputs)
  dashboard-check.py dom PAGE FILE EXPECTED [REPORTFILE]
  dashboard-check.py png FILE

Prints "ok - ..." per check; exits 1 with "FAIL - ..." on the first
failure. Only 127.0.0.1 is contacted, without any proxy.
"""
import csv
import gzip
import html.parser
import io
import json
import re
import struct
import sys
import urllib.error
import urllib.request

OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))

# The outbound database as tests/integration/dashboard.sh seeds it.
OUT_STATES = {"pending": 3, "delivered": 1, "failed": 1, "no-destination": 1}
DELIVERY_STATES = {"pending": 1, "in-flight": 1, "delivered": 1, "failed": 2}


class Fail(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Fail(what)


def eq(what, want, got):
    if want != got:
        raise Fail("%s: expected %r, got %r" % (what, want, got))


def ok(what):
    print("ok - " + what)


def rate(ok_, failed):
    return ok_ / (ok_ + failed) if ok_ + failed else None


def pct(r):
    """The dashboard's rate text: JavaScript's (r * 100).toFixed(1)."""
    return "-" if r is None else "%.1f%%" % (r * 100)


def load_report(path):
    data = open(path, "rb").read()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    return json.loads(data)


def expect(paths):
    """Totals per domain, (domain, day, org), failure type and MX."""
    doms, summary, fails, reports = {}, {}, {}, []
    for p in paths:
        r = load_report(p)
        org, day = r["organization-name"], r["date-range"]["start-datetime"][:10]
        rok = rfail = 0
        rdoms = set()
        for pol in r["policies"]:
            d = pol["policy"].get("policy-domain")
            d = d.lower().rstrip(".") if d else None
            s = pol["summary"]
            okc, fc = s["total-successful-session-count"], s["total-failure-session-count"]
            rok, rfail = rok + okc, rfail + fc
            rdoms.add(d)
            e = doms.setdefault(d, {"ok": 0, "failed": 0, "reports": set(),
                                    "orgs": set(), "days": set()})
            e["ok"] += okc
            e["failed"] += fc
            e["reports"].add((org, r["report-id"]))
            e["orgs"].add(org)
            e["days"].add(day)
            k = summary.setdefault("%s|%s|%s" % (d, day, org), [0, 0, set()])
            k[0] += okc
            k[1] += fc
            k[2].add(r["report-id"])
            for f in pol.get("failure-details") or []:
                mx = f.get("receiving-mx-hostname")
                mx = mx.rstrip(".").lower() if mx else None
                e2 = fails.setdefault("%s|%s" % (f["result-type"], mx), [0, set()])
                e2[0] += f["failed-session-count"]
                e2[1].add((org, r["report-id"]))
        reports.append({"organization": org, "report_id": r["report-id"], "day": day,
                        "start": r["date-range"]["start-datetime"][:19] + "Z",
                        "policy_domains": sorted(x for x in rdoms if x),
                        "policy_count": len(r["policies"]), "successful_sessions": rok,
                        "failed_sessions": rfail, "file": p})
    return {
        "domains": [{"policy_domain": d, "reports": len(e["reports"]),
                     "organizations": len(e["orgs"]), "first_day": min(e["days"]),
                     "last_day": max(e["days"]), "successful_sessions": e["ok"],
                     "failed_sessions": e["failed"], "success_rate": rate(e["ok"], e["failed"])}
                    for d, e in sorted(doms.items(), key=lambda i: i[0] or "")],
        "summary": sorted(({"policy_domain": k.split("|")[0], "day": k.split("|")[1],
                            "organization": k.split("|", 2)[2], "reports": len(v[2]),
                            "successful_sessions": v[0], "failed_sessions": v[1],
                            "success_rate": rate(v[0], v[1])} for k, v in summary.items()),
                          key=lambda x: (x["day"], x["policy_domain"] or "", x["organization"])),
        "failures": [{"result_type": k.split("|")[0],
                      "receiving_mx": None if k.split("|")[1] == "None" else k.split("|")[1],
                      "sessions": v[0], "reports": len(v[1])} for k, v in fails.items()],
        "reports": sorted(reports, key=lambda x: x["start"], reverse=True),
    }


def get(base, path, want_status=200):
    try:
        resp = OPENER.open(base + path, timeout=20)
        status, body, headers = resp.status, resp.read(), resp.headers
    except urllib.error.HTTPError as e:
        status, body, headers = e.code, e.read(), e.headers
    eq("GET %s status" % path, want_status, status)
    return body, headers


def get_json(base, path, want_status=200):
    body, headers = get(base, path, want_status)
    check(headers["Content-Type"] == "application/json; charset=utf-8",
          "%s Content-Type %s" % (path, headers["Content-Type"]))
    return json.loads(body)


def sorted_summary(rows):
    return sorted(rows, key=lambda x: (x["day"], x["policy_domain"] or "", x["organization"]))


def api_summary_order(rows):
    """Day descending, then domain and organization ascending."""
    rows = sorted(rows, key=lambda x: (x["policy_domain"] or "", x["organization"]))
    return sorted(rows, key=lambda x: x["day"], reverse=True)


def failures_order(rows):
    totals = {}
    for r in rows:
        totals[r["result_type"]] = totals.get(r["result_type"], 0) + r["sessions"]
    for r in rows:
        r["result_type_sessions"] = totals[r["result_type"]]
    return sorted(rows, key=lambda r: (-r["result_type_sessions"], r["result_type"],
                                       -r["sessions"], r["receiving_mx"] or ""))


def check_lists(base, exp):
    got = get_json(base, "/api/domains")
    eq("/api/domains rows", exp["domains"], got["rows"])
    eq("/api/domains truncated", False, got["truncated"])
    ok("/api/domains: %d domains with exact session sums and rates" % len(got["rows"]))
    got = get_json(base, "/api/summary")
    eq("/api/summary order", api_summary_order(got["rows"]), got["rows"])
    eq("/api/summary rows", exp["summary"], sorted_summary(got["rows"]))
    ok("/api/summary: %d (domain, day, organization) rows, newest first" % len(got["rows"]))
    got = get_json(base, "/api/failures")
    eq("/api/failures rows", failures_order(exp["failures"]), got["rows"])
    ok("/api/failures: result types with receiving MX, largest first")
    got = get_json(base, "/api/reports")
    keys = ["organization", "report_id", "day", "start", "policy_domains", "policy_count",
            "successful_sessions", "failed_sessions"]
    eq("/api/reports rows", [{k: r[k] for k in keys} for r in exp["reports"]],
       [{k: r[k] for k in keys} for r in got["rows"]])
    for r in got["rows"]:
        eq("report %s rate" % r["id"], rate(r["successful_sessions"], r["failed_sessions"]),
           r["success_rate"])
    ok("/api/reports: %d reports, newest first, with totals" % len(got["rows"]))


def check_filters(base, exp):
    got = get_json(base, "/api/summary?domain=example.com&limit=2")
    eq("summary domain+limit", 2, len(got["rows"]))
    eq("summary truncated", True, got["truncated"])
    check(all(r["policy_domain"] == "example.com" for r in got["rows"]), "domain filter")
    got = get_json(base, "/api/reports?org=Google%20Inc.")
    eq("org filter", sorted(r["report_id"] for r in exp["reports"]
                            if r["organization"] == "Google Inc."),
       sorted(r["report_id"] for r in got["rows"]))
    got = get_json(base, "/api/reports?since=2025-01-01&until=2025-12-31")
    eq("day filter", sorted(r["report_id"] for r in exp["reports"]
                            if "2025-01-01" <= r["day"] <= "2025-12-31"),
       sorted(r["report_id"] for r in got["rows"]))
    got = get_json(base, "/api/failures?domain=example.com")
    eq("failures of one domain", [("validation-failure", "example.com", 3)],
       [(r["result_type"], r["receiving_mx"], r["sessions"]) for r in got["rows"]])
    got = get_json(base, "/api/domains?org=Company-X")
    eq("domains of one org", ["company-y.example"], [r["policy_domain"] for r in got["rows"]])
    ok("filters: domain, org, since/until, limit with truncated")
    for path, status in [("/api/reports?since=2025-13-01", 400), ("/api/reports?limit=0", 400),
                         ("/api/reports?limit=abc", 400), ("/api/reports?since=2025-02-01&until=2025-01-01", 400),
                         ("/api/reports?limit=100001", 400), ("/api/reports/99999", 404),
                         ("/api/reports/abc", 404), ("/api/reports/1/other", 404), ("/api/nope", 404)]:
        body = get_json(base, path, status)
        check(isinstance(body.get("error"), str) and body["error"], "%s: no error text" % path)
    ok("bad filters 400, unknown reports and endpoints 404, each with an error text")


def check_report(base, exp, srcdir):
    rows = get_json(base, "/api/reports")["rows"]
    rfc = [r for r in rows if r["report_id"] == "5065427c-23d3-47ca-b6e0-946ea0e8c4be"][0]
    one = get_json(base, "/api/reports/%d" % rfc["id"])
    eq("report org", "Company-X", one["organization"])
    eq("report repairs", "mx-host given as a string", one["repairs"])
    eq("report policies", 1, len(one["policies"]))
    p = one["policies"][0]
    eq("policy", ("sts", "company-y.example", ["*.mail.company-y.example"], 5326, 303),
       (p["policy_type"], p["policy_domain"], p["mx_hosts"], p["successful_sessions"],
        p["failed_sessions"]))
    eq("failure details", [("certificate-expired", "mx1.mail.company-y.example", 100),
                           ("starttls-not-supported", "mx2.mail.company-y.example", 200),
                           ("validation-failure", "mx-backup.mail.company-y.example", 3)],
       [(f["result_type"], f["receiving_mx_hostname"], f["failed_session_count"])
        for f in p["failure_details"]])
    eq("raw_json", load_report(srcdir + "/rfc8460-example.json"), json.loads(one["raw_json"]))
    ok("/api/reports/N: metadata, policy, 3 failure details, raw_json")
    for r in exp["reports"]:
        row = [x for x in rows if x["report_id"] == r["report_id"]][0]
        body, headers = get(base, "/api/reports/%d/raw" % row["id"])
        want = open(r["file"], "rb").read()
        if want[:2] == b"\x1f\x8b":
            want = gzip.decompress(want)
        eq("raw bytes of %s" % r["file"], want, body)
        check(headers["Content-Type"].startswith("application/json"), "raw Content-Type")
    ok("/api/reports/N/raw: the JSON bytes as received, for all %d reports" % len(rows))


def check_outbound(base):
    got = get_json(base, "/api/outbound")
    eq("outbound reports", 6, len(got["rows"]))
    eq("outbound order", [("2026-03-15", "a.example"), ("2026-03-15", "e.example"),
                          ("2026-03-14", "a.example"), ("2026-03-14", "b.example"),
                          ("2026-03-14", "c.example"), ("2026-03-14", "d.example")],
       [(r["day"], r["report_domain"]) for r in got["rows"]])
    a = got["rows"][2]
    eq("a.example state and sessions", ("delivered", 90, 10, 0.9),
       (a["state"], a["successful_sessions"], a["failed_sessions"], a["success_rate"]))
    eq("a.example deliveries", [("https://rua.a.example/tlsrpt", "delivered", 1, "", None,
                                 "2026-03-15T02:00:01Z"),
                                ("mailto:tlsrpt@a.example", "failed", 5,
                                 "550 5.1.1 <tlsrpt@a.example>: no such user", None, None)],
       [(d["uri"], d["state"], d["attempts"], d["last_error"], d["next_attempt"], d["delivered"])
        for d in a["deliveries"]])
    b = got["rows"][3]
    eq("b.example retry", [("pending", 2, "HTTP 500", "2026-03-15T04:00:00Z", 500)],
       [(d["state"], d["attempts"], d["last_error"], d["next_attempt"], d["response_code"])
        for d in b["deliveries"]])
    c = got["rows"][4]
    eq("c.example no destination", ("no-destination", "no TXT record at _smtp._tls.c.example", []),
       (c["state"], c["plan_error"], c["deliveries"]))
    got = get_json(base, "/api/outbound?domain=a.example&since=2026-03-15")
    eq("outbound filter", [("2026-03-15", "in-flight")],
       [(r["day"], r["deliveries"][0]["state"]) for r in got["rows"]])
    ok("/api/outbound: 6 reports by day and domain, each delivery's state, tries, error, next attempt")


def check_status(base, exp):
    st = get_json(base, "/api/status")
    inb = st["inbound"]
    ok_ = sum(r["successful_sessions"] for r in exp["reports"])
    failed = sum(r["failed_sessions"] for r in exp["reports"])
    eq("inbound totals", (True, len(exp["reports"]), ok_, failed, rate(ok_, failed),
                          len(exp["domains"])),
       (inb["available"], inb["reports"], inb["successful_sessions"], inb["failed_sessions"],
        inb["success_rate"], inb["policy_domains"]))
    # The reports, the duplicate and the broken one; a POST to a
    # dashboard URL is the dashboard's 405, not an ingest rejection.
    eq("ingest counters", {"received": len(exp["reports"]) + 2, "stored": len(exp["reports"]),
                           "duplicates": 1, "rejected_not_json": 1}, inb["ingest"])
    ob = st["outbound"]
    eq("outbound states", (True, OUT_STATES, DELIVERY_STATES),
       (ob["available"], ob["reports"], ob["deliveries"]))
    eq("collector today", ({"accepted": 40, "received": 42, "rejected": 2,
                            "rejected_syntax": 2}, 30, 6),
       (ob["collector"]["counters"], ob["collector"]["successful_sessions"],
        ob["collector"]["failed_sessions"]))
    ok("/api/status: inbound totals, ingest counters, outbound states, collector today")


def api(base, expected, srcdir):
    exp = json.load(open(expected))
    check_lists(base, exp)
    check_filters(base, exp)
    check_report(base, exp, srcdir)
    check_outbound(base)
    check_status(base, exp)


# --- /metrics ------------------------------------------------------------

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\\\|\\"|\\n)*)"'
SAMPLE = re.compile(r"^(%s)(?:\{((?:%s)(?:,%s)*)\})? (\S+)$" % (NAME, LABEL, LABEL))


def unescape(v):
    return re.sub(r'\\(.)', lambda m: {"n": "\n"}.get(m.group(1), m.group(1)), v)


def parse_metrics(text):
    """Checks the 0.0.4 text format; returns {(name, frozenset(labels)): value}."""
    check(text.endswith("\n"), "metrics text does not end with a newline")
    types, helps, series, done, current = {}, set(), {}, set(), None
    for n, line in enumerate(text.split("\n")[:-1], 1):
        m = re.match(r"^# (HELP|TYPE) (%s) (.+)$" % NAME, line)
        if m:
            kind, name, rest = m.groups()
            if kind == "TYPE":
                check(name not in types, "line %d: second TYPE for %s" % (n, name))
                check(rest in ("counter", "gauge", "untyped", "summary", "histogram"),
                      "line %d: type %s" % (n, rest))
                check(rest != "counter" or name.endswith("_total"),
                      "line %d: counter %s without _total" % (n, name))
                types[name] = rest
            else:
                check(name not in helps, "line %d: second HELP for %s" % (n, name))
                helps.add(name)
            if current != name:
                check(name not in done, "line %d: family %s split" % (n, name))
                if current:
                    done.add(current)
                current = name
            continue
        check(not line.startswith("#"), "line %d: a comment that is not HELP or TYPE" % n)
        m = SAMPLE.match(line)
        check(m, "line %d is not a sample: %r" % (n, line))
        name = m.group(1)
        check(name == current and name in types, "line %d: %s outside its family" % (n, name))
        labels = frozenset((k, unescape(v)) for k, v in re.findall(LABEL, m.group(2) or ""))
        check((name, labels) not in series, "line %d: duplicate series" % n)
        series[(name, labels)] = float(m.group(m.lastindex))
    check(set(types) == helps, "families with TYPE but no HELP or the reverse")
    return series


def metrics(path, expected):
    exp = json.load(open(expected))
    series = parse_metrics(open(path, encoding="utf-8").read())
    ok("metrics: valid text format 0.0.4 (%d series, HELP/TYPE, escaping, grouping)" % len(series))

    def val(name, **labels):
        key = (name, frozenset(labels.items()))
        check(key in series, "no series %s %s" % (name, labels))
        return series[key]

    eq("sessions success", 5326, val("tlsrpt_inbound_sessions_total", policy_domain="company-y.example",
                                     organization="Company-X", result="success"))
    eq("sessions failure", 303, val("tlsrpt_inbound_sessions_total", policy_domain="company-y.example",
                                    organization="Company-X", result="failure"))
    eq("failures by type", 200, val("tlsrpt_inbound_failures_total", policy_domain="company-y.example",
                                    organization="Company-X", result_type="starttls-not-supported"))
    evil = [r for r in exp["reports"] if r["report_id"] == "evil-1"][0]["organization"]
    eq("escaped label value", 7, val("tlsrpt_inbound_sessions_total", policy_domain="escape.example",
                                     organization=evil, result="success"))
    google = len([r for r in exp["reports"] if r["organization"] == "Google Inc."])
    eq("reports per org", google, val("tlsrpt_inbound_reports_total", organization="Google Inc."))
    for d in exp["domains"]:
        total = sum(v for (n, ls), v in series.items() if n == "tlsrpt_inbound_sessions_total"
                    and ("policy_domain", d["policy_domain"] or "") in ls)
        eq("sessions of %s" % d["policy_domain"], d["successful_sessions"] + d["failed_sessions"], total)
    eq("received", len(exp["reports"]) + 2, val("tlsrpt_ingest_received_total"))
    eq("stored", len(exp["reports"]), val("tlsrpt_ingest_requests_total", outcome="stored"))
    eq("duplicate", 1, val("tlsrpt_ingest_requests_total", outcome="duplicate"))
    eq("rejected", 1, val("tlsrpt_ingest_requests_total", outcome="rejected_not_json"))
    for st, n in OUT_STATES.items():
        eq("outbound %s" % st, n, val("tlsrpt_outbound_reports", state=st))
    for st, n in DELIVERY_STATES.items():
        eq("deliveries %s" % st, n, val("tlsrpt_outbound_deliveries", state=st))
    eq("collector received", 42, val("tlsrpt_collector_events_total", counter="received"))
    eq("databases", (1, 1), (val("tlsrpt_database_available", database="inbound"),
                             val("tlsrpt_database_available", database="outbound")))
    eq("nothing dropped", 0, val("tlsrpt_metrics_series_dropped", metric="tlsrpt_inbound_sessions_total"))
    ok("metrics: exact values of inbound, ingest, outbound and collector series")


# --- tlsrptctl -----------------------------------------------------------

def ctl(d, expected, base):
    exp = json.load(open(expected))
    for cmd, path in [("domains", "/api/domains"), ("summary", "/api/summary"),
                      ("reports", "/api/reports"), ("failures", "/api/failures"),
                      ("outbound", "/api/outbound")]:
        eq("tlsrptctl %s --format json" % cmd, get_json(base, path),
           json.load(open("%s/%s.json" % (d, cmd))))
    ok("tlsrptctl --format json prints what the API answers (5 commands)")
    raw = open(d + "/reports.csv", "rb").read()
    check(raw.endswith(b"\r\n") and raw.count(b"\r\n") == len(exp["reports"]) + 1,
          "CSV lines must end in CRLF, one per report plus the header")
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8"), newline="")))
    eq("csv header", ["id", "day", "organization", "policy_domains", "successful_sessions",
                      "failed_sessions", "success_rate", "received", "source", "report_id"],
       list(rows[0].keys()))
    eq("csv organizations", [r["organization"] for r in exp["reports"]], [r["organization"] for r in rows])
    rfc = [r for r in rows if r["organization"] == "Company-X"][0]
    eq("csv figures", ("5326", "303", "%.6g" % (5326 / 5629), "company-y.example"),
       (rfc["successful_sessions"], rfc["failed_sessions"], rfc["success_rate"], rfc["policy_domains"]))
    ok("tlsrptctl --format csv: RFC 4180 (CRLF, quotes doubled, commas quoted), exact figures")
    lines = open(d + "/domains.txt", encoding="utf-8").read().split("\n")[:-1]
    eq("table lines", len(exp["domains"]) + 1, len(lines))
    check(len(set(len(x) for x in lines)) == 1, "table columns not aligned: %r" % lines)
    want = [str(x["successful_sessions"]) for x in exp["domains"]]
    eq("table figures", [[d_["policy_domain"], w, pct(d_["success_rate"])] for d_, w in
                         zip(exp["domains"], want)],
       [[x.split()[0], x.split()[5], x.split()[7]] for x in lines[1:]])
    table = open(d + "/reports.txt", "rb").read()
    check(b"\x1b" not in table and b'Evil "Org" \\ <b>Inc</b>?[31m, Ltd' in table,
          "control characters must be shown as '?' in tables")
    ok("tlsrptctl table: aligned columns, exact figures, no control characters")
    show = open(d + "/show.txt", encoding="utf-8").read()
    check(re.search(r"^organization +Company-X$", show, re.M), "show: organization line")
    check('"report-id": "5065427c-23d3-47ca-b6e0-946ea0e8c4be"' in show, "show: pretty JSON")
    check(re.search(r"starttls-not-supported +mx2\.mail\.company-y\.example +203\.0\.113\.56", show),
          "show: failure detail row")
    ok("tlsrptctl show: metadata, failure details, indented JSON")


# --- the DOM Chromium rendered -------------------------------------------

VOID = ("area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta",
        "source", "track", "wbr")


class Dom(html.parser.HTMLParser):
    """Cell texts of every table by id, texts by element id, tag counts."""

    def __init__(self):
        super().__init__()
        self.tables, self.ids, self.stack, self.tags = {}, {}, [], {}
        self.body = {}
        self.table = self.row = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags[tag] = self.tags.get(tag, 0) + 1
        if tag == "body":
            self.body = a
        if tag == "table":
            self.table = self.tables.setdefault(a.get("id"), [])
        elif tag == "tr" and self.table is not None:
            self.row = []
            self.table.append(self.row)
        elif tag in ("td", "th") and self.row is not None:
            self.row.append("")
        if tag not in VOID:
            self.stack.append((tag, a.get("id")))

    def handle_endtag(self, tag):
        if tag == "table":
            self.table = None
        if tag == "tr":
            self.row = None
        while self.stack:
            t, _ = self.stack.pop()
            if t == tag:
                break

    def handle_data(self, data):
        if self.row is not None and self.row:
            self.row[-1] += data
        for _, i in self.stack:
            if i:
                self.ids[i] = self.ids.get(i, "") + data


def body_rows(table):
    return [[c.strip() for c in r] for r in table[1:]]


def dom(page, path, expected=None, report_file=None):
    exp = json.load(open(expected)) if expected else None
    text = open(path, encoding="utf-8").read()
    d = Dom()
    d.feed(text)
    if page == "outbound-missing":
        check(d.body.get("data-ready") == "1", "page not drawn: %r" % d.body)
        check("Outbound database not available:" in d.ids.get("unavailable", "") and
              "No such file" in d.ids["unavailable"], "outbound page must say the database is missing")
        ok("outbound page without a database says so")
        return
    check(d.body.get("data-ready") == "1" and "data-error" not in d.body,
          "%s: page not drawn: %r" % (page, d.body))
    check(not re.search(r"""(src|href)=["']?(https?:)?//""", text), "%s: a URL off this server" % page)
    globals()["dom_" + page.replace("-", "_")](d, text, exp, report_file)
    ok("%s page: drawn, figures in the DOM as expected" % page)


def dom_overview(d, text, exp, _):
    eq("domain table", [[x["policy_domain"], str(x["reports"]), str(x["organizations"]),
                         x["first_day"], x["last_day"], str(x["successful_sessions"]),
                         str(x["failed_sessions"]), pct(x["success_rate"])] for x in exp["domains"]],
       body_rows(d.tables["domain-table"]))
    eq("summary table rows", len(exp["summary"]), len(body_rows(d.tables["summary-table"])))
    ok_ = sum(x["successful_sessions"] for x in exp["domains"])
    failed = sum(x["failed_sessions"] for x in exp["domains"])
    check("Success rate%s" % pct(rate(ok_, failed)) in d.ids.get("tiles", ""), "success rate tile")
    eq("one chart per domain", len(exp["domains"]), text.count("<figure "))
    for x in exp["domains"]:
        fig = re.search(r'<figure data-domain="%s">(.*?)</figure>' % re.escape(x["policy_domain"]), text, re.S)
        check(fig, "no chart for %s" % x["policy_domain"])
        days = len(set(s["day"] for s in exp["summary"] if s["policy_domain"] == x["policy_domain"]))
        eq("points of %s" % x["policy_domain"], days, fig.group(1).count("<circle"))
        check(pct(x["success_rate"]) in fig.group(1), "rate of %s in its chart" % x["policy_domain"])
    check("company-y.example" in text and "2016-04-01: 94.6% (5326 of 5629)" in text, "tooltip figure")


def dom_failures(d, text, exp, _):
    rows = failures_order(exp["failures"])
    eq("failure table", [[r["result_type"], r["receiving_mx"] or "(not reported)", str(r["sessions"]),
                          str(r["reports"]), str(r["result_type_sessions"])] for r in rows],
       body_rows(d.tables["failure-table"]))
    by_type = {}
    for r in rows:
        by_type[r["result_type"]] = r["result_type_sessions"]
    got = re.findall(r'data-value="(\d+)">(\d+)</text>', text.split('id="by-mx"')[0])
    eq("bars by result type", sorted(by_type.values(), reverse=True), [int(v) for v, _ in got])
    check("mx.escape.example" in d.ids.get("by-mx", ""), "MX bars use normalised host names")


def dom_reports(d, text, exp, _):
    rows = body_rows(d.tables["report-table"])
    eq("report table", [[r["day"], r["organization"], " ".join(r["policy_domains"]),
                         str(r["successful_sessions"]), str(r["failed_sessions"])] for r in exp["reports"]],
       [[r[0], r[1], r[2], r[4], r[5]] for r in rows])
    check("&lt;b&gt;Inc&lt;/b&gt;" in text and "<b>Inc</b>" not in text and d.tags.get("b", 0) == 0,
          "report text must be shown as text, never as markup")
    eq("links to reports", len(exp["reports"]), len(re.findall(r'href="/report\?id=\d+"', text)))


def dom_report(d, text, exp, report_file):
    eq("policy rows", [["sts", "company-y.example", "certificate-expired", "100"],
                       ["sts", "company-y.example", "starttls-not-supported", "200"],
                       ["sts", "company-y.example", "validation-failure", "3"]],
       [[r[0], r[1], r[5], r[9]] for r in body_rows(d.tables["policy-table"])])
    raw = d.ids.get("raw", "")
    eq("pretty-printed JSON", load_report(report_file), json.loads(raw))
    check('\n  "organization-name": "Company-X",' in raw, "JSON indented by 2")
    check("5326 successful, 303 failed (94.6%)" in d.ids.get("meta", ""), "sessions line")


def dom_outbound(d, text, exp, _):
    tiles = d.ids.get("tiles", "")
    for st, n in OUT_STATES.items():
        check("Reports %s%d" % (st, n) in tiles, "tile reports %s" % st)
    for st, n in DELIVERY_STATES.items():
        check("Deliveries %s%d" % (st, n) in tiles, "tile deliveries %s" % st)
    rows = body_rows(d.tables["outbound-table"])
    eq("outbound table", [["2026-03-15", "a.example", "pending"], ["2026-03-15", "e.example", "pending"],
                          ["2026-03-14", "a.example", "delivered"], ["2026-03-14", "b.example", "pending"],
                          ["2026-03-14", "c.example", "no-destination"], ["2026-03-14", "d.example", "failed"]],
       [r[:3] for r in rows])
    check("550 5.1.1 <tlsrpt@a.example>: no such user" in rows[2][5], "last error shown")
    check(rows[2][5].startswith("delivered https://rua.a.example/tlsrpt"), "delivery state shown")
    eq("collector counters", [["accepted", "40"], ["received", "42"], ["rejected", "2"],
                              ["rejected_syntax", "2"]], sorted(body_rows(d.tables["collector-table"])))
    eq("stacked bars", 5, len(re.findall(r'<rect class="s-', text)))


def png(path):
    data = open(path, "rb").read()
    check(data[:8] == b"\x89PNG\r\n\x1a\n", "%s is not a PNG" % path)
    w, hgt = struct.unpack(">II", data[16:24])
    eq("%s size" % path, (1280, 900), (w, hgt))
    check(len(data) > 10 * 1024, "%s: %d bytes, blank?" % (path, len(data)))
    ok("screenshot %s: PNG 1280x900, %d bytes" % (path.rsplit("/", 1)[-1], len(data)))


def main(argv):
    cmd = argv[1]
    if cmd == "expect":
        json.dump(expect(argv[2:]), sys.stdout, indent=1)
    elif cmd == "api":
        api(*argv[2:5])
    elif cmd == "metrics":
        metrics(*argv[2:4])
    elif cmd == "ctl":
        ctl(*argv[2:5])
    elif cmd == "dom":
        dom(*argv[2:])
    elif cmd == "png":
        png(argv[2])
    else:
        raise Fail("unknown command " + cmd)


if __name__ == "__main__":
    try:
        main(sys.argv)
    except Fail as e:
        print("FAIL - %s" % e, file=sys.stderr)
        sys.exit(1)
