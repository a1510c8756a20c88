/* dsnparam.h - the values of RFC 3461 (DSN) SMTP parameters, parsed
 * strictly: xtext (the one decoder and encoder, also used by the queue
 * envelope), RET=, ENVID=, NOTIFY= and ORCPT=. No allocation. */
#ifndef POSTERN_DSNPARAM_H
#define POSTERN_DSNPARAM_H

#include <stddef.h>

/* RFC 3461 NOTIFY= of a recipient (0: not given); the queue envelope keeps
 * them (queue.h). */
#define QUEUE_NOTIFY_SUCCESS 1
#define QUEUE_NOTIFY_FAILURE 2
#define QUEUE_NOTIFY_DELAY   4
#define QUEUE_NOTIFY_NEVER   8
#define QUEUE_ORCPT_MAX      500  /* ORCPT= value as received */
#define QUEUE_ENVID_MAX      100  /* ENVID= value, xtext-decoded */

/* RFC 3461 RET= (0: not given). */
enum queue_ret { QUEUE_RET_NONE, QUEUE_RET_FULL, QUEUE_RET_HDRS };

/* xchar of RFC 3461 4: '!'..'~' except '+' and '='. 1 / 0. */
int dsnparam_xchar(unsigned char c);

/* Decodes xtext in[0..len) into out[size] (NUL-terminated): xchars as
 * themselves, "+HH" (uppercase hex) as that octet. canonical: "+HH" only
 * for an octet that is not an xchar (the form the queue envelope
 * writes); otherwise any "+HH" is taken. A decoded NUL, a lowercase or
 * short "+HH", any other octet, or more than size - 1 decoded octets:
 * -1. The decoded length otherwise. */
long dsnparam_xtext_decode(const char *in, size_t len, int canonical,
    char *out, size_t size);

/* The canonical xtext of s[0..len) into out[size] (NUL-terminated).
 * Its length, or -1 when it does not fit. */
long dsnparam_xtext_encode(const char *s, size_t len, char *out,
    size_t size);

/* RET=: "FULL" or "HDRS" (case-insensitive). 0 / -1. */
int dsnparam_ret(const char *val, size_t len, enum queue_ret *ret_r);

/* A decoded ENVID: 1..QUEUE_ENVID_MAX octets of printable ASCII without
 * blanks. 1 / 0. */
int dsnparam_envid_ok(const char *s, size_t len);

/* ENVID= as on the wire (xtext) into out[QUEUE_ENVID_MAX + 1], decoded
 * and checked with dsnparam_envid_ok. 0 / -1. */
int dsnparam_envid(const char *val, size_t len,
    char out[QUEUE_ENVID_MAX + 1]);

/* NOTIFY=: "NEVER", or a comma list of SUCCESS, FAILURE and DELAY in any
 * order, each at most once (case-insensitive), into QUEUE_NOTIFY_* bits.
 * 0 / -1. */
int dsnparam_notify(const char *val, size_t len, unsigned *bits_r);

/* Valid QUEUE_NOTIFY_* bits: non-zero, NEVER alone. 1 / 0. */
int dsnparam_notify_valid(unsigned bits);

/* The canonical NOTIFY value of bits ("NEVER" or SUCCESS,FAILURE,DELAY in
 * this order) into out[size]. Its length, or -1 (bits invalid, or it does
 * not fit; 30 octets always do). */
long dsnparam_notify_format(unsigned bits, char *out, size_t size);

/* ORCPT=: addr-type ";" xtext, at most QUEUE_ORCPT_MAX octets as on the
 * wire; addr-type letters, digits and '-' (rfc822, utf-8, ...); the
 * xtext must decode to octets without a control character or DEL.
 * 1 / 0. */
int dsnparam_orcpt_ok(const char *val, size_t len);

/* The decoded address of a valid ORCPT value into out[size] and the
 * length of its addr-type into *type_len_r. 0 / -1. */
int dsnparam_orcpt_decode(const char *val, char *out, size_t size,
    size_t *type_len_r);

#endif
