/* quota.c - the usage of a recipient's mailbox for quota checks,
 * measured at most once per session for each of up to SMTP_USAGE_CACHE
 * mailboxes (lib/maildir.h maildir_usage: a listing and names, never a
 * message read) and kept current with the session's own deliveries, so
 * that RCPT after RCPT costs no disk reads. Deliveries by other sessions
 * meanwhile are not seen: a quota is enforced to within what one session
 * delivers. */
#include <errno.h>
#include <string.h>

#include "log.h"
#include "smtp.h"
#include "util.h"

static struct smtp_usage *
find(struct session *s, const char *maildir)
{
	unsigned i;

	for (i = 0; i < s->nusage; i++)
		if (!strcmp(s->usage[i].maildir, maildir))
			return &s->usage[i];
	return NULL;
}

int
quota_usage(struct session *s, const char *maildir, uint64_t *bytes_r)
{
	struct smtp_usage *u = find(s, maildir);
	uint64_t bytes = 0, count = 0;

	if (u) {
		*bytes_r = u->bytes;
		return 0;
	}
	if (maildir_usage(maildir, &bytes, &count) < 0 && errno != ENOENT)
		return -1;
	if (strlen(maildir) < sizeof u->maildir) {
		/* full: the oldest entry goes (round robin) */
		if (s->nusage < SMTP_USAGE_CACHE)
			u = &s->usage[s->nusage++];
		else
			u = &s->usage[s->usage_next++ % SMTP_USAGE_CACHE];
		copy_str(u->maildir, sizeof u->maildir, maildir);
		u->bytes = bytes;
	}
	*bytes_r = bytes;
	return 0;
}

void
quota_add(struct session *s, const char *maildir, uint64_t bytes)
{
	struct smtp_usage *u = find(s, maildir);

	if (u)
		u->bytes += bytes;
}
