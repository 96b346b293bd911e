/*
 * test_tmpdir.h - one private temporary directory per test suite
 *
 * Define TMPDIR_SUITE (e.g. "check_store") before including. Register
 * tmpdir_create/tmpdir_remove as an unchecked fixture: they run in the
 * parent process, so the directory goes away even when a forked test
 * fails. The directory is made under $TMPDIR (default /tmp).
 * Needs <errno.h> <ftw.h> <limits.h> <stdio.h> <stdlib.h> <string.h>
 * <check.h>.
 */
#ifndef TLSRPTD_TEST_TMPDIR_H
#define TLSRPTD_TEST_TMPDIR_H

static char tmpdir[PATH_MAX];

static void
tmpdir_create(void)
{
	const char *base = getenv("TMPDIR");

	if (base == NULL || *base == '\0')
		base = "/tmp";
	if ((size_t)snprintf(tmpdir, sizeof(tmpdir), "%s/%s.XXXXXX", base,
	    TMPDIR_SUITE) >= sizeof(tmpdir))
		ck_abort_msg("TMPDIR too long");
	if (mkdtemp(tmpdir) == NULL)
		ck_abort_msg("mkdtemp %s: %s", tmpdir, strerror(errno));
}

static int
tmpdir_remove_entry(const char *path, const struct stat *st, int flag,
    struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void
tmpdir_remove(void)
{
	if (tmpdir[0] != '\0')
		nftw(tmpdir, tmpdir_remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	tmpdir[0] = '\0';
}

#endif
