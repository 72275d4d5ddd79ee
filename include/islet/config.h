/* A sandbox's config.json (<state>/sandboxes/<id>/config.json): what it is
 * made of, written once at its creation by the core and read by the core
 * (listings, get) and by its supervisor (islet-run) at each start.  The
 * one writer and the one reader; a new field is added here only. */
#ifndef ISLET_CONFIG_H
#define ISLET_CONFIG_H

#include <jansson.h>

#include "islet/contain.h"
#include "islet/err.h"
#include "islet/sandbox.h"

/* The file's contents for info, whose writable layer is at volume. */
json_t *islet_config_json (const struct islet_sandbox_info *info, const char *volume);

/* Reads path into info (state STOPPED, no supervisor) and, when volume is
 * not NULL, the writable layer's path (malloc'd).  A missing file is
 * ISLET_E_NOTFOUND; one that does not parse, ISLET_E_SYSTEM. */
int islet_config_load (const char *path, struct islet_sandbox_info *info, char **volume,
                       struct islet_err *err) ISLET_MUST_CHECK;

/* The volumes it mounts ("mounts": one object per volume; absent: none). */
json_t *islet_config_mount_json (const struct islet_vmount *m);
int islet_config_mounts_load (const char *path, struct islet_vmount **out, size_t *n,
                              struct islet_err *err) ISLET_MUST_CHECK;
void islet_vmounts_free (struct islet_vmount *m, size_t n);

#endif
