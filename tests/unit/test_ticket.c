/* ticket: the auth service's login proof for the root parent. */
#include "tu.h"

#include <string.h>
#include <time.h>

#include "auth/ticket.h"

static void
test_roundtrip(void **state)
{
	(void)state;
	char t[TICKET_MAX];
	assert_false(ticket_key_ready());
	assert_false(ticket_make("alice", t, sizeof(t)));	/* no key yet */
	assert_true(ticket_key_init());
	assert_true(ticket_make("alice", t, sizeof(t)));
	assert_true(ticket_check("alice", t));
	assert_false(ticket_check("alicf", t));
	assert_false(ticket_check("alice\n", t));
	assert_false(ticket_check("", t));
	/* any changed character */
	for (size_t i = 0; i < strlen(t); i++) {
		char u[TICKET_MAX];
		strcpy(u, t);
		u[i] = u[i] == 'a' ? 'b' : 'a';
		assert_false(ticket_check("alice", u));
	}
	char shortbuf[8];
	assert_false(ticket_make("alice", shortbuf, sizeof(shortbuf)));
	/* a new key: old tickets are worthless */
	assert_true(ticket_key_init());
	assert_false(ticket_check("alice", t));
}

static void
test_expiry(void **state)
{
	(void)state;
	char t[TICKET_MAX], forged[TICKET_MAX];
	assert_true(ticket_key_init());
	assert_true(ticket_make("bob", t, sizeof(t)));
	const char *dot = strchr(t, '.');
	assert_non_null(dot);
	/* the expiry is inside the MAC: moving it breaks the ticket */
	snprintf(forged, sizeof(forged), "%lld%s", (long long)time(NULL) + 30, dot);
	assert_false(ticket_check("bob", forged));
	snprintf(forged, sizeof(forged), "%lld%s", (long long)time(NULL) - 1, dot);
	assert_false(ticket_check("bob", forged));
	assert_false(ticket_check("bob", "garbage"));
	assert_false(ticket_check("bob", ""));
	assert_false(ticket_check("bob", "99999999999999999999.00"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_expiry),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
