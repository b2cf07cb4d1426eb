/* test_bgsync: flushes requested from the loop finish on the loop, in
 * order, an error is reported, and freeing with requests in flight
 * answers them all. */
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "tu.h"
#include "lib/bgsync.h"

struct cb {
	int calls, err;
	unsigned order, *next;
};

static void
done(void *arg, int err)
{
	struct cb *c = arg;
	c->calls++;
	c->err = err;
	c->order = (*c->next)++;
}

static void
run_until(struct event_base *eb, struct cb *c, int n)
{
	for (int i = 0; i < 2000; i++) {
		int calls = 0;
		for (int k = 0; k < n; k++)
			calls += c[k].calls;
		if (calls >= n)
			return;
		event_base_loop(eb, EVLOOP_ONCE);
	}
	fail_msg("callbacks did not come");
}

static void
test_many_error_free(void **state)
{
	(void)state;
	char *dir = tu_tmpdir();
	struct event_base *eb = event_base_new();
	struct bgsync *b = bgsync_new(eb);
	unsigned next = 0;
	struct cb c[20] = { { 0 } };
	for (int i = 0; i < 20; i++) {
		c[i].next = &next;
		int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		assert_true(fd >= 0);
		assert_int_equal(bgsync_start(b, fd, done, &c[i]), 0);
		/* never from inside bgsync_start */
		assert_int_equal(c[i].calls, 0);
	}
	run_until(eb, c, 20);
	for (int i = 0; i < 20; i++) {
		assert_int_equal(c[i].calls, 1);
		assert_int_equal(c[i].err, 0);
		assert_int_equal(c[i].order, (unsigned)i);	/* in request order */
	}

	/* a descriptor that cannot be flushed: an error, not a hang */
	struct cb e = { .next = &next };
	assert_int_equal(bgsync_start(b, 1000000, done, &e), 0);
	run_until(eb, &e, 1);
	assert_int_equal(e.err, EBADF);

	/* freed with requests in flight: they are answered first */
	struct cb z = { .next = &next };
	assert_int_equal(bgsync_start(b, open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), done, &z), 0);
	bgsync_free(&b);
	assert_null(b);
	assert_int_equal(z.calls, 1);
	assert_int_equal(z.err, 0);
	event_base_free(eb);
	tu_rmtree(dir);
	free(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_many_error_free),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
