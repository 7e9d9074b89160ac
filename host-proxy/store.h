/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * store.h - the policy store: clients, their allow rules, secrets; the
 * decision function; and the state directory they persist to.
 *
 * Not locked here: callers hold the proxy's lock (proxy.h) around every
 * use, the pointers handed out included.  Every mutation bumps generation,
 * so connections can tell that the policy they were judged under changed.
 * A mutation is persisted (store_save) before the API acknowledges it.
 *
 * State directory layout (created 0700, files 0600):
 *   state.json          clients (name, SHA-256 of token), rules, secret
 *                       metadata; written atomically (tmp, fsync, rename,
 *                       fsync dir)
 *   secrets/NAME        one secret value each, raw bytes, 0600
 * Token values are never stored, only their SHA-256.  Secret values are
 * held in secmem buffers and never appear in JSON produced here.
 */
#ifndef SLICER_STORE_H
#define SLICER_STORE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "slicer_limits.h"
#include "rate.h"
#include "secmem.h"

enum secret_type {
	SECRET_BEARER = 0, /* Authorization: Bearer VALUE */
	SECRET_BASIC,      /* Authorization: Basic base64(VALUE), VALUE "user:pass" */
	SECRET_HEADER,     /* HEADER: VALUE */
	SECRET_OAUTH,      /* JSON with access/refresh token (later issue) */
};

struct rule {
	char id[16];                  /* "r" + 12 lower-case hex, random */
	char *host;                   /* owned; canonical pattern (match.h) */
	uint16_t ports[LIMIT_RULE_PORTS];
	size_t nports;                /* 0: the defaults 80 and 443 */
	char (*methods)[LIMIT_METHOD]; /* owned; nmethods upper-case tokens */
	size_t nmethods;              /* 0: any method */
	char **paths;                 /* owned; npaths patterns (match.h) */
	size_t npaths;                /* 0: any path */
	int64_t created_ms;           /* unix ms */
	int64_t expires_ms;           /* unix ms; 0: never */
	char secret[LIMIT_NAME];      /* secret name; "" for none */
	int is_inspect;               /* intercept TLS even without methods/paths */
	int is_allow_plaintext;       /* secret may go over plain http:// */
	/* private to the store: insertion order and its two indexes */
	uint64_t seq;
	uint64_t host_hash, id_hash;
	struct rule *host_next, *id_next;
};

/*
 * A chained hash table of rules keyed by host pattern or by id (intrusive:
 * the links live in struct rule).  Private to the store.
 */
struct rule_table {
	struct rule **slots;
	size_t mask;                  /* slots - 1; 0 with no slots */
	size_t count;
};

struct client {
	char name[LIMIT_NAME];
	unsigned char token_hash[32]; /* SHA-256 of the token */
	int64_t created_ms;
	struct rule **rules;          /* owned array of owned rules, oldest first */
	size_t nrules;
	size_t rules_cap;
	struct rule_table by_host;    /* the same rules by host pattern */
	struct client *token_next;    /* store's token table chain */
	struct client *name_next;     /* store's name table chain */
	struct rate leaf_mints;       /* runtime: leaves minted for it */
	uint64_t serial;              /* runtime: unique while the process
				       * runs; a client deleted and created
				       * again under its name is another */
	uint64_t pool_generation;     /* runtime: generation of its last rule
				       * change (or its creation); see
				       * store_pool_generation */
	atomic_uint dns_inflight;     /* runtime only (never saved): upstream
				       * DNS lookups in flight for it, from
				       * every loop (store_client_dns_*) */
};

struct secret {
	char name[LIMIT_NAME];
	char host[256];               /* canonical pattern: only host it may go to */
	enum secret_type type;
	char header[LIMIT_HEADER_NAME]; /* for SECRET_HEADER */
	struct secmem *value;         /* owned */
	struct secmem *token_url;     /* owned: an oauth secret's token
				       * endpoint, from its value (a part of
				       * it, kept as one); NULL else */
	int64_t created_ms;
	uint64_t serial;              /* runtime: unique while the process
				       * runs (one deleted and created again
				       * under its name is another) */
	uint64_t value_gen;           /* bumped by store_secret_set_value */
	uint64_t saved_gen;           /* value_gen in the file (main loop) */
	int is_on_disk;               /* its file was written (main loop) */
	struct secret *name_next;     /* chain of the store's secret_slots */
};

