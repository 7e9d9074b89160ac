/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * api.h - the JSON control API on a unix socket (mode 0600).  The CLI is a
 * thin client of it; anything the CLI does, curl --unix-socket can do.
 *
 *   GET    /healthz
 *   GET    /metrics                           Prometheus text
 *   GET    /v1/proxy/clients
 *   POST   /v1/proxy/clients                  {"name"} -> {"name","token"}
 *   GET    /v1/proxy/clients/NAME
 *   DELETE /v1/proxy/clients/NAME
 *   GET    /v1/proxy/clients/NAME/rules
 *   POST   /v1/proxy/clients/NAME/rules       rule object (store.h)
 *   DELETE /v1/proxy/clients/NAME/rules/ID
 *   DELETE /v1/proxy/clients/NAME/rules?host=H | ?all=1
 *   GET    /v1/proxy/secrets
 *   POST   /v1/proxy/secrets                  {"name","host","type","header","value"}
 *   DELETE /v1/proxy/secrets/NAME
 *   GET    /v1/proxy/logs[?follow=1][&client=C][&denied=1]
 *   GET    /v1/proxy/ca.crt                   the CA certificate (PEM)
 *
 * Errors are {"error": "..."} with a 4xx/5xx status.  Secret values and
 * tokens (other than the one returned by client creation) never appear in
 * a response.
 */
#ifndef SLICER_API_H
#define SLICER_API_H

#include "proxy.h"

struct api *api_new(struct proxy *px, const char *path, char *err,
    size_t errsz);
void api_free(struct api *a);

/* Allocation functions for jansson that wipe memory when it is freed;
 * installed with json_set_alloc_funcs() before any JSON is made. */
void *api_json_malloc(size_t n);
void api_json_free(void *p);

#endif
