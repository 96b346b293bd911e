/*
 * NAME
 *	deliver - send due reports over HTTPS and mail, many at once
 * DESCRIPTION
 *	See deliver.h.
 */
#include <curl/curl.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "cli.h"
#include "day.h"
#include "deliver.h"
#include "log.h"
#include "mail.h"
#include "mem.h"

#define EXCERPT_BYTES 512
#define MAX_MAIL_BYTES (64u * 1024 * 1024)

struct job {
	struct due *d;
	CURL *easy;
	struct curl_slist *headers, *rcpt;
	struct buf msg;		/* mail message */
	size_t msg_off;
	struct buf answer;	/* first bytes of the HTTP answer */
	char errbuf[CURL_ERROR_SIZE];
};

int
deliver_init(void)
{
	return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

void
deliver_cleanup(void)
{
	curl_global_cleanup();
}

static size_t
keep_answer(char *p, size_t size, size_t n, void *arg)
{
	struct job *j = arg;
	size_t len = size * n, room = EXCERPT_BYTES - j->answer.len;

	/* Only the first bytes are kept; the rest is read and dropped. */
	if (room > 0 && buf_append(&j->answer, p, len < room ? len : room) != 0)
		return 0;
	return len;
}

static size_t
read_msg(char *out, size_t size, size_t n, void *arg)
{
	struct job *j = arg;
	size_t len = size * n, left = j->msg.len - j->msg_off;

	if (len > left)
		len = left;
	memcpy(out, j->msg.data + j->msg_off, len);
	j->msg_off += len;
	return len;
}

/* Report range for the mail filename, as the report's date-range says. */
static void
report_range(const struct due *d, int end_inclusive, time_t *begin, time_t *end)
{
	if (day_parse(d->day, begin) != 0)
		*begin = 0;
	*end = *begin + (end_inclusive ? 86399 : 86400);
}

static int
build_mail(struct job *j, const struct deliver_opts *o, char *err, size_t errlen)
{
	struct mail_report m;
	struct buf plain;
	int rc;

	memset(&m, 0, sizeof(m));
	m.from = o->mail_from;
	m.to = j->d->target;
	m.report_domain = j->d->report_domain;
	m.submitter = o->submitter;
	m.report_id = j->d->report_id;
	m.org = o->org;
	report_range(j->d, o->end_inclusive, &m.begin, &m.end);
	m.gz = j->d->gz;
	m.gzlen = j->d->gzlen;
	m.date = time(NULL);
	if (o->dkim == NULL)
		return mail_build(&m, &j->msg, err, errlen);
	buf_init(&plain, MAX_MAIL_BYTES);
	rc = mail_build(&m, &plain, err, errlen);
	if (rc == 0)
		rc = dkim_signer_sign(o->dkim, plain.data, plain.len, &j->msg, err, errlen);
	buf_free(&plain);
	return rc;
}

static void
setup_common(struct job *j, const struct deliver_opts *o)
{
	CURL *e = j->easy;

	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_TIMEOUT, o->timeout_s);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, o->timeout_s < 15 ? o->timeout_s : 15L);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, j->errbuf);
	curl_easy_setopt(e, CURLOPT_PRIVATE, j);
}

static void
setup_https(struct job *j, const struct deliver_opts *o)
{
	CURL *e = j->easy;

	j->headers = curl_slist_append(NULL, "Content-Type: application/tlsrpt+gzip");
	j->headers = curl_slist_append(j->headers, "User-Agent: tlsrptd/" TLSRPTD_VERSION);
	j->headers = curl_slist_append(j->headers, "Expect:");
	curl_easy_setopt(e, CURLOPT_URL, j->d->target);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, j->headers);
	curl_easy_setopt(e, CURLOPT_POST, 1L);
	curl_easy_setopt(e, CURLOPT_POSTFIELDS, (const char *)j->d->gz);
	curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)j->d->gzlen);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, keep_answer);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, j);
	if (*o->https_ca_file)
		curl_easy_setopt(e, CURLOPT_CAINFO, o->https_ca_file);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, o->https_verify ? 1L : 0L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, o->https_verify ? 2L : 0L);
}

