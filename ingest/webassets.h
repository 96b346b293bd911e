/*
 * NAME
 *	webassets - the dashboard's files, compiled into tlsrpt-ingestd
 * SYNOPSIS
 *	for (const struct web_asset *a = web_assets; a->name; a++) ...
 * DESCRIPTION
 *	ingest/web-embed.awk turns ingest/web/<name> into one row each
 *	(build/gen/web_assets.c), so the daemon needs no files at run time
 *	and serves exactly what it was built with. The table ends with a
 *	row whose name is NULL.
 */
#ifndef TLSRPTD_WEBASSETS_H
#define TLSRPTD_WEBASSETS_H

#include <stddef.h>

struct web_asset {
	const char *name;	/* file name, e.g. "app.js" */
	const char *type;	/* Content-Type */
	const char *data;
	size_t size;		/* bytes, without the terminating NUL */
};

extern const struct web_asset web_assets[];

#endif
