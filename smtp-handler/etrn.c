/* etrn.c - ETRN (RFC 1985) for smtp-handler: placeholder until the hold
 * queue flush lands; ETRN is not advertised and always answers 458. */
#include <stdio.h>
#include "etrn.h"

int
etrn_available(const char *users)
{
	(void)users;
	return 0;
}

int
etrn_request(const struct etrn_ctx *c, const char *arg, char *reply,
    size_t size)
{
	(void)c;
	(void)arg;
	snprintf(reply, size, "458 4.3.0 not yet");
	return 458;
}
