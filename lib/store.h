/*
 * NAME
 *	store - the schema migrations built into the programs
 * SYNOPSIS
 *	int v = store_schema_version("outbound");
 *	const struct store_migration *m = store_migration_find("pg-outbound", v);
 * DESCRIPTION
 *	The numbered migrations of schema/<set>/ (NNNN-name.sql), embedded at
 *	build time by schema/embed.awk into store_migrations[], so that a
 *	program carries its schema and cannot run against a missing file:
 *	"outbound" and "inbound" for SQLite, "pg-outbound" and "pg-inbound"
 *	for PostgreSQL, with the same version numbers. lib/db applies them
 *	when it opens a database (db_sqlite.c, db_pg.c).
 */
#ifndef TLSRPTD_STORE_H
#define TLSRPTD_STORE_H

struct store_migration {
	const char *set;	/* "outbound", "pg-inbound", ... */
	int version;		/* from the file name, 1.. */
	const char *name;	/* file name, for messages */
	const char *sql;
};

/* Ends with an entry whose set is NULL. */
extern const struct store_migration store_migrations[];

/* The newest version of set; 0 for a set that does not exist. */
int store_schema_version(const char *set);
/* Migration `version` of set, or NULL. */
const struct store_migration *store_migration_find(const char *set, int version);

#endif