static void
setup_smtp(struct job *j, const struct deliver_opts *o)
{
	CURL *e = j->easy;
	char addr[1024];

	snprintf(addr, sizeof(addr), "<%s>", o->mail_from);
	j->rcpt = curl_slist_append(NULL, j->d->target);
	curl_easy_setopt(e, CURLOPT_URL, o->smtp_relay);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
	curl_easy_setopt(e, CURLOPT_MAIL_FROM, addr);
	curl_easy_setopt(e, CURLOPT_MAIL_RCPT, j->rcpt);
	curl_easy_setopt(e, CURLOPT_READFUNCTION, read_msg);
	curl_easy_setopt(e, CURLOPT_READDATA, j);
	curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, (curl_off_t)j->msg.len);
	curl_easy_setopt(e, CURLOPT_USE_SSL, o->smtp_require_tls ?
	    (long)CURLUSESSL_ALL : (long)CURLUSESSL_TRY);
	if (*o->smtp_ca_file)
		curl_easy_setopt(e, CURLOPT_CAINFO, o->smtp_ca_file);
	if (*o->smtp_user) {
		curl_easy_setopt(e, CURLOPT_USERNAME, o->smtp_user);
		curl_easy_setopt(e, CURLOPT_PASSWORD, o->smtp_password);
	}
}

static void
job_free(struct job *j)
{
	if (j->easy)
		curl_easy_cleanup(j->easy);
	curl_slist_free_all(j->headers);
	curl_slist_free_all(j->rcpt);
	buf_free(&j->msg);
	buf_free(&j->answer);
}

/* Printable excerpt of the receiver's answer, for the database. */
static void
excerpt(const struct buf *b, char *out, size_t outlen)
{
	size_t o = 0;

	for (size_t i = 0; i < b->len && o + 1 < outlen; i++) {
		unsigned char c = (unsigned char)b->data[i];
		out[o++] = (c >= 0x20 && c < 0x7F) ? (char)c : ' ';
	}
	out[o] = '\0';
}

static void
settle(struct outbox *ob, struct job *j, int ok, long code, const char *error,
    struct deliver_stats *st)
{
	char ex[EXCERPT_BYTES + 1];
	int final = 0;
	time_t now = time(NULL);

	excerpt(&j->answer, ex, sizeof(ex));
	if (ok) {
		if (outbox_delivered(ob, j->d->id, now, code, ex) != 0) {
			/* outbox already logged the database's reason. */
			st->errors++;
			log_warnx("%s (%s, %s) was delivered to %s but could not "
			    "be recorded; it stays in flight and the next run "
			    "sends it again", j->d->report_id, j->d->report_domain,
			    j->d->day, j->d->uri);
			return;
		}
		st->delivered++;
		log_info("delivered %s (%s, %s) to %s", j->d->report_id,
		    j->d->report_domain, j->d->day, j->d->uri);
		return;
	}
	if (outbox_failed(ob, j->d->id, now, error, code, ex, &final) != 0) {
		st->errors++;
		return;
	}
	if (final) {
		st->failed++;
		log_warnx("giving up on %s to %s after %d attempts: %s",
		    j->d->report_id, j->d->uri, j->d->attempts + 1, error);
	} else {
		st->retrying++;
		log_warnx("%s to %s failed (attempt %d): %s; will retry",
		    j->d->report_id, j->d->uri, j->d->attempts + 1, error);
	}
}

static void
finished(struct outbox *ob, struct job *j, CURLcode res, struct deliver_stats *st)
{
	char error[CURL_ERROR_SIZE + 128];
	long code = 0;
	char *location = NULL;

	curl_easy_getinfo(j->easy, CURLINFO_RESPONSE_CODE, &code);
	if (res != CURLE_OK) {
		snprintf(error, sizeof(error), "%s", *j->errbuf ? j->errbuf :
		    curl_easy_strerror(res));
		settle(ob, j, 0, code, error, st);
		return;
	}
	if (strcmp(j->d->scheme, "https") != 0 || (code >= 200 && code < 300)) {
		settle(ob, j, 1, code, "", st);
		return;
	}
	curl_easy_getinfo(j->easy, CURLINFO_REDIRECT_URL, &location);
	if (code >= 300 && code < 400)
		snprintf(error, sizeof(error), "HTTP %ld redirect to %s, not followed",
		    code, location ? location : "(no Location)");
	else
		snprintf(error, sizeof(error), "HTTP %ld", code);
	settle(ob, j, 0, code, error, st);
}

