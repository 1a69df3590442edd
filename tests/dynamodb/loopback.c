#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "loopback.h"

#define MAX_CONNS 64

struct lb_server {
	int fd, port;
	lb_handler h;
	void *ud;
	pthread_t accept_thread;
	pthread_mutex_t mu;
	int stopping, count;
	int conns[MAX_CONNS];
	pthread_t threads[MAX_CONNS];
	int nconns;
};

struct conn_arg {
	lb_server *s;
	int fd;
};

int lb_header(const lb_req *req, const char *name, char *out, size_t cap)
{
	size_t n = strlen(name);
	const char *p = req->headers;

	while (*p) {
		const char *eol = strstr(p, "\r\n");
		size_t len = eol ? (size_t)(eol - p) : strlen(p);

		if (len > n && strncasecmp(p, name, n) == 0 && p[n] == ':') {
			const char *v = p + n + 1;
			size_t vl = len - n - 1;

			while (vl && (*v == ' ' || *v == '\t')) {
				v++;
				vl--;
			}
			if (vl >= cap)
				vl = cap - 1;
			memcpy(out, v, vl);
			out[vl] = '\0';
			return 1;
		}
		p += len;
		if (eol)
			p += 2;
	}
	return 0;
}

void lb_body(lb_resp *r, int status, const char *body)
{
	r->status = status;
	free(r->body);
	r->body_len = strlen(body);
	r->body = malloc(r->body_len + 1);
	if (r->body)
		memcpy(r->body, body, r->body_len + 1);
	else
		r->body_len = 0;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Grow the buffer to hold @p want bytes, then read what is there. */
static int recv_more(int fd, char **buf, size_t *len, size_t *cap,
		     size_t want)
{
	ssize_t r;

	if (want + 1 > *cap) {
		*cap = want + 8192;
		*buf = realloc(*buf, *cap);
		if (!*buf)
			return -1;
	}
	do
		r = recv(fd, *buf + *len, *cap - *len - 1, 0);
	while (r < 0 && errno == EINTR);
	if (r <= 0)
		return -1;
	*len += (size_t)r;
	(*buf)[*len] = '\0';
	return 0;
}

/* Read one request; 0 on success, -1 on EOF or error. */
static int read_req(int fd, char **buf, size_t *len, size_t *cap, lb_req *rq)
{
	char *end;
	size_t hlen, clen = 0, need;
	char tmp[32];

	for (;;) {
		if (*len && (end = strstr(*buf, "\r\n\r\n")) != NULL)
			break;
		if (recv_more(fd, buf, len, cap, *len + 4096) != 0)
			return -1;
	}
	hlen = (size_t)(end - *buf) + 4;
	memset(rq, 0, sizeof(*rq));
	{
		const char *eol = strstr(*buf, "\r\n");
		const char *hdrs = eol + 2;
		size_t hl = hlen - (size_t)(hdrs - *buf) - 2;

		if (sscanf(*buf, "%15s %1023s", rq->method, rq->path) != 2)
			return -1;
		if (hl >= sizeof(rq->headers))
			hl = sizeof(rq->headers) - 1;
		memcpy(rq->headers, hdrs, hl);
		rq->headers[hl] = '\0';
	}
	if (lb_header(rq, "Content-Length", tmp, sizeof(tmp)))
		clen = (size_t)strtoull(tmp, NULL, 10);
	need = hlen + clen;
	while (*len < need) {
		if (recv_more(fd, buf, len, cap, need) != 0)
			return -1;
	}
	rq->body = malloc(clen + 1);
	if (!rq->body)
		return -1;
	memcpy(rq->body, *buf + hlen, clen);
	rq->body[clen] = '\0';
	rq->body_len = clen;
	memmove(*buf, *buf + need, *len - need);
	*len -= need;
	(*buf)[*len] = '\0';
	return 0;
}

static void *conn_main(void *p)
{
	struct conn_arg a = *(struct conn_arg *)p;
	char *buf = NULL;
	size_t len = 0, cap = 0;
	lb_req rq;

	free(p);
	while (read_req(a.fd, &buf, &len, &cap, &rq) == 0) {
		lb_resp rs;
		char head[2048];
		int n;

		memset(&rs, 0, sizeof(rs));
		rs.status = 404;
		pthread_mutex_lock(&a.s->mu);
		a.s->count++;
		a.s->h(&rq, &rs, a.s->ud);
		pthread_mutex_unlock(&a.s->mu);
		free(rq.body);
		if (rs.status == 0) {
			free(rs.body);
			break;
		}
		n = snprintf(head, sizeof(head),
			     "HTTP/1.1 %d X\r\nContent-Length: %zu\r\n%s\r\n",
			     rs.status, rs.body_len, rs.headers);
		if (write_all(a.fd, head, (size_t)n) != 0 ||
		    write_all(a.fd, rs.body ? rs.body : "", rs.body_len)) {
			free(rs.body);
			break;
		}
		free(rs.body);
	}
	free(buf);
	shutdown(a.fd, SHUT_RDWR);
	return NULL;
}

static void *accept_main(void *p)
{
	lb_server *s = p;

	for (;;) {
		int fd = accept(s->fd, NULL, NULL), one = 1;
		struct conn_arg *a;

		if (fd < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		/* Head and body go in two sends: without this, Nagle and
		 * the peer's delayed ACK hold the body for 40 ms. */
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		pthread_mutex_lock(&s->mu);
		if (s->stopping || s->nconns == MAX_CONNS) {
			pthread_mutex_unlock(&s->mu);
			close(fd);
			if (s->stopping)
				break;
			continue;
		}
		a = malloc(sizeof(*a));
		a->s = s;
		a->fd = fd;
		s->conns[s->nconns] = fd;
		if (pthread_create(&s->threads[s->nconns], NULL, conn_main,
				   a) != 0) {
			free(a);
			close(fd);
		} else {
			s->nconns++;
		}
		pthread_mutex_unlock(&s->mu);
	}
	return NULL;
}

int lb_start(lb_server **out, lb_handler h, void *ud)
{
	lb_server *s = calloc(1, sizeof(*s));
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);

	*out = NULL;
	if (!s)
		return -1;
	s->h = h;
	s->ud = ud;
	pthread_mutex_init(&s->mu, NULL);
	s->fd = socket(AF_INET, SOCK_STREAM, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = 0;
	if (s->fd < 0 || bind(s->fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    listen(s->fd, 16) ||
	    getsockname(s->fd, (struct sockaddr *)&sa, &sl)) {
		if (s->fd >= 0)
			close(s->fd);
		free(s);
		return -1;
	}
	s->port = ntohs(sa.sin_port);
	if (pthread_create(&s->accept_thread, NULL, accept_main, s) != 0) {
		close(s->fd);
		free(s);
		return -1;
	}
	*out = s;
	return 0;
}

int lb_port(const lb_server *s)
{
	return s->port;
}

int lb_count(lb_server *s)
{
	int n;

	pthread_mutex_lock(&s->mu);
	n = s->count;
	pthread_mutex_unlock(&s->mu);
	return n;
}

int lb_connections(lb_server *s)
{
	int n;

	pthread_mutex_lock(&s->mu);
	n = s->nconns;
	pthread_mutex_unlock(&s->mu);
	return n;
}

void lb_stop(lb_server *s)
{
	int i;

	if (!s)
		return;
	pthread_mutex_lock(&s->mu);
	s->stopping = 1;
	for (i = 0; i < s->nconns; i++)
		shutdown(s->conns[i], SHUT_RDWR);
	pthread_mutex_unlock(&s->mu);
	shutdown(s->fd, SHUT_RDWR);
	pthread_join(s->accept_thread, NULL);
	for (i = 0; i < s->nconns; i++) {
		pthread_join(s->threads[i], NULL);
		close(s->conns[i]);
	}
	close(s->fd);
	pthread_mutex_destroy(&s->mu);
	free(s);
}
