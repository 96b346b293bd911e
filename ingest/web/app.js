/*
 * tlsrptd dashboard: fills the page shells from the JSON API (/api/...)
 * and draws the charts as inline SVG. No libraries, nothing fetched from
 * anywhere but this server. Report data is text from other
 * organisations: it only ever reaches the page through textContent and
 * attribute values, never as markup.
 * When a page is drawn, <body data-ready="1">; on failure, data-error.
 */
"use strict";

(function () {
	const SVG = "http://www.w3.org/2000/svg";
	const params = new URLSearchParams(location.search);
	const FILTERS = ["domain", "org", "since", "until"];

	/* --- DOM helpers ------------------------------------------------ */

	function add(parent, children) {
		for (const c of children) {
			if (c === null || c === undefined)
				continue;
			parent.appendChild(typeof c === "object" ? c : document.createTextNode(String(c)));
		}
		return parent;
	}

	function attrs(e, a) {
		for (const k in a || {})
			if (a[k] !== null && a[k] !== undefined)
				e.setAttribute(k, String(a[k]));
		return e;
	}

	function h(tag, a, ...children) {
		return add(attrs(document.createElement(tag), a), children);
	}

	function s(tag, a, ...children) {
		return add(attrs(document.createElementNS(SVG, tag), a), children);
	}

	function byId(id) {
		return document.getElementById(id);
	}

	function fill(id, ...children) {
		const e = byId(id);
		if (!e)
			return null;
		e.replaceChildren();
		return add(e, children);
	}

	/* --- formatting --------------------------------------------------- */

	function int(n) {
		return n === null || n === undefined ? "-" : String(n);
	}

	function rate(r) {
		return r === null || r === undefined ? "-" : (r * 100).toFixed(1) + "%";
	}

	function time(iso) {
		return iso ? iso.replace("T", " ").replace("Z", " UTC") : "-";
	}

	function text(v) {
		if (v === null || v === undefined || v === "")
			return "-";
		return Array.isArray(v) ? v.join(" ") : String(v);
	}

	function dayValue(day) {
		return Date.parse(day + "T00:00:00Z");
	}

	function cut(t, n) {
		return t.length > n ? t.slice(0, n - 1) + "\u2026" : t;
	}

	/* --- the API -------------------------------------------------------- */

	function query(extra) {
		const q = new URLSearchParams();
		for (const k of FILTERS)
			if (params.get(k))
				q.set(k, params.get(k));
		for (const k in extra || {})
			q.set(k, extra[k]);
		const t = q.toString();
		return t ? "?" + t : "";
	}

	async function api(path, extra) {
		const r = await fetch("/api/" + path + query(extra), { credentials: "same-origin" });
		let body = null;
		try {
			body = await r.json();
		} catch (e) {
			body = null;
		}
		if (!r.ok) {
			const err = new Error(body && body.error ? body.error : "HTTP " + r.status);
			err.status = r.status;
			throw err;
		}
		return body;
	}

	/* --- shared pieces ---------------------------------------------------- */

	function tile(label, value, cls, small) {
		return h("div", { class: "tile " + (cls || ""), "data-k": label },
		    h("div", { class: "label" }, label),
		    h("div", { class: small ? "value small-value" : "value" }, value));
	}

	function rateClass(r) {
		return r === null || r === undefined ? "" : r < 1 ? "rate-bad" : "rate-ok";
	}

	/* columns: {key, head, num, wrap, fmt(v, row) -> text or node, cls(row)} */
	function table(id, columns, rows, empty) {
		if (!rows.length)
			return h("p", { class: "empty", id: id }, empty || "Nothing to show.");
		const head = h("tr", {}, ...columns.map(c => h("th", { class: c.num ? "num" : null }, c.head)));
		const body = h("tbody", {});
		for (const row of rows) {
			const tr = h("tr", {});
			for (const c of columns) {
				const v = c.fmt ? c.fmt(row[c.key], row) : text(row[c.key]);
				const cls = [c.num ? "num" : "", c.wrap ? "wrap" : "",
				    c.cls ? c.cls(row) : ""].join(" ").trim();
				tr.appendChild(h("td", { class: cls || null, "data-k": c.key }, v));
			}
			body.appendChild(tr);
		}
		return h("table", { id: id }, h("thead", {}, head), body);
	}

	function truncatedNote(res, what) {
		return res.truncated ? h("p", { class: "small" }, "Only the first " +
		    res.rows.length + " " + what + " are shown; narrow the filter.") : null;
	}

	function domainLink(d) {
		if (!d)
			return "(none)";
		return h("a", { href: "/" + "?domain=" + encodeURIComponent(d) }, d);
	}

	function setupChrome() {
		const page = document.body.dataset.page;
		for (const a of document.querySelectorAll("nav a[data-nav]")) {
			if (a.dataset.nav === page)
				a.classList.add("current");
			if (page !== "report")
				a.setAttribute("href", a.getAttribute("href") + query());
		}
		const form = byId("filter");
		if (form)
			for (const k of FILTERS)
				if (form.elements[k])
					form.elements[k].value = params.get(k) || "";
	}

	function domainChoices(list) {
		const dl = byId("domain-list");
		if (dl)
			dl.replaceChildren(...list.filter(d => d).map(d => h("option", { value: d })));
	}

	/* --- charts ------------------------------------------------------------ */

	/* One small chart per domain: success rate per day, 0-100 %. */
	function rateChart(domain, points, x0, x1, total) {
		const W = 330, H = 150, L = 36, R = 10, T = 8, B = 22;
		const x = d => x1 > x0 ? L + (dayValue(d) - x0) / (x1 - x0) * (W - L - R) : (L + W - R) / 2;
		const y = r => T + (1 - r) * (H - T - B);
		const svg = s("svg", { viewBox: "0 0 " + W + " " + H, role: "img",
		    "aria-label": "success rate of " + domain + " per day" });
		for (const g of [0, 0.5, 1]) {
			svg.appendChild(s("line", { class: "grid", x1: L, x2: W - R, y1: y(g), y2: y(g) }));
			svg.appendChild(s("text", { x: L - 4, y: y(g) + 4, "text-anchor": "end" }, (g * 100) + "%"));
		}
		const known = points.filter(p => p.rate !== null);
		if (known.length > 1)
			svg.appendChild(s("path", { class: "line", d: known.map((p, i) =>
			    (i ? "L" : "M") + x(p.day).toFixed(1) + " " + y(p.rate).toFixed(1)).join(" ") }));
		for (const p of known)
			svg.appendChild(s("circle", { class: p.rate < 1 ? "dot-bad" : "dot-ok",
			    cx: x(p.day).toFixed(1), cy: y(p.rate).toFixed(1), r: 3.5 },
			    s("title", {}, p.day + ": " + rate(p.rate) + " (" + p.ok + " of " + (p.ok + p.failed) + ")")));
		const first = new Date(x0).toISOString().slice(0, 10), last = new Date(x1).toISOString().slice(0, 10);
		svg.appendChild(s("text", { x: L, y: H - 6 }, first));
		if (last !== first)
			svg.appendChild(s("text", { x: W - R, y: H - 6, "text-anchor": "end" }, last));
		return h("figure", { "data-domain": domain },
		    h("figcaption", {}, domainLink(domain), h("span", { class: "rate " + rateClass(total) }, rate(total))),
		    svg);
	}

	/* Horizontal bars: [{label, value, title}], largest first. */
	function bars(items, cls) {
		const W = 640, row = 24, LW = 250, max = Math.max(1, ...items.map(i => i.value));
		const svg = s("svg", { viewBox: "0 0 " + W + " " + (items.length * row + 4), role: "img" });
		items.forEach((it, n) => {
			const yy = n * row + 2, w = Math.max(1, (W - LW - 70) * it.value / max);
			svg.appendChild(s("text", { class: "bar-label", x: 0, y: yy + 15 }, cut(it.label, 38),
			    s("title", {}, it.label)));
			svg.appendChild(s("rect", { class: "track", x: LW, y: yy + 4, width: W - LW - 70, height: 14, rx: 2 }));
			svg.appendChild(s("rect", { class: cls, x: LW, y: yy + 4, width: w.toFixed(1), height: 14, rx: 2 },
			    s("title", {}, it.title || it.label + ": " + it.value)));
			svg.appendChild(s("text", { class: "bar-label", x: LW + w + 6, y: yy + 15, "data-value": it.value },
			    String(it.value)));
		});
		return items.length ? svg : h("p", { class: "empty" }, "No failures.");
	}

	const STATES = ["delivered", "pending", "no-destination", "failed"];

	/* Reports per day as stacked columns, one colour per state. */
	function stackedDays(rows) {
		const days = {};
		for (const r of rows) {
			days[r.day] = days[r.day] || {};
			days[r.day][r.state] = (days[r.day][r.state] || 0) + 1;
		}
		const keys = Object.keys(days).sort();
		if (!keys.length)
			return h("p", { class: "empty" }, "No reports.");
		const W = 640, H = 160, B = 20, T = 6, max = Math.max(...keys.map(k =>
		    STATES.reduce((a, st) => a + (days[k][st] || 0), 0)));
		const colW = Math.min(40, (W - 20) / keys.length);
		const svg = s("svg", { viewBox: "0 0 " + W + " " + H, role: "img" });
		keys.forEach((k, i) => {
			let yy = H - B;
			for (const st of STATES) {
				const n = days[k][st] || 0, hh = n / max * (H - B - T);
				if (!n)
					continue;
				yy -= hh;
				svg.appendChild(s("rect", { class: "s-" + st, x: 10 + i * colW, y: yy.toFixed(1),
				    width: Math.max(1, colW - 3).toFixed(1), height: hh.toFixed(1) },
				    s("title", {}, k + ": " + n + " " + st)));
			}
		});
		svg.appendChild(s("text", { x: 10, y: H - 4 }, keys[0]));
		if (keys.length > 1)
			svg.appendChild(s("text", { x: Math.max(10 + keys.length * colW, 150), y: H - 4,
			    "text-anchor": "end" }, keys[keys.length - 1]));
		return h("div", {}, svg, h("div", { class: "legend" },
		    ...STATES.map(st => h("span", { class: "s-" + st }, st))));
	}

	/* --- pages ----------------------------------------------------------------- */

	async function overview() {
		const [status, domains, summary] = await Promise.all([api("status"),
		    api("domains", { limit: 10000 }), api("summary", { limit: 100000 })]);
		const rows = domains.rows;
		const ok = rows.reduce((a, r) => a + r.successful_sessions, 0);
		const failed = rows.reduce((a, r) => a + r.failed_sessions, 0);
		const total = ok + failed ? ok / (ok + failed) : null;
		const inb = status.inbound;
		fill("tiles", tile("Success rate", rate(total), total === null ? "" : total < 1 ? "bad" : "ok"),
		    tile("Successful sessions", int(ok)), tile("Failed sessions", int(failed), failed ? "bad" : ""),
		    tile("Policy domains", int(rows.length)), tile("Reports stored", int(inb.reports)),
		    tile("Last report received", time(inb.last_received), "", true));
		domainChoices(rows.map(r => r.policy_domain));
		const perDomain = {};
		let x0 = Infinity, x1 = -Infinity;
		for (const r of summary.rows) {
			const key = r.policy_domain || "";
			const d = perDomain[key] = perDomain[key] || {};
			const p = d[r.day] = d[r.day] || { day: r.day, ok: 0, failed: 0 };
			p.ok += r.successful_sessions;
			p.failed += r.failed_sessions;
			x0 = Math.min(x0, dayValue(r.day));
			x1 = Math.max(x1, dayValue(r.day));
		}
		fill("rate-charts", ...rows.map(r => {
			const pts = Object.values(perDomain[r.policy_domain || ""] || {}).sort((a, b) =>
			    a.day < b.day ? -1 : 1).map(p => Object.assign(p, {
				rate: p.ok + p.failed ? p.ok / (p.ok + p.failed) : null }));
			return rateChart(r.policy_domain || "(none)", pts, x0, x1, r.success_rate);
		}));
		if (!rows.length)
			fill("rate-charts", h("p", { class: "empty" }, "No reports yet."));
		fill("domains", table("domain-table", [
			{ key: "policy_domain", head: "Domain", fmt: domainLink },
			{ key: "reports", head: "Reports", num: true },
			{ key: "organizations", head: "Organizations", num: true },
			{ key: "first_day", head: "First day" },
			{ key: "last_day", head: "Last day" },
			{ key: "successful_sessions", head: "Successful", num: true },
			{ key: "failed_sessions", head: "Failed", num: true },
			{ key: "success_rate", head: "Success rate", num: true, fmt: rate, cls: r => rateClass(r.success_rate) },
		], rows, "No reports yet."));
		fill("summary", table("summary-table", [
			{ key: "day", head: "Day" },
			{ key: "policy_domain", head: "Domain", fmt: domainLink },
			{ key: "organization", head: "Organization" },
			{ key: "reports", head: "Reports", num: true },
			{ key: "successful_sessions", head: "Successful", num: true },
			{ key: "failed_sessions", head: "Failed", num: true },
			{ key: "success_rate", head: "Success rate", num: true, fmt: rate, cls: r => rateClass(r.success_rate) },
		], summary.rows.slice(0, 500), "No reports yet."), summary.rows.length > 500 ?
		    h("p", { class: "small" }, "The first 500 rows are shown.") : truncatedNote(summary, "rows"));
	}

	function sumBy(rows, key, value) {
		const acc = {};
		for (const r of rows)
			acc[r[key] || "(not reported)"] = (acc[r[key] || "(not reported)"] || 0) + r[value];
		return Object.entries(acc).map(([label, v]) => ({ label: label, value: v }))
		    .sort((a, b) => b.value - a.value || (a.label < b.label ? -1 : 1));
	}

	async function failures() {
		const [res, domains] = await Promise.all([api("failures", { limit: 10000 }),
		    api("domains", { limit: 10000 })]);
		domainChoices(domains.rows.map(r => r.policy_domain));
		fill("by-type", bars(sumBy(res.rows, "result_type", "sessions").slice(0, 30), "bar"));
		fill("by-mx", bars(sumBy(res.rows, "receiving_mx", "sessions").slice(0, 30), "bar-mx"));
		fill("failures", table("failure-table", [
			{ key: "result_type", head: "Result type" },
			{ key: "receiving_mx", head: "Receiving MX", fmt: v => v || "(not reported)" },
			{ key: "sessions", head: "Sessions", num: true },
			{ key: "reports", head: "Reports", num: true },
			{ key: "result_type_sessions", head: "All of this type", num: true },
		], res.rows, "No failures reported."), truncatedNote(res, "rows"));
	}

	async function reports() {
		const [res, domains] = await Promise.all([api("reports", { limit: 500 }),
		    api("domains", { limit: 10000 })]);
		domainChoices(domains.rows.map(r => r.policy_domain));
		fill("reports", table("report-table", [
			{ key: "day", head: "Day" },
			{ key: "organization", head: "Organization" },
			{ key: "policy_domains", head: "Domains", wrap: true },
			{ key: "policy_count", head: "Policies", num: true },
			{ key: "successful_sessions", head: "Successful", num: true },
			{ key: "failed_sessions", head: "Failed", num: true },
			{ key: "success_rate", head: "Success rate", num: true, fmt: rate, cls: r => rateClass(r.success_rate) },
			{ key: "received", head: "Received", fmt: time },
			{ key: "source", head: "Via" },
			{ key: "report_id", head: "Report", fmt: (v, r) => h("a", { href: "/report?id=" + r.id }, cut(v, 48)) },
		], res.rows, "No reports yet."), truncatedNote(res, "reports"));
	}

	function prettyJson(raw) {
		try {
			return JSON.stringify(JSON.parse(raw), null, 2);
		} catch (e) {
			return raw;	/* the tolerant parser took what JSON.parse refuses */
		}
	}

	async function report() {
		const id = params.get("id");
		if (!/^[1-9][0-9]*$/.test(id || ""))
			throw new Error("no report id in the address");
		const r = await api("reports/" + id, null);
		document.title = r.organization + " " + r.report_id + " - tlsrptd";
		fill("title", r.organization + ": " + r.report_id);
		const meta = [["Organization", r.organization], ["Report-ID", r.report_id],
		    ["Contact", r.contact], ["Day", r.day], ["Range", time(r.start) + " to " + time(r.end)],
		    ["Received", time(r.received) + " via " + r.source], ["From", r.peer],
		    ["Submitter", r.submitter], ["DKIM", r.dkim], ["Sessions", r.successful_sessions +
		    " successful, " + r.failed_sessions + " failed (" + rate(r.success_rate) + ")"],
		    ["Repairs", r.repairs], ["Size", r.raw_bytes + " bytes as received"]];
		fill("meta", ...meta.flatMap(([k, v]) => [h("dt", {}, k), h("dd", { "data-k": k }, text(v))]));
		const rows = [];
		for (const p of r.policies) {
			const details = p.failure_details.length ? p.failure_details : [{}];
			for (const f of details)
				rows.push(Object.assign({}, p, f));
		}
		fill("policies", table("policy-table", [
			{ key: "policy_type", head: "Type" },
			{ key: "policy_domain", head: "Domain" },
			{ key: "mx_hosts", head: "MX" },
			{ key: "successful_sessions", head: "Successful", num: true },
			{ key: "failed_sessions", head: "Failed", num: true },
			{ key: "result_type", head: "Result type" },
			{ key: "receiving_mx_hostname", head: "Receiving MX" },
			{ key: "receiving_ip", head: "Receiving IP" },
			{ key: "sending_mta_ip", head: "Sending IP" },
			{ key: "failed_session_count", head: "Count", num: true },
			{ key: "failure_reason_code", head: "Reason", wrap: true },
		], rows));
		fill("raw", prettyJson(r.raw_json));
		byId("raw-link").setAttribute("href", "/api/reports/" + id + "/raw");
	}

	function deliveryList(ds) {
		if (!ds.length)
			return h("span", { class: "empty" }, "none");
		return h("ul", { class: "deliveries" }, ...ds.map(d => h("li", {},
		    h("span", { class: "badge s-" + d.state, "data-k": "delivery-state" }, d.state), " ",
		    d.uri, " ", h("span", { class: "small" }, d.attempts + (d.attempts === 1 ? " attempt" : " attempts") +
		    (d.next_attempt ? ", next " + time(d.next_attempt) : "") +
		    (d.delivered ? ", delivered " + time(d.delivered) : "")),
		    d.last_error ? h("div", { class: "err" }, d.last_error) : null)));
	}

	async function outbound() {
		const status = await api("status", null);
		const ob = status.outbound;
		if (!ob.available) {
			const n = byId("unavailable");
			n.hidden = false;
			n.textContent = "Outbound database not available: " + ob.reason;
			for (const id of ["per-day", "outbound", "collector"])
				fill(id, h("p", { class: "empty" }, "No outbound data."));
			return;
		}
		fill("tiles", ...STATES.map(st => tile("Reports " + st, int(ob.reports[st]),
		    st === "failed" && ob.reports[st] ? "bad" : "")),
		    ...["pending", "in-flight", "delivered", "failed"].map(st =>
		    tile("Deliveries " + st, int(ob.deliveries[st]), st === "failed" && ob.deliveries[st] ? "bad" : "")));
		const res = await api("outbound", { limit: 2000 });
		domainChoices([...new Set(res.rows.map(r => r.report_domain))].sort());
		fill("per-day", stackedDays(res.rows));
		fill("outbound", table("outbound-table", [
			{ key: "day", head: "Day" },
			{ key: "report_domain", head: "Report domain" },
			{ key: "state", head: "State", fmt: v => h("span", { class: "badge s-" + v }, v) },
			{ key: "successful_sessions", head: "Successful", num: true },
			{ key: "failed_sessions", head: "Failed", num: true },
			{ key: "deliveries", head: "Deliveries", fmt: deliveryList, wrap: true },
			{ key: "plan_error", head: "Note", wrap: true },
		], res.rows, "No reports built yet."), truncatedNote(res, "reports"));
		fill("collector-day", ob.collector.day + " (UTC)");
		const counters = Object.entries(ob.collector.counters).map(([k, v]) => ({ counter: k, value: v }));
		fill("collector", table("collector-table", [
			{ key: "counter", head: "Counter" },
			{ key: "value", head: "Value", num: true },
		], counters, "No counters written today."));
	}

	const pages = { overview: overview, failures: failures, reports: reports,
	    report: report, outbound: outbound };

	async function main() {
		setupChrome();
		try {
			const page = pages[document.body.dataset.page];
			if (page)
				await page();
			const f = byId("footer");
			if (f)
				f.textContent = "Read " + new Date().toISOString().slice(0, 19).replace("T", " ") + " UTC";
			document.body.dataset.ready = "1";
		} catch (e) {
			const box = byId("error");
			box.hidden = false;
			box.textContent = (e.status === 503 ? "Database not available: " : "Error: ") + e.message;
			document.body.dataset.error = e.message;
		}
	}

	main();
})();
