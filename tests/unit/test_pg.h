/*
 * NAME
 *	test_pg - run database tests against PostgreSQL too
 * SYNOPSIS
 *	#include "test_pg.h"
 *
 *	const char *uri = test_pg_uri();	NULL: SQLite only
 *	test_pg_reset(uri);			empty schemas before a test
 * DESCRIPTION
 *	Suites that use lib/db run each database test on SQLite and, when
 *	TLSRPTD_TEST_PG names a server (tests/integration/pg.sh starts a
 *	throwaway one with tests/tools/pg-server.sh and sets it), once more
 *	on PostgreSQL. test_pg_reset() drops the schemas lib/db creates so
 *	that every test starts from an empty database, as with a new
 *	SQLite file.
 */
#ifndef TLSRPTD_TEST_PG_H
#define TLSRPTD_TEST_PG_H

#include <stdlib.h>
#include <check.h>
#include <libpq-fe.h>

static inline const char *
test_pg_uri(void)
{
	const char *uri = getenv("TLSRPTD_TEST_PG");

	return uri && *uri ? uri : NULL;
}

static inline void
test_pg_reset(const char *uri)
{
	PGconn *c = PQconnectdb(uri);
	PGresult *r;

	ck_assert_msg(PQstatus(c) == CONNECTION_OK, "%s", PQerrorMessage(c));
	r = PQexec(c, "SET client_min_messages = warning; "
	    "DROP SCHEMA IF EXISTS tlsrptd_outbound CASCADE; "
	    "DROP SCHEMA IF EXISTS tlsrptd_inbound CASCADE");
	ck_assert_msg(PQresultStatus(r) == PGRES_COMMAND_OK, "%s", PQerrorMessage(c));
	PQclear(r);
	PQfinish(c);
}

#endif
