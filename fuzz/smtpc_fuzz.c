/* smtpc_fuzz.c - lib/smtpc against a hostile or broken server: the
 * input is everything the server sends (greeting, EHLO capabilities,
 * replies to AUTH, MAIL, RCPT, DATA, ETRN, QUIT); what the client
 * writes goes to /dev/null. Codes are 200..599 or SMTPC_ERR, reply text
 * stays bounded, and per-recipient results keep smtpc.h's promise:
 * after 0 every recipient has a reply code, after SMTPC_ERR those not
 * decided have 0 (never a negative placeholder). Also smtpc_parse_cap
 * on each input line. */
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"
#include "smtpc.h"

static struct smtpc c;

static void check_code(int code)
{
	FUZZ_CHECK(code == SMTPC_ERR || (code >= 200 && code <= 599));
	FUZZ_CHECK(strnlen(c.reply, sizeof c.reply) < sizeof c.reply);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char msg[] = "Subject: x\n\n.leading dot\nbody\r\n.\n";
	static const char *const rcpt[3] = {
		"a@example.org", "b@example.org", "c@example.org"
	};
	int codes[3];
	char replies[3][200];
	struct smtpc_txn t;
	const char *err = NULL;
	unsigned caps = 0;
	uint64_t size_max = 0;
	size_t pos = 0, i;
	int in, out, msgfd, r;

	if (size > 65536)
		return 0;
	/* capability lines on their own */
	while (pos < size) {
		static char line[SMTPC_LINE_MAX];
		const uint8_t *nl = memchr(data + pos, '\n', size - pos);
		size_t n = nl ? (size_t)(nl - data - pos) : size - pos;

		if (n < sizeof line) {
			memcpy(line, data + pos, n);
			line[n] = '\0';
			smtpc_parse_cap(line, &caps, &size_max);
		}
		pos += n + 1;
	}

	in = fuzz_memfd(data, size);
	out = open("/dev/null", O_WRONLY | O_CLOEXEC);
	msgfd = fuzz_memfd(msg, sizeof msg - 1);
	FUZZ_CHECK(out >= 0);
	memset(&c, 0, sizeof c);
	smtpc_attach(&c, in, out, 1);
	check_code(smtpc_reply(&c));
	check_code(smtpc_ehlo(&c, "client.example"));
	r = smtpc_auth_plain(&c, "user@example.org", "secret", 1, &err);
	FUZZ_CHECK(r == -1 || (r >= 200 && r <= 599));
	memset(&t, 0, sizeof t);
	t.sender = "sender@example.org";
	t.rcpt = rcpt;
	t.nrcpt = 3;
	t.msgfd = msgfd;
	t.size = sizeof msg - 1;
	t.rcpt_code = codes;
	t.rcpt_reply = replies;
	r = smtpc_send(&c, &t);
	FUZZ_CHECK(r == 0 || r == SMTPC_ERR);
	for (i = 0; i < 3; i++) {
		FUZZ_CHECK(strnlen(replies[i], 200) < 200);
		if (r == 0)
			FUZZ_CHECK(codes[i] >= 200 && codes[i] <= 599);
		else
			FUZZ_CHECK(codes[i] == 0 ||
			    (codes[i] >= 200 && codes[i] <= 599));
	}
	t.sender = "";
	(void)lseek(msgfd, 0, SEEK_SET);
	(void)smtpc_send(&c, &t);
	check_code(smtpc_cmd(&c, "ETRN %s", "example.org"));
	check_code(smtpc_cmd(&c, "ETRN %s", "bad\r\nline"));
	smtpc_quit(&c);
	FUZZ_CHECK(c.fd == -1);
	close(msgfd);
	return 0;
}
