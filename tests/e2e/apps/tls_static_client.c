/* An HTTPS client with OpenSSL linked statically into the executable (as
 * Node.js or Envoy carry their TLS library): spanwire must find SSL_read and
 * SSL_write by symbol in the executable itself. It prints "ready", waits for a
 * line on stdin (so the test can wait until the executable is hooked), sends
 * one GET over HTTP/1.1 and prints the status line.
 * Usage: tls_static_client PORT PATH */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int fail(const char *what)
{
	fprintf(stderr, "tls_static_client: %s\n", what);
	ERR_print_errors_fp(stderr);
	return 1;
}

int main(int argc, char **argv)
{
	if (argc != 3)
		return fail("usage: tls_static_client PORT PATH");
	printf("ready\n");
	fflush(stdout);
	char line[16];
	if (!fgets(line, sizeof(line), stdin))
		return fail("no go line on stdin");

	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((unsigned short)atoi(argv[1]))};
	inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
	if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0)
		return fail("connect failed");

	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL); /* the test's self-signed certificate */
	SSL *ssl = SSL_new(ctx);
	SSL_set_fd(ssl, fd);
	if (SSL_connect(ssl) != 1)
		return fail("TLS handshake failed");

	char request[512];
	int n = snprintf(request, sizeof(request),
			 "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%s\r\nUser-Agent: tls_static_client\r\n"
			 "Connection: close\r\n\r\n", argv[2], argv[1]);
	if (SSL_write(ssl, request, n) != n)
		return fail("SSL_write failed");
	char buf[4096];
	int got, first = 1;
	while ((got = SSL_read(ssl, buf, sizeof(buf) - 1)) > 0) {
		if (first) {
			buf[got] = 0;
			char *eol = strstr(buf, "\r\n");
			if (eol)
				*eol = 0;
			printf("%s\n", buf);
			first = 0;
		}
	}
	SSL_shutdown(ssl);
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	close(fd);
	return first ? fail("no response") : 0;
}
