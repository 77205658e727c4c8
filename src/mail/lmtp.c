/*
 * lmtp.c: the LMTP listener (see lmtp.h): one accept thread, a thread per
 * connection in a fixed table of LIMIT_LMTP_CONNECTIONS slots, and the real
 * recipient lookup and delivery behind the session's function pointers.
 * The protocol itself is in lmtp_session.c.
 *
 * Must not: speak the protocol here beyond the two replies a session
 * cannot give (too many connections, idle timeout).
 */
#include "mail/lmtp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mail/lmtp_private.h"

/* A client that stops reading holds its thread (and lmtp_server_stop) this long. */
#define LMTP_SEND_TIMEOUT_SECONDS 10
#define LMTP_LISTEN_BACKLOG 64
#define LMTP_READ_CHUNK 16384

struct lmtp_connection {
	struct lmtp_server *server;
	pthread_t thread;
	int fd;    /* -1 once the thread closed it */
	bool used; /* the slot holds a thread not yet joined */
	bool done; /* the thread has finished: join it */
};

struct lmtp_server {
	struct config_live *live; /* each session takes the configuration in force when it begins */
	struct store *store;
	char host_name[256];
	int listen_fd;
	int wake[2]; /* a byte in wake[1] tells the accept thread to end */
	pthread_t accept_thread;
	pthread_mutex_t lock; /* guards slots */
	struct lmtp_connection slots[LIMIT_LMTP_CONNECTIONS];
};

/* ---- the session's functions, with the store behind them ---- */

static int find_recipient(void *context, const char *user)
{
	struct lmtp_server *server = context;
	struct store_session *session = store_session_acquire(server->store);
	if (session == NULL)
		return STORE_LIMIT;
	struct arena *arena = arena_new(1024);
	struct store_user record;
	int status = store_user_find(session, arena, user, &record);
	store_session_release(&session);
	arena_free(&arena);
	return status;
}

static int deliver(void *context, const char *user, const void *message, size_t len, int64_t now)
{
	struct lmtp_server *server = context;
	return mail_deliver(server->store, user, message, len, now);
}

/* The one place LMTP writes its log; stderr until there is a mail log. */
static void log_delivery(void *context, const char *line)
{
	(void)context;
	fprintf(stderr, "lmtp: %s\n", line);
}

/* ---- one connection ---- */

static int send_all(int fd, const void *data, size_t len)
{
	const uint8_t *p = data;
	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int send_replies(int fd, struct lmtp_session *session)
{
	int status = send_all(fd, session->reply.data, session->reply.len);
	session->reply.len = 0;
	return status;
}

/* Feeds what recv gave, sending replies whenever the session pauses. */
static int feed_all(int fd, struct lmtp_session *session, const uint8_t *data, size_t len)
{
	while (len > 0 && !session->closed) {
		size_t used = lmtp_session_feed(session, data, len);
		data += used;
		len -= used;
		if (send_replies(fd, session) < 0)
			return -1;
	}
	return 0;
}

static void set_timeouts(int fd)
{
	struct timeval receive = { .tv_sec = LIMIT_LMTP_IDLE_SECONDS };
	struct timeval send_timeout = { .tv_sec = LMTP_SEND_TIMEOUT_SECONDS };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &receive, sizeof(receive));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &send_timeout, sizeof(send_timeout));
}

static void serve(struct lmtp_server *server, int fd)
{
	struct lmtp_session_settings settings = {
		.config = config_live_get(server->live), .host_name = server->host_name,
		.find_recipient = find_recipient, .deliver = deliver, .log = log_delivery,
		.context = server,
	};
	struct lmtp_session *session = malloc(sizeof(*session));
	if (session == NULL)
		abort();
	lmtp_session_init(session, &settings);
	uint8_t input[LMTP_READ_CHUNK];
	int status = send_replies(fd, session);
	while (status == 0 && !session->closed) {
		ssize_t n = recv(fd, input, sizeof(input), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			static const char idle[] = "421 4.4.2 idle timeout, closing connection\r\n";
			send_all(fd, idle, sizeof(idle) - 1);
			break;
		}
		if (n <= 0)
			break;
		status = feed_all(fd, session, input, (size_t)n);
	}
	lmtp_session_cleanup(session);
	config_live_put(server->live, settings.config);
	free(session);
}

static void *connection_main(void *argument)
{
	struct lmtp_connection *connection = argument;
	struct lmtp_server *server = connection->server;
	set_timeouts(connection->fd);
	serve(server, connection->fd);
	pthread_mutex_lock(&server->lock);
	close(connection->fd);
	connection->fd = -1;
	connection->done = true;
	pthread_mutex_unlock(&server->lock);
	return NULL;
}

/* ---- accepting ---- */

/* Joins finished connection threads. Called with the lock held. */
static void reap_connections(struct lmtp_server *server)
{
	for (size_t i = 0; i < LIMIT_LMTP_CONNECTIONS; i++) {
		struct lmtp_connection *connection = &server->slots[i];
		if (connection->used && connection->done) {
			pthread_join(connection->thread, NULL);
			connection->used = false;
		}
	}
}

