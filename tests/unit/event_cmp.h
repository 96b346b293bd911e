/*
 * NAME
 *	event_cmp - field-by-field comparison of two parsed events
 * SYNOPSIS
 *	#include "event_cmp.h"
 *	why = event_cmp(a, b, flags);	NULL when equal
 * DESCRIPTION
 *	Shared by the unit suites (event_util.h) and the datagram fuzzer,
 *	which cannot include check.h. Returns the name of the first field
 *	where a and b differ. flags relax two fields for a re-parsed
 *	re-encoding b of a:
 *	EVCMP_DPV_DEFAULT	an empty dpv in a equals "1" in b (the encoder
 *				writes the default version)
 *	EVCMP_T_IS_COUNT	b's t must be its number of failure-details
 *				(the encoder writes the count, not a's t)
 */
#ifndef TLSRPTD_EVENT_CMP_H
#define TLSRPTD_EVENT_CMP_H

#include <stdint.h>
#include <string.h>

#include "event.h"

#define EVCMP_DPV_DEFAULT	0x1
#define EVCMP_T_IS_COUNT	0x2

static inline int
ev_str_eq(const struct ev_str *a, const struct ev_str *b)
{
	return a->len == b->len && (a->len == 0 || memcmp(a->p, b->p, a->len) == 0);
}

static inline int
ev_list_eq(const struct ev_str *a, uint32_t na, const struct ev_str *b,
    uint32_t nb)
{
	if (na != nb)
		return 0;
	for (uint32_t i = 0; i < na; i++)
		if (!ev_str_eq(&a[i], &b[i]))
			return 0;
	return 1;
}

static inline int
ev_failure_eq(const struct ev_failure *a, const struct ev_failure *b)
{
	return a->code == b->code && ev_str_eq(&a->sending_ip, &b->sending_ip) &&
	    ev_str_eq(&a->mx_hostname, &b->mx_hostname) &&
	    ev_str_eq(&a->mx_helo, &b->mx_helo) &&
	    ev_str_eq(&a->receiving_ip, &b->receiving_ip) &&
	    ev_str_eq(&a->additional_info, &b->additional_info) &&
	    ev_str_eq(&a->reason, &b->reason);
}

static inline const char *
event_cmp(const struct event *a, const struct event *b, unsigned flags)
{
	static const struct ev_str one = { "1", 1 };
	const struct ev_str *dpv = &a->dpv;

	if ((flags & EVCMP_DPV_DEFAULT) && a->dpv.len == 0)
		dpv = &one;
	if (!ev_str_eq(dpv, &b->dpv))
		return "dpv";
	if (!ev_str_eq(&a->domain, &b->domain))
		return "d";
	if (!ev_str_eq(&a->record, &b->record))
		return "pr";
	if (a->npolicies != b->npolicies)
		return "number of policies";
	for (uint32_t i = 0; i < a->npolicies; i++) {
		const struct ev_policy *p = &a->policies[i], *q = &b->policies[i];

		if (p->type != q->type || p->failed != q->failed)
			return "policy-type or f";
		if ((flags & EVCMP_T_IS_COUNT) ? q->t != (long)q->nfailures :
		    p->t != q->t)
			return "t";
		if (!ev_str_eq(&p->domain, &q->domain))
			return "policy-domain";
		if (!ev_list_eq(p->strings, p->nstrings, q->strings, q->nstrings))
			return "policy-string";
		if (!ev_list_eq(p->mx_hosts, p->nmx_hosts, q->mx_hosts, q->nmx_hosts))
			return "mx-host";
		if (p->nfailures != q->nfailures)
			return "number of failure-details";
		for (uint32_t j = 0; j < p->nfailures; j++)
			if (!ev_failure_eq(&p->failures[j], &q->failures[j]))
				return "failure-details";
	}
	return NULL;
}

#endif
