/* SPDX-License-Identifier: Apache-2.0 */
/*
 * CurveZMQ keys on the client side (README "Securing the control
 * channel"): `circusctl keygen PATH` writes a czmq certificate pair (PATH
 * public, PATH_secret owner-only), and --client_cert / --server_key (or a
 * fleet file's key column) become the keys of a CURVE client.
 */
#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <czmq.h>

#include "circusctl.h"
#include "xmalloc.h"

#define KEYS_ZERO "0000000000000000000000000000000000000000"

/* Is s 40 characters of Z85 (a key given inline)? */
bool
keys_is_z85(const char *s)
{
	uint8_t	bin[32];

	return strlen(s) == 40 && zmq_z85_decode(bin, s) != NULL;
}

/* The daemon's public key from a Z85 string or a certificate file. */
static int
keys_server(const char *spec, char out[41], char **cause)
{
	zcert_t	*cert;

	if (access(spec, R_OK) != 0 && keys_is_z85(spec)) {
		snprintf(out, 41, "%s", spec);
		return 0;
	}
	if ((cert = zcert_load(spec)) == NULL) {
		*cause = xprintf("server key %s: neither a 40-character Z85 "
		    "key nor a readable certificate", spec);
		return -1;
	}
	snprintf(out, 41, "%s", zcert_public_txt(cert));
	zcert_destroy(&cert);
	return 0;
}

/*
 * Fill keys from our certificate (cert: PATH, with PATH_secret) and the
 * server's key. Returns 1 when CURVE is to be used, 0 when neither is
 * given, -1 with *cause when only one is or a file is bad.
 */
int
keys_load(const char *cert, const char *server, struct client_curve *keys,
    char **cause)
{
	zcert_t	*c;

	memset(keys, 0, sizeof *keys);
	if (cert == NULL && server == NULL)
		return 0;
	if (cert == NULL || server == NULL) {
		*cause = xprintf("CURVE needs both --client_cert (ours) and "
		    "--server_key (the daemon's); got only %s",
		    cert != NULL ? "--client_cert" : "the server key");
		return -1;
	}
	if ((c = zcert_load(cert)) == NULL ||
	    strcmp(zcert_secret_txt(c), KEYS_ZERO) == 0) {
		*cause = xprintf("--client_cert %s: no secret certificate "
		    "(%s_secret); make one with: circusctl keygen %s", cert,
		    cert, cert);
		zcert_destroy(&c);
		return -1;
	}
	snprintf(keys->public_key, 41, "%s", zcert_public_txt(c));
	snprintf(keys->secret_key, 41, "%s", zcert_secret_txt(c));
	zcert_destroy(&c);
	return keys_server(server, keys->server_key, cause) == 0 ? 1 : -1;
}

/* keygen PATH: write PATH and PATH_secret, print the public key. */
int
keys_keygen(const char *path)
{
	zcert_t		*cert;
	struct stat	 st;
	char		*secret = xprintf("%s_secret", path);
	int		 rc = CTL_EXIT_FAILURE;

	if (stat(path, &st) == 0 || stat(secret, &st) == 0) {
		fprintf(stderr, "circusctl: keygen: %s or %s already exists; "
		    "not overwriting a key\n", path, secret);
		goto out;
	}
	if ((cert = zcert_new()) == NULL) {
		fprintf(stderr, "circusctl: keygen: cannot make a key pair\n");
		goto out;
	}
	if (zcert_save(cert, path) != 0 || chmod(secret, 0600) != 0) {
		fprintf(stderr, "circusctl: keygen: cannot write %s: %s\n",
		    path, strerror(errno));
		zcert_destroy(&cert);
		goto out;
	}
	printf("%s\n", zcert_public_txt(cert));
	fprintf(stderr, "wrote %s (public certificate) and %s (secret, "
	    "mode 0600)\n", path, secret);
	zcert_destroy(&cert);
	rc = CTL_EXIT_OK;
out:
	free(secret);
	return rc;
}