static void refuse(int fd)
{
	static const char busy[] = "421 4.3.2 too many connections, try later\r\n";
	send(fd, busy, sizeof(busy) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
	close(fd);
}

static void start_connection(struct lmtp_server *server, int fd)
{
	pthread_mutex_lock(&server->lock);
	reap_connections(server);
	struct lmtp_connection *connection = NULL;
	for (size_t i = 0; i < LIMIT_LMTP_CONNECTIONS && connection == NULL; i++)
		if (!server->slots[i].used)
			connection = &server->slots[i];
	if (connection != NULL) {
		*connection = (struct lmtp_connection){ .server = server, .fd = fd, .used = true };
		if (pthread_create(&connection->thread, NULL, connection_main, connection) != 0) {
			connection->used = false;
			connection = NULL;
		}
	}
	pthread_mutex_unlock(&server->lock);
	if (connection == NULL)
		refuse(fd);
}

static void *accept_main(void *argument)
{
	struct lmtp_server *server = argument;
	for (;;) {
		struct pollfd fds[2] = { { server->listen_fd, POLLIN, 0 }, { server->wake[0], POLLIN, 0 } };
		if (poll(fds, 2, -1) < 0)
			continue; /* EINTR; poll has no other failure worth stopping for */
		if (fds[1].revents != 0)
			return NULL;
		int fd = accept4(server->listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd >= 0) {
			start_connection(server, fd);
		} else if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
			poll(NULL, 0, 100); /* out of descriptors: let connections end first */
		}
	}
}

/* ---- start and stop ---- */

static int listen_socket(const char *listen_text, char *error, size_t error_len)
{
	char host[128];
	uint16_t port;
	struct sockaddr_storage address = { 0 };
	struct sockaddr_in *v4 = (struct sockaddr_in *)&address;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&address;
	socklen_t address_len;
	if (config_split_listen(listen_text, host, sizeof(host), &port) < 0) {
		snprintf(error, error_len, "lmtp listen '%s' is not address:port", listen_text);
		return -1;
	}
	if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		v4->sin_port = htons(port);
		address_len = sizeof(*v4);
	} else if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons(port);
		address_len = sizeof(*v6);
	} else {
		snprintf(error, error_len, "lmtp listen address '%s' is not a numeric IPv4 or IPv6 address", host);
		return -1;
	}
	int fd = socket(address.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	int on = 1;
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) < 0 ||
	    bind(fd, (struct sockaddr *)&address, address_len) < 0 || listen(fd, LMTP_LISTEN_BACKLOG) < 0) {
		snprintf(error, error_len, "cannot listen on %s: %s", listen_text, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

int lmtp_server_start(struct config_live *live, struct store *store, struct lmtp_server **server_out, char *error,
		      size_t error_len)
{
	const struct easd_config *config = config_live_get(live);
	int fd = listen_socket(config->lmtp_listen, error, error_len);
	config_live_put(live, config);
	if (fd < 0)
		return -1;
	struct lmtp_server *server = calloc(1, sizeof(*server));
	if (server == NULL)
		abort();
	server->live = live;
	server->store = store;
	server->listen_fd = fd;
	if (gethostname(server->host_name, sizeof(server->host_name) - 1) < 0 || server->host_name[0] == '\0')
		strcpy(server->host_name, "localhost");
	pthread_mutex_init(&server->lock, NULL);
	int status = pipe2(server->wake, O_CLOEXEC) < 0 ? errno : 0;
	if (status == 0) {
		status = pthread_create(&server->accept_thread, NULL, accept_main, server);
		if (status != 0) {
			close(server->wake[0]);
			close(server->wake[1]);
		}
	}
	if (status != 0) {
		snprintf(error, error_len, "cannot start the LMTP thread: %s", strerror(status));
		pthread_mutex_destroy(&server->lock);
		close(fd);
		free(server);
		return -1;
	}
	*server_out = server;
	return 0;
}

/*
 * Only the read side of each connection is shut down: a thread waiting for
 * input wakes at once, while one inside mail_deliver still sends its 250
 * replies; cutting those off would make the MTA deliver the message again.
 */
void lmtp_server_stop(struct lmtp_server **server_ptr)
{
	struct lmtp_server *server = *server_ptr;
	if (server == NULL)
		return;
	while (write(server->wake[1], "x", 1) < 0 && errno == EINTR)
		;
	pthread_join(server->accept_thread, NULL);
	close(server->listen_fd);
	pthread_mutex_lock(&server->lock);
	for (size_t i = 0; i < LIMIT_LMTP_CONNECTIONS; i++)
		if (server->slots[i].used && server->slots[i].fd >= 0)
			shutdown(server->slots[i].fd, SHUT_RD);
	pthread_mutex_unlock(&server->lock);
	/* The accept thread is gone, so only this thread changes the slots now. */
	for (size_t i = 0; i < LIMIT_LMTP_CONNECTIONS; i++)
		if (server->slots[i].used)
			pthread_join(server->slots[i].thread, NULL);
	close(server->wake[0]);
	close(server->wake[1]);
	pthread_mutex_destroy(&server->lock);
	free(server);
	*server_ptr = NULL;
}
