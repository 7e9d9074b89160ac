/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * oauth.h - OAuth secrets: the access token the proxy injects, refreshed by
 * the proxy itself before it expires or after an upstream 401, and never
 * handed to a client (token endpoint answers get placeholders).
 *
 * The secret's value is a JSON object:
 *   {"access_token": "...", "refresh_token": "...",
 *    "token_url": "https://auth.example.com/oauth/token",
 *    "client_id": "...", "client_secret": "..." (optional),
 *    "expires_at": 1767225600 (optional, unix seconds)}
 * After a refresh the new tokens are written back to the secret (atomic
 * file replace) so a restart keeps them.
 */
#ifndef SLICER_OAUTH_H
#define SLICER_OAUTH_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "proxy.h"

/* What clients see instead of a real token. */
#define OAUTH_PLACEHOLDER "slicer-proxy-placeholder"
/* Refresh this long before the access token expires. */
#define OAUTH_REFRESH_EARLY_MS 60000
/* Token endpoint answers are rewritten whole: at most this big. */
#define OAUTH_BODY_MAX 65536

struct oauth_wait;
typedef void (*oauth_cb)(void *arg, int ok, const char *reason);

/*
 * Check and normalise an oauth secret value (the JSON above) into compact
 * JSON in out.  0, or -1 with a message naming what is wrong.
 */
int oauth_value_check(const char *value, size_t len, struct buf *out,
    char *err, size_t errsz);

/*
 * Append "Authorization: Bearer ACCESS\r\n" for secret name to b when its
 * access token is fresh: returns 0.  Returns 1 when a refresh is needed
 * first (call oauth_refresh), -1 when the secret is unusable (err set).
 */
int oauth_append_auth(struct proxy *px, const char *name, struct buf *b,
    char *err, size_t errsz);

/*
 * Refresh the secret's tokens (or join a refresh in flight) and call cb
 * when done.  force refreshes even a token that looks fresh (after a 401;
 * the caller replays a request at most once).  Returns a
 * handle for oauth_cancel, or NULL when cb already ran.
 */
struct oauth_wait *oauth_refresh(struct proxy *px, const char *name,
    int force, oauth_cb cb, void *arg);
void oauth_cancel(struct proxy *px, struct oauth_wait *w);

/*
 * A request with the secret's token got 401, was replayed with tokens
 * refreshed for it, and got 401 again: oauth_refresh_refused notes it.
 * For OAUTH_FORCE_INTERVAL_MS after that, oauth_refresh_is_futile says so,
 * and a 401 goes to the client without a refresh: an upstream that
 * refuses the freshest tokens (or a path that always answers 401) cannot
 * make the proxy call the token endpoint once per request.
 */
#define OAUTH_FORCE_INTERVAL_MS 30000
/* After a refresh fails, requests that need one fail at once with its
 * reason for this long, instead of each starting another. */
#define OAUTH_FAILED_WAIT_MS 5000
void oauth_refresh_refused(struct proxy *px, const char *name);
int oauth_refresh_is_futile(struct proxy *px, const char *name);
/* A secret created under name: nothing of an earlier one's refreshes
 * holds for it. */
void oauth_forget(struct proxy *px, const char *name);

/* What a client's request to an oauth secret's token endpoint is. */
enum oauth_call {
	OAUTH_CALL_NONE,   /* no oauth secret's token endpoint */
	OAUTH_CALL_KEEP,   /* that of the one oauth secret the client's
			    * rules use: its answer's tokens become the
			    * secret's */
	OAUTH_CALL_REDACT, /* that of oauth secrets the client's rules do not
			    * use, or of several it uses: the answer's
			    * tokens are replaced and kept by no secret */
};

/*
 * Is host:port + path (normalised, no query) a token endpoint, as cl
 * calls it?  The path names the endpoint also with a trailing '/', ';'
 * parameters, repeated '/' or other letter case, as servers that route
 * it there would take it.  KEEP puts the secret's name in name.
 */
enum oauth_call oauth_token_endpoint(struct proxy *px,
    const struct client *cl, const char *host, uint16_t port,
    const char *path, char name[LIMIT_NAME], uint64_t *serial);

/*
 * Rewrite a token endpoint's JSON answer for the client: every
 * access_token, refresh_token and id_token value becomes OAUTH_PLACEHOLDER;
 * with a name, the real ones are stored as that secret's new tokens (when
 * it is still the secret of that serial).  out
 * gets the new body.  1 when tokens were stored, 0 when none were, or -1
 * when the body is not a JSON object (then nothing may be sent on).
 */
int oauth_rewrite_answer(struct proxy *px, const char *name, uint64_t serial,
    const char *body, size_t len, struct buf *out);

void oauth_free_all(struct proxy *px);

#endif
