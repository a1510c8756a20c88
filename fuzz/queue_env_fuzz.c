/* queue_env_fuzz.c - lib/queue envelope text: parsing arbitrary text,
 * and format(parse(x)) is a fixed point (what we write we read back
 * identically; version 1 input comes back as version 2, then fixed),
 * also into output buffers that are too small; decoded addresses never
 * hold a control character (nothing can break a MAIL FROM line). Also
 * queue_id_valid and queue_hold_name on the same bytes. */
#include <string.h>

#include "fuzz.h"
#include "queue.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct queue_env env, env2;
	static char text[QUEUE_ENV_TEXT_MAX], text2[QUEUE_ENV_TEXT_MAX];
	static char small[64], name[600];
	long n, n2;
	size_t i, k;

	if (size > QUEUE_ENV_TEXT_MAX + 16)
		return 0;
	if (size < 300 && !memchr(data, 0, size)) {
		static char id[300];
		memcpy(id, data, size);
		id[size] = '\0';
		if (queue_id_valid(id)) {
			FUZZ_CHECK(size > 0 && size < QUEUE_ID_MAX);
			FUZZ_CHECK(!strchr(id, '/') && id[0] != '.');
		}
		if (queue_hold_name(id, name, sizeof name) == 0) {
			FUZZ_CHECK(strncmp(name, "hold/", 5) == 0);
			FUZZ_CHECK(!strchr(name + 5, '/'));
			FUZZ_CHECK(!strstr(name, ".."));
		}
	}
	if (queue_env_parse((const char *)data, size, &env) < 0) {
		FUZZ_CHECK(env.nrcpt == 0);
		return 0;
	}
	FUZZ_CHECK(env.nrcpt >= 1 && env.nrcpt <= QUEUE_RCPT_MAX);
	FUZZ_CHECK((unsigned)env.body <= QUEUE_BODY_BINARYMIME);
	FUZZ_CHECK(env.smtputf8 == 0 || env.smtputf8 == 1);
	FUZZ_CHECK((unsigned)env.ret <= QUEUE_RET_HDRS);
	FUZZ_CHECK(strnlen(env.envid, sizeof env.envid) <= QUEUE_ENVID_MAX);
	for (k = 0; env.envid[k]; k++)
		FUZZ_CHECK(env.envid[k] > ' ' && env.envid[k] < 0x7f);
	for (k = 0; env.sender[k]; k++)
		FUZZ_CHECK((unsigned char)env.sender[k] >= ' ' &&
		    env.sender[k] != 0x7f);
	FUZZ_CHECK(queue_id_valid(env.id));
	for (i = 0; i < env.nrcpt; i++) {
		FUZZ_CHECK(strnlen(env.rcpt[i].addr, sizeof env.rcpt[i].addr) <
		    sizeof env.rcpt[i].addr);
		for (k = 0; env.rcpt[i].addr[k]; k++)
			FUZZ_CHECK((unsigned char)env.rcpt[i].addr[k] >= ' ' &&
			    env.rcpt[i].addr[k] != 0x7f);
		FUZZ_CHECK(env.rcpt[i].notify <= 7 ||
		    env.rcpt[i].notify == QUEUE_NOTIFY_NEVER);
		FUZZ_CHECK(strnlen(env.rcpt[i].orcpt, sizeof env.rcpt[i].orcpt) <
		    sizeof env.rcpt[i].orcpt);
		FUZZ_CHECK(!strpbrk(env.rcpt[i].orcpt, " \r\n"));
		FUZZ_CHECK(strnlen(env.rcpt[i].last_reply,
		    sizeof env.rcpt[i].last_reply) <
		    sizeof env.rcpt[i].last_reply);
	}
	n = queue_env_format(&env, text, sizeof text);
	FUZZ_CHECK(n > 0 && (size_t)n < sizeof text);
	FUZZ_CHECK(queue_env_parse(text, (size_t)n, &env2) == 0);
	n2 = queue_env_format(&env2, text2, sizeof text2);
	FUZZ_CHECK(n2 == n && memcmp(text, text2, (size_t)n) == 0);
	/* too small: an error, never an overflow */
	FUZZ_CHECK(queue_env_format(&env, small, sizeof small) < 0 ||
	    n < (long)sizeof small);
	FUZZ_CHECK(queue_env_format(&env, text2, (size_t)n) < 0);
	return 0;
}
