/* test_fsync_group: concurrent callers all get an answer, and an error is reported. */
#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>

#include "tu.h"
#include "lib/fsync_group.h"

struct arg {
	const char *dir;
	int failures;
};

static void *
worker(void *p)
{
	struct arg *a = p;
	int fd = open(a->dir, O_RDONLY | O_DIRECTORY);
	for (int i = 0; i < 20; i++)
		if (fd < 0 || fsync_group(fd) != 0)
			a->failures++;
	if (fd >= 0)
		close(fd);
	return NULL;
}

static void
test_concurrent(void **state)
{
	(void)state;
	char *dir = tu_tmpdir();
	pthread_t t[8];
	struct arg a[8];
	for (int i = 0; i < 8; i++) {
		a[i] = (struct arg){ dir, 0 };
		assert_int_equal(pthread_create(&t[i], NULL, worker, &a[i]), 0);
	}
	for (int i = 0; i < 8; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(a[i].failures, 0);
	}
	tu_rmtree(dir);
	free(dir);
}

static void
test_bad_fd(void **state)
{
	(void)state;
	assert_int_equal(fsync_group(-1), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_concurrent),
		cmocka_unit_test(test_bad_fd),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
