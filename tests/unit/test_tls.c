/* test_tls: self-signed certificate generation, server context, and a real
 * handshake against it over a socketpair. */
#include <pthread.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/ssl.h>

#include "tu.h"
#include "lib/tls.h"
#include "lib/util.h"

struct server_arg {
	SSL_CTX *ctx;
	int fd;
	int ok;
	char got[16];
};

static void *
server_side(void *p)
{
	struct server_arg *a = p;
	SSL *s = SSL_new(a->ctx);
	SSL_set_fd(s, a->fd);
	if (SSL_accept(s) == 1) {
		int n = SSL_read(s, a->got, sizeof(a->got) - 1);
		if (n > 0) {
			a->got[n] = '\0';
			a->ok = SSL_write(s, "pong", 4) == 4;
		}
	}
	SSL_shutdown(s);
	SSL_free(s);
	return NULL;
}

static void
test_selfsigned_handshake(void **state)
{
	(void)state;
	char *dir = tu_tmpdir();
	char *cert = xasprintf("%s/cert.pem", dir), *key = xasprintf("%s/key.pem", dir);
	char *err = NULL, cn[256];
	struct stat st;
	time_t exp;

	assert_int_equal(tls_make_selfsigned(cert, key, "aoki.lala.local", &err), 0);
	assert_int_equal(stat(key, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(tls_cert_info(cert, cn, sizeof(cn), &exp, &err), 0);
	assert_string_equal(cn, "aoki.lala.local");
	assert_true(exp > time(NULL) + 9L * 365 * 86400);

	struct tls_ctx *ctx = tls_server_new(cert, key, &err);
	if (ctx == NULL)
		fail_msg("tls_server_new: %s", err);
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	struct server_arg a = { .ctx = tls_ctx_ssl(ctx), .fd = sv[0] };
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, server_side, &a), 0);

	SSL_CTX *cc = SSL_CTX_new(TLS_client_method());
	assert_non_null(cc);
	/* The client trusts exactly this certificate and checks the name. */
	assert_int_equal(SSL_CTX_load_verify_locations(cc, cert, NULL), 1);
	SSL_CTX_set_verify(cc, SSL_VERIFY_PEER, NULL);
	SSL *c = SSL_new(cc);
	SSL_set_fd(c, sv[1]);
	SSL_set1_host(c, "aoki.lala.local");
	assert_int_equal(SSL_connect(c), 1);
	assert_true(SSL_version(c) >= TLS1_2_VERSION);
	assert_int_equal(SSL_write(c, "ping", 4), 4);
	char buf[8] = "";
	assert_int_equal(SSL_read(c, buf, 4), 4);
	assert_memory_equal(buf, "pong", 4);
	pthread_join(t, NULL);
	assert_true(a.ok);
	assert_string_equal(a.got, "ping");
	SSL_shutdown(c);
	SSL_free(c);
	SSL_CTX_free(cc);
	close(sv[0]);
	close(sv[1]);
	tls_ctx_free(&ctx);
	assert_null(ctx);
	tu_rmtree(dir);
	free(cert);
	free(key);
	free(dir);
}

static void
test_old_protocols_refused(void **state)
{
	(void)state;
	char *dir = tu_tmpdir();
	char *cert = xasprintf("%s/c.pem", dir), *key = xasprintf("%s/k.pem", dir);
	char *err = NULL;
	assert_int_equal(tls_make_selfsigned(cert, key, "mx.example", &err), 0);
	struct tls_ctx *ctx = tls_server_new(cert, key, &err);
	assert_non_null(ctx);
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	struct server_arg a = { .ctx = tls_ctx_ssl(ctx), .fd = sv[0] };
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, server_side, &a), 0);
	SSL_CTX *cc = SSL_CTX_new(TLS_client_method());
	SSL_CTX_set_min_proto_version(cc, TLS1_VERSION);
	SSL_CTX_set_max_proto_version(cc, TLS1_1_VERSION);
	SSL_CTX_set_security_level(cc, 0);
	SSL *c = SSL_new(cc);
	SSL_set_fd(c, sv[1]);
	assert_int_not_equal(SSL_connect(c), 1);	/* TLS 1.0/1.1: no */
	SSL_free(c);
	SSL_CTX_free(cc);
	shutdown(sv[1], SHUT_RDWR);
	pthread_join(t, NULL);
	assert_false(a.ok);
	close(sv[0]);
	close(sv[1]);
	tls_ctx_free(&ctx);
	tu_rmtree(dir);
	free(cert);
	free(key);
	free(dir);
}

static void
test_errors(void **state)
{
	(void)state;
	char *dir = tu_tmpdir();
	char *cert = xasprintf("%s/c.pem", dir), *key = xasprintf("%s/k.pem", dir);
	char *key2 = xasprintf("%s/k2.pem", dir), *cert2 = xasprintf("%s/c2.pem", dir);
	char *err = NULL, cn[64];
	time_t exp;

	assert_null(tls_server_new(cert, key, &err));	/* missing files */
	assert_non_null(strstr(err, cert));
	free(err);
	assert_int_equal(tls_make_selfsigned(cert, key, "a b/c", &err), -1);
	free(err);
	assert_int_equal(tls_make_selfsigned(cert, key, "one.example", &err), 0);
	assert_int_equal(tls_make_selfsigned(cert2, key2, "two.example", &err), 0);
	assert_null(tls_server_new(cert, key2, &err));	/* key of another certificate */
	assert_non_null(strstr(err, "does not match"));
	free(err);
	assert_int_equal(tls_cert_info(key, cn, sizeof(cn), &exp, &err), -1);
	free(err);
	tu_rmtree(dir);
	free(cert);
	free(key);
	free(cert2);
	free(key2);
	free(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_selfsigned_handshake),
		cmocka_unit_test(test_old_protocols_refused),
		cmocka_unit_test(test_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
