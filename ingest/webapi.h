/*
 * NAME
 *	webapi - the dashboard's JSON API (/api/...)
 * SYNOPSIS
 *	return webapi_handle(q, connection, "/status");
 * DESCRIPTION
 *	path is the URL after "/api". The endpoints, their filters and
 *	error answers are listed in web.h; the rows are those of query.h,
 *	so tlsrptctl --format json prints the same objects. Answers are
 *	compact JSON, Cache-Control: no-store.
 */
#ifndef TLSRPTD_WEBAPI_H
#define TLSRPTD_WEBAPI_H

#include <microhttpd.h>

#include "query.h"

enum MHD_Result webapi_handle(struct query *q, struct MHD_Connection *c,
    const char *path);

#endif
