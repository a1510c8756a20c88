/* odmr.h - the ATRN seam of smtp-handler (RFC 2645): commands.c hands
 * over "ATRN domain[,domain...]"; odmr.c checks, replies and, on 250,
 * turns the connection around and delivers the held mail. */
#ifndef POSTERN_SMTP_ODMR_H
#define POSTERN_SMTP_ODMR_H

#include "smtp.h"

/* 502 outside --odmr, 530 before AUTH, 501 syntax, 450 a domain the
 * user may not collect, 451 busy, 453 nothing held, else 250 and the
 * turned-around delivery (the session ends afterwards). */
enum reply smtp_atrn(struct session *s, char *args);

#endif