struct store {
	struct client **clients;      /* owned */
	size_t nclients;
	struct secret **secrets;      /* owned */
	size_t nsecrets;
	size_t noauth_secrets;        /* of them, type oauth */
	struct secret **secret_slots; /* by name (STORE_SECRET_SLOTS); NULL
				       * until the first secret */
	atomic_uint_fast64_t generation; /* bumped on every change; read
					  * without the proxy's lock */
	uint64_t secrets_generation;  /* generation of the last secret added
				       * or deleted */
	uint64_t written_generation;  /* generation state.json was last
				       * written with (store_save) */
	char *dir;                    /* owned; NULL: in memory only (tests) */
	char *shown;                  /* owned: dir as messages name it */
	/* private: indexes so that look-ups do not grow with the policy */
	uint64_t hash_seed;           /* random, per process */
	uint64_t rule_seq;            /* next struct rule seq */
	uint64_t client_serial;       /* last struct client serial */
	uint64_t secret_serial;       /* last struct secret serial */
	size_t nrules_total;
	struct rule_table by_id;      /* every rule of every client */
	struct client **token_slots;  /* chained by token_next */
	struct client **name_slots;   /* chained by name_next, same size */
	size_t token_mask;
};

/*
 * Open (or create, 0700) the state directory and load it.  dir NULL gives
 * an empty in-memory store.  On error returns NULL with a message in err.
 * Refuses a directory or file with group/world permission bits.
 */
struct store *store_open(const char *dir, char *err, size_t errsz);
/* The same, naming the directory shown in messages (dir may be a
 * /proc/self/fd path the daemon keeps after dropping root). */
struct store *store_open_as(const char *dir, const char *shown, char *err,
    size_t errsz);
void store_free(struct store *st);

/*
 * Write state.json atomically and remove the files of deleted secrets.
 * Reads no secret value (store_secrets_flush writes those first, as the
 * daemon's proxy_save does).  0 or -1 + err.
 */
int store_save(struct store *st, char *err, size_t errsz);

/*
 * A fixed description of why JSON did not parse ("invalid syntax"), by
 * json_error_code: never jansson's error text, which quotes the input
 * near the error, and input may carry a secret value.  Report it with
 * e->line and e->column.
 */
const char *store_json_error_reason(const json_error_t *e);

/* Names: [A-Za-z0-9][A-Za-z0-9_.-]{0,62}.  1 when valid. */
int store_name_valid(const char *name);

/*
 * The policy generation a pooled upstream connection of client c must
 * have been parked at to be taken again: the last change of c's rules (or
 * c's creation) or of the secrets, whichever came later.  Another client's
 * change leaves c's pooled connections usable.
 */
uint64_t store_pool_generation(const struct store *st,
    const struct client *c);

/* Clients.  add fails (-1, err) on a bad or duplicate name or when full. */
int store_client_add(struct store *st, const char *name,
    const unsigned char token_hash[32], int64_t now_ms, char *err,
    size_t errsz);
struct client *store_client_find(const struct store *st, const char *name);
int store_client_delete(struct store *st, const char *name);
/*
 * Identify the client presenting token (len bytes): SHA-256 it, pick the
 * hash-table chain by the digest's first bytes mixed with a random per-
 * process seed, and compare the whole digest of every client on that chain
 * in constant time (CRYPTO_memcmp, no early exit).  The cost does not grow
 * with the number of clients; what timing can tell is only whether a
 * guess's digest shares a secret-seeded bucket with some client, which says
 * nothing about any token.  NULL when none matches.
 */
struct client *store_client_by_token(const struct store *st,
    const char *token, size_t len);

/*
 * Rules.  store_rule_parse_json reads an API rule object:
 *   {"host": "api.example.com", "ports": [443], "methods": ["POST"],
 *    "paths": ["/v1/\*"], "ttl": "10m" | "ttl_seconds": 600,
 *    "secret": "name", "inspect": false, "allow_plaintext": false}
 * host required; unknown keys, wrong types, bad host/port/method/path/ttl,
 * too many entries: -1 with a message naming the offending value.
 * Sets created_ms/expires_ms from now_ms.  The id is set by store_rule_add.
 * out must be freed with store_rule_free_fields on error paths.
 */
int store_rule_parse_json(const json_t *obj, int64_t now_ms, struct rule *out,
    char *err, size_t errsz);
/* Take ownership of *r (copied into a new rule), give it a fresh id (copied
 * to id_out), append to the client.  A named secret must exist. */
int store_rule_add(struct store *st, struct client *c, struct rule *r,
    char id_out[16], char *err, size_t errsz);
/*
 * All or nothing: add n parsed rules (each as store_rule_add would), or
 * none.  On failure err names the first rule that could not be added
 * ("rules[17]: unknown secret 'x'").  Every rs[i] owns nothing afterwards.
 * The new rules are the client's last n.
 */
int store_rules_add(struct store *st, struct client *c, struct rule *rs,
    size_t n, char *err, size_t errsz);
/* Take back the client's last n rules (just added; a save that failed). */
void store_rules_undo(struct store *st, struct client *c, size_t n);
/* The rule with this id among c's rules, or NULL. */
struct rule *store_rule_find(const struct store *st, const struct client *c,
    const char *id);