/* Without a relay: hand the message to sendmail -i -t and wait. */
static void
via_sendmail(struct outbox *ob, struct job *j, const struct deliver_opts *o,
    struct deliver_stats *st)
{
	char error[256];
	int in[2], status;
	pid_t pid;
	size_t off = 0;

	if (pipe(in) != 0) {
		settle(ob, j, 0, 0, "pipe failed", st);
		return;
	}
	if ((pid = fork()) == 0) {
		dup2(in[0], 0);
		close(in[0]);
		close(in[1]);
		execl(o->sendmail_path, "sendmail", "-i", "-t", (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	while (pid > 0 && off < j->msg.len) {
		ssize_t w = write(in[1], j->msg.data + off, j->msg.len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	close(in[1]);
	if (pid < 0 || waitpid(pid, &status, 0) != pid) {
		settle(ob, j, 0, 0, "cannot run sendmail", st);
		return;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && off == j->msg.len) {
		settle(ob, j, 1, 0, "", st);
		return;
	}
	snprintf(error, sizeof(error), "%s exited with %d", o->sendmail_path,
	    WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
	settle(ob, j, 0, 0, error, st);
}

/* Prepares job j for d; 1 started in multi, 0 settled here, -1 skipped. */
static int
start(CURLM *multi, struct outbox *ob, struct job *j, struct due *d,
    const struct deliver_opts *o, struct deliver_stats *st)
{
	char err[256];
	int is_mail = strcmp(d->scheme, "mailto") == 0;

	memset(j, 0, sizeof(*j));
	j->d = d;
	buf_init(&j->msg, MAX_MAIL_BYTES);
	buf_init(&j->answer, EXCERPT_BYTES);
	if (outbox_claim(ob, d->id, time(NULL)) != 0) {
		st->errors++;
		return -1;
	}
	if (is_mail && build_mail(j, o, err, sizeof(err)) != 0) {
		settle(ob, j, 0, 0, err, st);
		return 0;
	}
	if (is_mail && *o->smtp_relay == '\0') {
		via_sendmail(ob, j, o, st);
		return 0;
	}
	if ((j->easy = curl_easy_init()) == NULL) {
		settle(ob, j, 0, 0, "curl_easy_init failed", st);
		return 0;
	}
	setup_common(j, o);
	if (is_mail)
		setup_smtp(j, o);
	else
		setup_https(j, o);
	curl_multi_add_handle(multi, j->easy);
	return 1;
}

int
deliver_batch(struct outbox *ob, const struct deliver_opts *o, struct due *dues,
    size_t n, struct deliver_stats *st)
{
	CURLM *multi = curl_multi_init();
	struct job *jobs = xcalloc(n ? n : 1, sizeof(*jobs));
	size_t next = 0;
	int running = 0, active = 0;

	if (multi == NULL)
		return -1;
	for (;;) {
		while (active < o->concurrency && next < n) {
			if (start(multi, ob, &jobs[next], &dues[next], o, st) == 1)
				active++;
			else
				job_free(&jobs[next]);
			next++;
		}
		if (active == 0)
			break;
		curl_multi_perform(multi, &running);
		CURLMsg *m;
		int left;
		while ((m = curl_multi_info_read(multi, &left)) != NULL) {
			struct job *j;
			if (m->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&j);
			CURLcode res = m->data.result;
			curl_multi_remove_handle(multi, j->easy);
			finished(ob, j, res, st);
			job_free(j);
			active--;
		}
		if (active > 0 && running > 0)
			curl_multi_poll(multi, NULL, 0, 1000, NULL);
	}
	curl_multi_cleanup(multi);
	free(jobs);
	return 0;
}
