//go:build ignore

/*
 * A stand-in Go output plugin written in C, used by host_test.go to check
 * flbhost without a Go toolchain in the loop. It uses the struct layouts
 * fluent-bit-go declares (output/flb_plugin.h, output/flb_output.h) and does
 * what fluent-bit-go's helpers do: FLBPluginRegister fills the def,
 * FLBPluginConfigKey calls api->output_get_property(key, plugin->o_ins),
 * FLBPluginSetContext writes plugin->context->remote_context.
 *
 * Properties read in Init: id, mode, match, empty, env.
 * mode: fail  -> Init returns FLB_ERROR
 *       slow  -> every flush sleeps 40 ms (to see concurrency)
 *       retry -> the instance's first flush returns FLB_RETRY
 *       late  -> flush reads "id" through the plugin pointer saved at Init
 *                (the shared struct: it now points at the last instance)
 * Environment: FAKE_NO_DESC=1 leaves def->description unset.
 *
 * Build: gcc -shared -fPIC -O2 -Wall -Wextra -o fake.so fakeplugin.c -lpthread
 */
#define _GNU_SOURCE
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct flb_plugin_proxy_def {
    int type;
    int proxy;
    int flags;
    char *name;
    char *description;
};

struct flb_api {
    char *(*output_get_property)(char *, void *);
    char *_;
};

struct flb_plugin_proxy_context {
    void *remote_context;
};

struct flbgo_output_plugin {
    void *_;
    struct flb_api *api;
    void *o_ins;
    struct flb_plugin_proxy_context *context;
};

struct inst {
    unsigned magic;
    char id[64];
    char mode[32];
    atomic_int flushes;
    atomic_int inflight;
    atomic_int max_inflight;
};

static struct flbgo_output_plugin *saved_plugin;

static const char *prop(struct flbgo_output_plugin *p, const char *key)
{
    return p->api->output_get_property((char *)key, p->o_ins);
}

static const char *or_null(const char *s)
{
    return s ? s : "(null)";
}

int FLBPluginRegister(struct flb_plugin_proxy_def *def)
{
    def->type = 2;
    def->proxy = 11;
    def->flags = 0;
    def->name = strdup("k8s_secret_enum");
    if (!getenv("FAKE_NO_DESC")) {
        def->description = strdup("fake plugin for flbhost tests");
    }
    return 0;
}

int FLBPluginInit(struct flbgo_output_plugin *p)
{
    const char *id = prop(p, "id");
    const char *mode = prop(p, "mode");
    fprintf(stderr, "FAKE init id=%s mode=%s match=%s empty=%s env=%s\n", or_null(id),
            or_null(mode), or_null(prop(p, "match")), or_null(prop(p, "empty")),
            or_null(prop(p, "env")));
    if (mode && strcmp(mode, "fail") == 0) {
        return 0;
    }
    struct inst *in = calloc(1, sizeof(*in));
    in->magic = 0xC0FFEE;
    snprintf(in->id, sizeof(in->id), "%s", id ? id : "");
    snprintf(in->mode, sizeof(in->mode), "%s", mode ? mode : "");
    p->context->remote_context = in;
    saved_plugin = p;
    return 1;
}

int FLBPluginFlushCtx(void *ctx, void *data, int length, char *tag)
{
    struct inst *in = ctx;
    if (!in || in->magic != 0xC0FFEE) {
        fprintf(stderr, "FAKE flush bad context\n");
        return 0;
    }
    int n = atomic_fetch_add(&in->flushes, 1) + 1;
    int now = atomic_fetch_add(&in->inflight, 1) + 1;
    int prev = atomic_load(&in->max_inflight);
    while (now > prev && !atomic_compare_exchange_weak(&in->max_inflight, &prev, now)) {
    }
    const char *late = "";
    if (strcmp(in->mode, "slow") == 0) {
        struct timespec ts = {0, 40 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    if (strcmp(in->mode, "late") == 0) {
        late = or_null(prop(saved_plugin, "id"));
    }
    fprintf(stderr, "FAKE flush id=%s n=%d bytes=%d tag=%s first=%02x late=%s\n", in->id, n, length,
            tag, length > 0 ? ((unsigned char *)data)[0] : 0, late);
    atomic_fetch_sub(&in->inflight, 1);
    if (strcmp(in->mode, "retry") == 0 && n == 1) {
        return 2;
    }
    return 1;
}

int FLBPluginExitCtx(void *ctx)
{
    struct inst *in = ctx;
    fprintf(stderr, "FAKE exit id=%s flushes=%d max_inflight=%d\n", in->id,
            atomic_load(&in->flushes), atomic_load(&in->max_inflight));
    return 1;
}

void FLBPluginUnregister(struct flb_plugin_proxy_def *def)
{
    fprintf(stderr, "FAKE unregister name=%s\n", def->name);
    free(def->name);
    if (!getenv("FAKE_NO_DESC")) {
        free(def->description);
    }
}
