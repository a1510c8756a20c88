/* dsn.h - delivery status notifications (RFC 3464 multipart/report,
 * RFC 3461 fields) for recipients a next hop refused permanently, that
 * expired or waited long in a queue, or (on request) were delivered or
 * relayed: built
 * from a queue envelope and the original message's header, and delivered
 * to the envelope sender: a local user's maildir, a hold domain's queue,
 * or the outbound queue for a remote sender. Never to the null sender
 * (a DSN itself carries the null sender, so DSNs never loop). */
#ifndef POSTERN_DSN_H
#define POSTERN_DSN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "queue.h"

#define DSN_HEADER_MAX 65536   /* bytes of the original header attached */

/* Where the bytes of a DSN go (0 / -1). */
typedef int (*dsn_put_fn)(void *arg, const void *p, size_t n);

/* Writes the whole DSN message (LF line ends, headers From/To/Subject/
 * Date/Message-ID/Auto-Submitted/MIME) for the recipients i of env with
 * failed[i] != 0, their last_reply as the diagnostic. reporting_mta is
 * our name, remote_mta the refusing server ("" when unknown). msgfd is
 * the original message (read with pread from offset 0; -1 = none): its
 * header is attached as text/rfc822-headers. now: unix seconds.
 * 0 / -1 (a put failed). */
int dsn_format(const struct queue_env *env, const unsigned char *failed,
    const char *reporting_mta, const char *remote_mta, int msgfd,
    int64_t now, dsn_put_fn put, void *arg);

/* The RFC 3463 status for a reply ("550 5.1.1 ..." -> "5.1.1"; without
 * an enhanced code: "5.0.0" for 5xx, "4.0.0" for 4xx) into out[16]. */
void dsn_status(const char *reply, char *out, size_t size);

/* Whether addr can take a DSN: a reverse-path as the server accepted
 * it at MAIL (any RFC 5321 mailbox: SRS, VERP, BATV, quoted or UTF-8
 * local parts; not our mailbox-name rule), i.e. "local@domain" split at
 * the last '@' with both parts non-empty, at most ADDR_MAX octets, no
 * control character or DEL, a blank only in a quoted local part (what
 * a queue envelope can hold).
 * 1 / 0. */
int dsn_return_path_ok(const char *addr);

/* Builds and delivers the DSN to env->sender, exactly as received (only
 * a local user is looked up case-insensitively). Returns 0 when it was
 * delivered, or needs no delivery (null sender), or can never be
 * delivered (sender invalid or an unknown local user) - the last two are
 * logged; -1 on a temporary failure (database, disk), logged: the caller
 * should keep the recipients pending and try again later. */
int dsn_send(const char *users, const char *spool, const char *reporting_mta,
    const char *remote_mta, const struct queue_env *env,
    const unsigned char *failed, int msgfd);

/* Notices other than a next hop's refusal (issue 15): the recipients i
 * with failed[i] != 0 of a message that stayed in a queue too long.
 * DSN_EXPIRED: its lifetime ran out and it is removed (Action: failed,
 * Status: 4.4.7, the last reply as Diagnostic-Code); DSN_DELAYED: a
 * warning, still being retried until `until` (Action: delayed, Status
 * from a 4xx last reply or 4.4.7, Will-Retry-Until). DSN_REFUSED is
 * what dsn_format() and dsn_send() write. Same results as they.
 * Success notices (RFC 3461 NOTIFY=SUCCESS), Status: 2.0.0:
 * DSN_DELIVERED (Action: delivered: into a local maildir) and
 * DSN_RELAYED (Action: relayed: to a next hop without DSN).
 *
 * Every notice honours the RFC 3461 fields of env: a recipient is in it
 * only when dsn_wanted() (a notice with none is not sent: 0 returned);
 * RET=FULL attaches the whole original (message/rfc822) to a failure
 * notice (DSN_REFUSED, DSN_EXPIRED); otherwise (RET=HDRS, no RET, and
 * every delay or success notice) only its header (text/rfc822-headers).
 * ENVID= becomes Original-Envelope-Id:, a recipient's ORCPT=
 * Original-Recipient: (xtext decoded). */
enum dsn_kind { DSN_REFUSED, DSN_EXPIRED, DSN_DELAYED, DSN_DELIVERED,
	DSN_RELAYED };
int dsn_format_notice(enum dsn_kind kind, int64_t until,
    const struct queue_env *env, const unsigned char *failed,
    const char *reporting_mta, const char *remote_mta, int msgfd,
    int64_t now, dsn_put_fn put, void *arg);
int dsn_send_notice(enum dsn_kind kind, int64_t until, const char *users,
    const char *spool, const char *reporting_mta, const char *remote_mta,
    const struct queue_env *env, const unsigned char *failed, int msgfd);
/* dsn_send_notice with the original starting at msgoff in msgfd (a
 * maildir copy after its own trace lines). */
int dsn_send_notice_at(enum dsn_kind kind, int64_t until, const char *users,
    const char *spool, const char *reporting_mta, const char *remote_mta,
    const struct queue_env *env, const unsigned char *failed, int msgfd,
    off_t msgoff);

/* Whether recipient r asked for a notice of kind (RFC 3461 NOTIFY=; not
 * given = FAILURE,DELAY): a failure notice needs FAILURE, a delay
 * warning DELAY, a success notice SUCCESS; NEVER none. 1 / 0. */
int dsn_wanted(enum dsn_kind kind, const struct queue_rcpt *r);
/* How many recipients i with which[i] != 0 want a notice of kind. */
size_t dsn_count(enum dsn_kind kind, const struct queue_env *env,
    const unsigned char *which);

#endif
