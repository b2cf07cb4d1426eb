/* SEARCH, SORT and THREAD commands: the selected folder's messages handed
 * to imap_search / imap_sort. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap/imap_search.h"
#include "imap/imap_session.h"
#include "imap/imap_sort.h"

#include "lib/util.h"

struct msg_src {
	struct imap_session *s;
	char *buf;
	bool header_only;	/* no BODY/TEXT key: the (cached) header is enough */
};

static const char *
src_message(void *ctx, const struct search_msg *m, size_t *len)
{
	struct msg_src *src = ctx;
	const char *err;
	free(src->buf);
	src->buf = NULL;
	long mi = imap_msg_index(src->s, m->seq);
	if (mi < 0)
		return NULL;
	src->buf = src->header_only ? mailbox_read_header(src->s->mb, (size_t)mi, len, &err) :
	    mailbox_read(src->s->mb, (size_t)mi, len, &err);
	return src->buf;
}

static bool
src_has_keyword(void *ctx, const struct search_msg *m, const char *kw)
{
	struct msg_src *src = ctx;
	long mi = imap_msg_index(src->s, m->seq);
	if (mi < 0)
		return false;
	const struct mailbox *mb = src->s->mb;
	for (int k = 0; k < 26; k++)
		if (mb->kw[k] != NULL && strcasecmp(mb->kw[k], kw) == 0)
			return (mb->m[mi].kw & (1u << k)) != 0;
	return false;
}

/* The view's messages as search_msg (those still in the folder). */
static struct search_msg *
view_msgs(struct imap_session *s, size_t *n_r)
{
	struct search_msg *v = xcalloc(s->n ? s->n : 1, sizeof(*v));
	size_t n = 0;
	for (size_t seq = 1; seq <= s->n; seq++) {
		long mi = imap_msg_index(s, seq);
		if (mi < 0)
			continue;
		struct mbx_msg *m = &s->mb->m[mi];
		if (m->vsize < 0 || m->idate < 0)
			mailbox_stat(s->mb, (size_t)mi);
		struct search_msg *x = &v[n++];
		x->seq = (uint32_t)seq;
		x->uid = m->uid;
		x->flags = m->flags | (s->recent[seq - 1] ? MF_RECENT : 0);
		x->modseq = m->modseq;
		x->size = m->vsize < 0 ? 0 : (uint64_t)m->vsize;
		x->internal = m->idate < 0 ? 0 : m->idate;
		x->internal_tz = 0;
	}
	*n_r = n;
	return v;
}

/* Parse and bind a search program; NULL with the reply sent. */
static struct search_prog *
program(struct imap_session *s, const struct imap_cmd *cmd, const struct imap_arg *args,
    size_t nargs, unsigned flags)
{
	struct search_prog *p;
	const char *err;
	int r = imap_search_parse(args, nargs, flags, &p, &err);
	if (r == SEARCH_BADCHARSET) {
		imap_tagged(s, cmd->tag, "NO [BADCHARSET (UTF-8 US-ASCII)] %s", err);
		return NULL;
	}
	if (r != SEARCH_OK) {
		imap_tagged(s, cmd->tag, "BAD %s", err);
		return NULL;
	}
	if (imap_search_bind(p, (uint32_t)s->n, s->n ? s->uids[s->n - 1] : 0, &s->saved,
	    &err) != 0) {
		imap_search_free(p);
		imap_tagged(s, cmd->tag, "BAD %s", err);
		return NULL;
	}
	return p;
}

void
imap_cmd_search(struct imap_session *s, const struct imap_cmd *cmd, bool uid)
{
	struct search_prog *p = program(s, cmd, cmd->args, cmd->nargs, 0);
	if (p == NULL)
		return;
	if (imap_search_has_modseq(p))
		s->condstore = true;
	size_t n;
	struct search_msg *v = view_msgs(s, &n);
	struct msg_src src = { .s = s, .header_only = !imap_search_needs_body(p) };
	struct search_ops ops = { .message = src_message, .has_keyword = src_has_keyword,
		.ctx = &src };
	uint32_t *nums = xcalloc(n ? n : 1, sizeof(*nums));
	uint32_t *uids = xcalloc(n ? n : 1, sizeof(*uids));
	uint64_t *ms = xcalloc(n ? n : 1, sizeof(*ms));
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (imap_search_match(p, &v[i], &ops)) {
			nums[k] = uid ? v[i].uid : v[i].seq;
			uids[k] = v[i].uid;
			ms[k++] = v[i].modseq;
		}
	free(src.buf);
	if (imap_search_return(p) & SEARCH_RET_SAVE) {
		seqset_free(&s->saved);
		imap_search_saved(p, uids, k, &s->saved);
	}
	size_t len;
	char *resp = imap_search_response(p, cmd->tag, uid, s->rev2, nums, imap_search_has_modseq(p) ?
	    ms : NULL, k, &len);
	if (resp != NULL)
		imap_write(s, resp, len);
	free(resp);
	free(nums);
	free(uids);
	free(ms);
	free(v);
	imap_search_free(p);
	imap_tagged(s, cmd->tag, "OK Search completed.");
}

/* SORT (RFC 5256): criteria, charset, search keys.
 * THREAD: algorithm, charset, search keys. */
void
imap_cmd_sort(struct imap_session *s, const struct imap_cmd *cmd, bool uid, bool thread)
{
	struct sort_prog sp;
	enum thread_alg alg = THREAD_REFERENCES;
	const char *err;
	if (cmd->nargs < 3) {
		imap_tagged(s, cmd->tag, "BAD Invalid arguments.");
		return;
	}
	if (thread ? imap_thread_parse(&cmd->args[0], &alg, &err) != 0 :
	    cmd->args[0].type != IMAP_ARG_LIST || imap_sort_parse(&cmd->args[0], &sp, &err) != 0) {
		imap_tagged(s, cmd->tag, "BAD %s", thread ? err : cmd->args[0].type != IMAP_ARG_LIST ?
		    SORT_E_CRITERIA : err);
		return;
	}
	struct search_prog *p = program(s, cmd, cmd->args + 1, cmd->nargs - 1,
	    SEARCH_F_CHARSET_FIRST);
	if (p == NULL)
		return;
	size_t n, k = 0;
	struct search_msg *v = view_msgs(s, &n);
	struct msg_src src = { .s = s, .header_only = !imap_search_needs_body(p) };
	struct search_ops ops = { .message = src_message, .has_keyword = src_has_keyword,
		.ctx = &src };
	for (size_t i = 0; i < n; i++)
		if (imap_search_match(p, &v[i], &ops))
			v[k++] = v[i];
	size_t len;
	char *resp;
	if (thread) {
		char *t = imap_thread(alg, v, k, &ops, uid, &len);
		resp = xasprintf("* THREAD %s\r\n", t);
		len = strlen(resp);
		free(t);
	} else {
		imap_sort(&sp, v, k, &ops);
		resp = imap_sort_response(v, k, uid, imap_search_has_modseq(p), &len);
	}
	free(src.buf);
	imap_write(s, resp, len);
	free(resp);
	free(v);
	imap_search_free(p);
	imap_tagged(s, cmd->tag, "OK %s completed.", thread ? "Thread" : "Sort");
}
