/* test_tlsconf: certificates chosen per listener and per SNI name, passed as
 * open files over a socketpair (root -> worker) and built on the other side;
 * real handshakes check which certificate a client gets. */
#include <pthread.h>
#include <sys/socket.h>

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "tu.h"
#include "conf/conf.h"
#include "daemon/tlsconf.h"
#include "lib/tls.h"
#include "lib/util.h"

struct srv {
	SSL_CTX *ctx;
	int fd;
};

static void *
srv_main(void *p)
{
	struct srv *a = p;
	SSL *s = SSL_new(a->ctx);
	SSL_set_fd(s, a->fd);
	if (SSL_accept(s) == 1)
		SSL_shutdown(s);
	SSL_free(s);
	return NULL;
}

/* The CN of the certificate ctx serves to a client asking for sni. */
static void
served_cn(SSL_CTX *ctx, const char *sni, char *cn, size_t cnsz)
{
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	struct srv a = { ctx, sv[0] };
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, srv_main, &a), 0);
	SSL_CTX *cc = SSL_CTX_new(TLS_client_method());
	SSL *c = SSL_new(cc);
	SSL_set_fd(c, sv[1]);
	if (sni != NULL)
		SSL_set_tlsext_host_name(c, sni);
	assert_int_equal(SSL_connect(c), 1);
	X509 *x = SSL_get1_peer_certificate(c);
	assert_non_null(x);
	cn[0] = '\0';
	X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn, (int)cnsz);
	X509_free(x);
	SSL_shutdown(c);
	SSL_free(c);
	SSL_CTX_free(cc);
	pthread_join(t, NULL);
	close(sv[0]);
	close(sv[1]);
}

struct lab {
	char *dir;
	struct conf c;
};

static void
lab_setup(struct lab *l, bool with_sni)
{
	char *err = NULL;
	l->dir = tu_tmpdir();
	static const char *const names[] = { "default.example", "listener.example", "sni.example" };
	for (int i = 0; i < 3; i++) {
		char *cp = xasprintf("%s/%d.pem", l->dir, i), *kp = xasprintf("%s/%d.key", l->dir, i);
		assert_int_equal(tls_make_selfsigned(cp, kp, names[i], &err), 0);
		free(cp);
		free(kp);
	}
	char *text = xasprintf("spool %s\ntls_cert %s/0.pem\ntls_key %s/0.key\n"
	    "listen smtp 127.0.0.1:25\nlisten submissions 127.0.0.1:465 cert=%s/1.pem key=%s/1.key\n"
	    "%s%s%s%s%s", l->dir, l->dir, l->dir, l->dir, l->dir,
	    with_sni ? "tls_sni *.sni.example " : "", with_sni ? l->dir : "",
	    with_sni ? "/2.pem " : "", with_sni ? l->dir : "", with_sni ? "/2.key\n" : "");
	memset(&l->c, 0, sizeof(l->c));
	if (conf_parse(text, strlen(text), "/t.conf", &l->c, &err) < 0)
		fail_msg("conf: %s", err);
	conf_defaults(&l->c);
	free(text);
}

static void
lab_free(struct lab *l)
{
	conf_free(&l->c);
	tu_rmtree(l->dir);
	free(l->dir);
}

static void
check_set(struct tls_set *t)
{
	char cn[128];
	served_cn(tls_set_ctx(t, 0), NULL, cn, sizeof(cn));
	assert_string_equal(cn, "default.example");
	served_cn(tls_set_ctx(t, 0), "mx.sni.example", cn, sizeof(cn));
	assert_string_equal(cn, "sni.example");
	served_cn(tls_set_ctx(t, 0), "sni.example", cn, sizeof(cn));	/* "*." needs a label */
	assert_string_equal(cn, "default.example");
	served_cn(tls_set_ctx(t, 1), NULL, cn, sizeof(cn));
	assert_string_equal(cn, "listener.example");
	served_cn(tls_set_ctx(t, 1), "a.SNI.example", cn, sizeof(cn));
	assert_string_equal(cn, "sni.example");
	assert_ptr_equal(tls_set_ctx(t, 7), tls_set_ctx(t, 0));	/* unknown: the default */
}

static void
test_load_direct(void **state)
{
	(void)state;
	struct lab l;
	char *err = NULL;
	lab_setup(&l, true);
	struct tls_set *t = tlsconf_load(&l.c, 2, &err);
	if (t == NULL)
		fail_msg("tlsconf_load: %s", err);
	check_set(t);
	tls_set_free(&t);
	assert_null(t);
	lab_free(&l);
}

static void
test_send_receive(void **state)
{
	(void)state;
	struct lab l;
	char *err = NULL;
	int sp[2];
	lab_setup(&l, true);
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sp), 0);
	struct tlsconf_rx *rx = tlsconf_rx_new(2);
	struct tls_set *t = NULL;
	assert_int_equal(tlsconf_rx_read(rx, sp[1], &t, &err), 0);	/* nothing yet */
	if (tlsconf_send(sp[0], &l.c, 2, &err) < 0)
		fail_msg("send: %s", err);
	assert_int_equal(tlsconf_rx_read(rx, sp[1], &t, &err), 1);
	check_set(t);
	tls_set_free(&t);

	/* A second round (SIGHUP) after the default certificate was replaced. */
	char *cp = xasprintf("%s/0.pem", l.dir), *kp = xasprintf("%s/0.key", l.dir);
	assert_int_equal(tls_make_selfsigned(cp, kp, "renewed.example", &err), 0);
	assert_int_equal(tlsconf_send(sp[0], &l.c, 2, &err), 0);
	assert_int_equal(tlsconf_rx_read(rx, sp[1], &t, &err), 1);
	char cn[128];
	served_cn(tls_set_ctx(t, 0), NULL, cn, sizeof(cn));
	assert_string_equal(cn, "renewed.example");
	tls_set_free(&t);

	/* A missing key: nothing is sent, the worker keeps what it has. */
	unlink(kp);
	assert_int_equal(tlsconf_send(sp[0], &l.c, 2, &err), -1);
	assert_non_null(strstr(err, "0.key"));
	free(err);
	assert_int_equal(tlsconf_rx_read(rx, sp[1], &t, &err), 0);

	/* Garbage on the socket is refused. */
	assert_int_equal(write(sp[0], "hello", 5), 5);
	assert_int_equal(tlsconf_rx_read(rx, sp[1], &t, &err), -1);
	free(err);
	tlsconf_rx_free(&rx);
	free(cp);
	free(kp);
	close(sp[0]);
	close(sp[1]);
	lab_free(&l);
}

static void
test_no_tls(void **state)
{
	(void)state;
	struct conf c;
	char *err = NULL;
	const char *text = "smtpd_tls_security_level none\nlisten smtp 127.0.0.1:25\n";
	memset(&c, 0, sizeof(c));
	assert_int_equal(conf_parse(text, strlen(text), "/t.conf", &c, &err), 0);
	conf_defaults(&c);
	struct tls_set *t = tlsconf_load(&c, 1, &err);
	assert_non_null(t);
	assert_null(tls_set_ctx(t, 0));
	tls_set_free(&t);
	conf_free(&c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_load_direct),
		cmocka_unit_test(test_send_receive),
		cmocka_unit_test(test_no_tls),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