void store_rule_free_fields(struct rule *r);
/* Remove by id / all rules for a canonical host pattern / all: count removed. */
int store_rule_delete(struct store *st, struct client *c, const char *id);
int store_rule_delete_host(struct store *st, struct client *c, const char *host);
int store_rule_delete_all(struct store *st, struct client *c);
/* Remove rules with expires_ms <= now_ms from every client: count removed. */
int store_expire(struct store *st, int64_t now_ms);
/* Earliest expires_ms over all rules, or 0 when none expire. */
int64_t store_next_expiry(const struct store *st);

/* Secrets.  value is copied into a secmem buffer; the caller wipes its own
 * copy.  Values: 1..LIMIT_SECRET_VALUE bytes, one trailing newline (LF or
 * CRLF) stripped, no NUL/CR/LF inside (it goes into a header). */
int store_secret_add(struct store *st, const char *name, const char *host,
    enum secret_type type, const char *header, const void *value, size_t len,
    int64_t now_ms, char *err, size_t errsz);
struct secret *store_secret_find(const struct store *st, const char *name);
/* One more upstream DNS look-up in flight for c: 0, or -1 when it has
 * limit already.  Any loop, under a decision's lock (c stays). */
int store_client_dns_take(struct client *c, unsigned limit);
/* One fewer (never below 0). */
void store_client_dns_give(struct client *c);
/*
 * Replace a secret's value (same checks as store_secret_add), in memory
 * only: any thread, with the proxy's lock held, no I/O.  Used when new
 * OAuth tokens arrive; it does not change the policy, so generation is
 * not bumped.  The file follows with store_secrets_flush.  0 or -1 with err.
 */
int store_secret_set_value(struct store *st, struct secret *s,
    const void *value, size_t len, char *err, size_t errsz);
/*
 * Write the value file of every secret whose value changed since its file
 * was written, or whose file is missing.  Main loop only (secrets come and
 * go there), called with the proxy's lock held: values are copied under
 * it, and release(arg) / reacquire(arg) are called around each piece of
 * file I/O so that other threads go on meanwhile (NULL: keep it).  A
 * file that cannot be written does not stop the others: 0, or -1 with
 * the first failure in err; what is left is written by the next call.
 */
int store_secrets_flush(struct store *st, void (*release)(void *),
    void (*reacquire)(void *), void *arg, char *err, size_t errsz);
/* Secrets whose value is not in its file yet; lock held. */
size_t store_secrets_unsaved(const struct store *st);
/* Deleting a secret that a rule references fails with -1 and err. */
int store_secret_delete(struct store *st, const char *name, char *err,
    size_t errsz);
int store_secret_type_parse(const char *s, enum secret_type *out);
const char *store_secret_type_name(enum secret_type t);

/* JSON views for the API (new references; never any token or secret value). */
json_t *store_client_json(const struct client *c, int64_t now_ms);
json_t *store_rule_json(const struct rule *r, int64_t now_ms);
json_t *store_secret_json(const struct secret *s);

/* ---- decisions ---- */

struct policy_request {
	const char *host;   /* canonical (match_host_canon) */
	uint16_t port;
	const char *method; /* NULL for CONNECT */
	const char *path;   /* normalised (match_path_normalize); NULL for CONNECT */
	int is_connect;     /* CONNECT: judged on host and port only */
};

struct policy_verdict {
	int is_allowed;
	const struct rule *rule;  /* borrowed: the rule that allowed it */
	/*
	 * CONNECT only: 1 when the allowing rules all constrain methods, paths,
	 * a secret or ask for inspection, so the tunnel must be intercepted to
	 * be judged; 0 when a host-level rule allows a plain tunnel.
	 */
	int needs_intercept;
	char reason[160];         /* short, for the 403 body and the audit log */
};

/*
 * Judge a request.  Rules with expires_ms <= now_ms are ignored.  A rule
 * matches when its host pattern matches, the port is in its ports (default
 * 80 and 443), and for non-CONNECT requests the method is in its methods
 * and the path matches one of its paths (empty lists match anything).
 * For CONNECT, methods and paths are not known yet: a matching host-level
 * rule allows a plain tunnel; otherwise a matching constrained rule gives
 * is_allowed=1 with needs_intercept=1.  Among several matching rules the
 * most specific host wins (exact, then longer suffix, then "*"), then a
 * rule with a secret, then the oldest.  When denied, reason says why in a
 * few words ("no rule allows other.test:443", "method POST not allowed for
 * api.test", "path /admin not allowed for api.test").
 */
void store_decide(const struct store *st, const struct client *c,
    const struct policy_request *rq, int64_t now_ms, struct policy_verdict *v);

/* Does any live rule of c match host (any port)?  For DNS policy. */
int store_host_allowed(const struct store *st, const struct client *c,
    const char *host, int64_t now_ms);

#endif
