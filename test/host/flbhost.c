//go:build ignore

// (The constraint above keeps the go tool from treating this file as cgo source.)

/*
 * flbhost — load a Fluent Bit Go output plugin (.so) the way Fluent Bit's Go
 * proxy does, without Fluent Bit.
 *
 * Mirrors (checked against fluent/fluent-bit):
 *   src/flb_plugin_proxy.c    flb_plugin_proxy_create / _register, flb_proxy_output_cb_init,
 *                             proxy_cb_flush, flb_proxy_output_cb_exit / _cb_destroy
 *   src/proxy/go/go.c, go.h   struct flbgo_output_plugin, proxy_go_output_register/init/flush/destroy
 *   include/fluent-bit/flb_plugin_proxy.h  struct flb_plugin_proxy_def, flb_plugin_proxy,
 *                                          flb_plugin_proxy_context
 *   include/fluent-bit/flb_api.h, src/flb_api.c   struct flb_api (slot 0 = output_get_property)
 *   src/flb_output.c          flb_output_set_property (keys the core consumes),
 *                             flb_output_get_property -> flb_kv_get_key_value (case-insensitive,
 *                             first match, NULL when absent; empty values are stored as NULL)
 *
 * Threads: registration runs on the main thread (Fluent Bit loads plugins while
 * reading its configuration), Init / PreRun / flushes / Exit run on an "engine"
 * thread, and with --threads N > 1 every instance gets N worker threads (like
 * `Workers N`). Every flush runs on a freshly mapped coroutine stack of
 * --coro-stack-size bytes (default 65536, like `coro_stack_size 65536`; 0 = call
 * on the thread's own stack) with a guard page below it, as Fluent Bit runs each
 * flush inside a libco coroutine.
 *
 * Output: one line per step on stdout, flushed at once:  <step> key=value ...
 * A `msg=` field, when present, is last and runs to the end of the line.
 *
 * Build: gcc -O2 -Wall -Wextra -o build/flbhost test/host/flbhost.c -ldl -lpthread
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sys/resource.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

/* ---- Fluent Bit ABI (see header comment) ------------------------------- */

#define FLB_ERROR 0
#define FLB_OK 1
#define FLB_RETRY 2
#define FLB_PROXY_OUTPUT_PLUGIN 2
#define FLB_PROXY_GOLANG 11

/* include/fluent-bit/flb_plugin_proxy.h (v2.0 .. v4.x; v5.0 appends int
 * event_type, v5.1.1 a config_map pointer — fluent-bit-go writes only these
 * five fields). Fluent Bit <= 4.x malloc()s it without zeroing. */
struct flb_plugin_proxy_def {
    int type;
    int proxy;
    int flags;
    char *name;
    char *description;
};

struct mk_list {
    struct mk_list *prev, *next;
};

struct flb_plugin_proxy {
    struct flb_plugin_proxy_def *def;
    struct flb_api *api;
    void *instance;
    void *dso_handler;
    void *data;
    struct mk_list _head;
};

struct flb_plugin_proxy_context {
    void *remote_context; /* set by FLBPluginSetContext */
    struct flb_plugin_proxy *proxy;
};

/* include/fluent-bit/flb_api.h */
struct flb_api {
    const char *(*output_get_property)(const char *, void *);
    const char *(*input_get_property)(const char *, void *);
    void *(*output_get_cmt_instance)(void *);
    void *(*input_get_cmt_instance)(void *);
    void (*log_print)(int, const char *, int, const char *, ...);
    int (*input_log_check)(void *, int);
    int (*output_log_check)(void *, int);
};

/* src/proxy/go/go.h — ONE per .so, shared by every instance. */
struct flbgo_output_plugin {
    char *name;
    void *api;
    void *o_ins;
    struct flb_plugin_proxy_context *context;

    int (*cb_init)(struct flbgo_output_plugin *);
    int (*cb_flush)(const void *, size_t, const char *);
    int (*cb_flush_ctx)(void *, const void *, size_t, char *);
    int (*cb_exit)(void);
    int (*cb_exit_ctx)(void *);
};

/* ---- host state --------------------------------------------------------- */

struct prop {
    char *key;
    char *val;  /* NULL when the expanded value is empty (Fluent Bit stores NULL) */
    int hidden; /* consumed by the Fluent Bit core: invisible to the plugin */
};

struct chunk {
    unsigned char *data;
    size_t size;
};

struct instance {
    int id;
    struct prop *props;
    int nprops;
    struct chunk *chunks;
    int nchunks;
    struct flb_plugin_proxy_context *ctx; /* calloc'd like flb_output_new() */
    void *remote_context;                 /* ctx->remote_context after Init */
    int init_rc;
    int initialized;
    /* worker queue */
    pthread_mutex_t qlock;
    int next;
};

static struct instance *instances;
static int ninstances;
static int nthreads = 1;
static const char *tag = "k8s_audit";
static long sleep_before_exit_ms;
static long flush_gap_ms;
static int no_exit;
static long coro_stack_size = 65536;
static int retry_limit;
static long retry_wait_ms = 1000;
static const char *so_path;

static struct flbgo_output_plugin *plugin;
static struct flb_plugin_proxy_def *def;
static struct flb_plugin_proxy proxy;
static int (*cb_pre_run)(int);
static void (*cb_pre_exit)(int);
static void (*cb_unregister)(struct flb_plugin_proxy_def *);
static int (*cb_pre_register)(int);
static int (*cb_register)(struct flb_plugin_proxy_def *);
static int reload;

static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;
static volatile sig_atomic_t stop_signal;
static atomic_int phase; /* what the engine is doing, for getprop lines */
static const char *phase_names[] = {"register", "init", "prerun", "flush", "exit", "unregister"};
enum { PH_REGISTER, PH_INIT, PH_PRERUN, PH_FLUSH, PH_EXIT, PH_UNREGISTER };

#define GARBAGE 0xA5
static const uintptr_t garbage_ptr = (uintptr_t)0xA5A5A5A5A5A5A5A5ULL;

__attribute__((format(printf, 1, 2))) static void emit(const char *fmt, ...)
{
    va_list ap;
    pthread_mutex_lock(&out_lock);
    va_start(ap, fmt);
    vfprintf(stdout, fmt, ap);
    va_end(ap);
    fputc('\n', stdout);
    fflush(stdout);
    pthread_mutex_unlock(&out_lock);
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Sleep ms milliseconds; returns early when SIGTERM/SIGINT arrived. */
static void sleep_ms(long ms)
{
    while (ms > 0 && !stop_signal) {
        long step = ms > 20 ? 20 : ms;
        struct timespec ts = {step / 1000, (step % 1000) * 1000000L};
        nanosleep(&ts, NULL);
        ms -= step;
    }
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        emit("error msg=out of memory");
        exit(1);
    }
    return p;
}

static char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = xmalloc(n);
    memcpy(p, s, n);
    return p;
}

/* ---- properties ---------------------------------------------------------- */

static int starts_with_ci(const char *s, const char *prefix)
{
    return strncasecmp(s, prefix, strlen(prefix)) == 0;
}

/* Keys flb_output_set_property() keeps for the core: never visible to a
 * Go plugin through output_get_property(). */
static int core_key(const char *k)
{
    static const char *exact[] = {"match", "match_regex", "alias", "log_level",
                                  "log_suppress_interval", "host", "port", "ipv6",
                                  "retry_limit", "workers", "storage.total_limit_size",
                                  "tls", NULL};
    for (int i = 0; exact[i]; i++) {
        if (strcasecmp(k, exact[i]) == 0) {
            return 1;
        }
    }
    return starts_with_ci(k, "tls.") || starts_with_ci(k, "net.") ||
           starts_with_ci(k, "_debug.http.") || starts_with_ci(k, "oauth2");
}

/* ${VAR} expansion like flb_env_var_translate(): unknown variables become "". */
static char *expand_env(const char *v)
{
    size_t cap = strlen(v) + 1, len = 0;
    char *out = xmalloc(cap);
    const char *p = v;
    while (*p) {
        const char *s = strstr(p, "${");
        const char *e = s ? strchr(s + 2, '}') : NULL;
        size_t lit = (s && e) ? (size_t)(s - p) : strlen(p);
        const char *val = "";
        if (s && e) {
            size_t nlen = (size_t)(e - s - 2);
            char *name = xmalloc(nlen + 1);
            memcpy(name, s + 2, nlen);
            name[nlen] = '\0';
            val = getenv(name);
            if (!val) {
                val = "";
            }
            free(name);
        }
        size_t vlen = strlen(val);
        if (len + lit + vlen + 1 > cap) {
            cap = (len + lit + vlen + 1) * 2;
            char *n = realloc(out, cap);
            if (!n) {
                emit("error msg=out of memory");
                exit(1);
            }
            out = n;
        }
        memcpy(out + len, p, lit);
        len += lit;
        if (!(s && e)) {
            break;
        }
        memcpy(out + len, val, vlen);
        len += vlen;
        p = e + 1;
    }
    out[len] = '\0';
    return out;
}

/* api->output_get_property(key, o_ins) == flb_output_get_property(). */
static const char *host_get_property(const char *key, void *o_ins)
{
    struct instance *ins = o_ins;
    const char *found = NULL;
    int hit = 0, hidden = 0;

    if (key && key[0] && ins) {
        for (int i = 0; i < ins->nprops; i++) {
            if (strcasecmp(ins->props[i].key, key) == 0) {
                hit = 1;
                hidden = ins->props[i].hidden;
                if (!hidden) { /* core keys never reach the plugin's list */
                    found = ins->props[i].val;
                }
                break; /* first match wins */
            }
        }
    }
    /* A miss at init is not worth a line: the plugin probes tens of
     * thousands of misspellings of its keys there. Any lookup outside
     * init is, since none should happen. */
    if (hit || atomic_load(&phase) != PH_INIT) {
        emit("getprop instance=%d phase=%s key=%s found=%d hidden=%d", ins ? ins->id : -1,
             phase_names[atomic_load(&phase)], key ? key : "(null)", found != NULL, hit && hidden);
    }
    return found;
}

static const char *api_input_get_property(const char *key, void *i_ins)
{
    (void)i_ins;
    emit("error msg=plugin called api->input_get_property(%s) on an output", key ? key : "(null)");
    return NULL;
}

static void *api_get_cmt(void *ins)
{
    (void)ins;
    emit("error msg=plugin called api->*_get_cmt_instance (not provided by flbhost)");
    return NULL;
}

static void api_log_print(int level, const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    (void)file;
    (void)line;
    pthread_mutex_lock(&out_lock);
    fprintf(stderr, "[flbhost log_print level=%d] ", level);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    pthread_mutex_unlock(&out_lock);
}

static int api_log_check(void *ins, int level)
{
    (void)ins;
    (void)level;
    return 1;
}

static struct flb_api api = {
    host_get_property, api_input_get_property, api_get_cmt, api_get_cmt,
    api_log_print,     api_log_check,          api_log_check,
};

/* ---- chunk files -------------------------------------------------------- */

static int load_chunks(struct instance *ins, const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        emit("error msg=cannot open chunk file %s: %s", path, strerror(errno));
        return -1;
    }
    for (;;) {
        unsigned char hdr[4];
        size_t n = fread(hdr, 1, 4, f);
        if (n == 0) {
            break;
        }
        if (n != 4) {
            emit("error msg=truncated frame header in %s", path);
            fclose(f);
            return -1;
        }
        size_t len = ((size_t)hdr[0] << 24) | ((size_t)hdr[1] << 16) | ((size_t)hdr[2] << 8) | hdr[3];
        unsigned char *buf = xmalloc(len);
        if (len && fread(buf, 1, len, f) != len) {
            emit("error msg=truncated frame in %s (want %zu bytes)", path, len);
            free(buf);
            fclose(f);
            return -1;
        }
        struct chunk *nc = realloc(ins->chunks, sizeof(*nc) * (size_t)(ins->nchunks + 1));
        if (!nc) {
            emit("error msg=out of memory");
            exit(1);
        }
        ins->chunks = nc;
        ins->chunks[ins->nchunks].data = buf;
        ins->chunks[ins->nchunks].size = len;
        ins->nchunks++;
    }
    fclose(f);
    return 0;
}

/* ---- flush (proxy_cb_flush -> proxy_go_output_flush) -------------------- */

struct flush_job {
    struct instance *ins;
    int chunk;
    int rc;
};

static _Thread_local struct flush_job *cur_job;

static int do_flush(struct flush_job *j)
{
    struct chunk *c = &j->ins->chunks[j->chunk];
    /* The event chunk is only valid during the call: hand the plugin a fresh
     * copy, and scribble over it before freeing so a plugin that keeps the
     * pointer reads garbage (as it would in Fluent Bit). */
    unsigned char *data = xmalloc(c->size);
    memcpy(data, c->data, c->size);
    size_t tlen = strlen(tag);
    char *buf = xmalloc(tlen + 1);
    memcpy(buf, tag, tlen + 1);
    int rc;

    if (plugin->cb_flush_ctx) {
        rc = plugin->cb_flush_ctx(j->ins->remote_context, data, c->size, buf);
    }
    else {
        rc = plugin->cb_flush(data, c->size, buf);
    }
    memset(data, GARBAGE, c->size);
    memset(buf, GARBAGE, tlen);
    free(buf);
    free(data);
    return rc;
}

static void coro_entry(void)
{
    struct flush_job *j = cur_job;
    j->rc = do_flush(j);
}

static int run_flush(struct flush_job *j)
{
    if (coro_stack_size <= 0) {
        return do_flush(j);
    }
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t sz = ((size_t)coro_stack_size + page - 1) / page * page;
    unsigned char *mem = mmap(NULL, sz + page, PROT_READ | PROT_WRITE,
                              MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (mem == MAP_FAILED) {
        emit("error msg=mmap coroutine stack: %s", strerror(errno));
        exit(1);
    }
    mprotect(mem, page, PROT_NONE); /* guard page: overflow = SIGSEGV, not corruption */
    ucontext_t caller, coro;
    getcontext(&coro);
    coro.uc_stack.ss_sp = mem + page;
    coro.uc_stack.ss_size = sz;
    coro.uc_link = &caller;
    makecontext(&coro, coro_entry, 0);
    cur_job = j;
    if (swapcontext(&caller, &coro) != 0) {
        emit("error msg=swapcontext: %s", strerror(errno));
        exit(1);
    }
    munmap(mem, sz + page);
    return j->rc;
}

static void flush_one(struct instance *ins, int chunk, int thread)
{
    for (int attempt = 1;; attempt++) {
        struct flush_job j = {ins, chunk, 0};
        int64_t t0 = now_ns();
        int rc = run_flush(&j);
        int64_t t1 = now_ns();
        emit("flush instance=%d chunk=%d thread=%d rc=%d t0=%" PRId64 " t1=%" PRId64
             " attempt=%d bytes=%zu",
             ins->id, chunk, thread, rc, t0, t1, attempt, ins->chunks[chunk].size);
        if (rc != FLB_RETRY || attempt > retry_limit) {
            return;
        }
        sleep_ms(retry_wait_ms);
    }
}

struct worker_arg {
    struct instance *ins;
    int thread;
};

static void *worker_main(void *p)
{
    struct worker_arg *w = p;
    int first = 1;
    for (;;) {
        pthread_mutex_lock(&w->ins->qlock);
        int c = w->ins->next < w->ins->nchunks ? w->ins->next++ : -1;
        pthread_mutex_unlock(&w->ins->qlock);
        if (c < 0) {
            break;
        }
        if (!first && flush_gap_ms > 0) {
            sleep_ms(flush_gap_ms);
        }
        first = 0;
        flush_one(w->ins, c, w->thread);
    }
    return NULL;
}

/* ---- engine thread ------------------------------------------------------ */

static int engine_status;

static void exit_instance(struct instance *ins)
{
    if (cb_pre_exit) {
        cb_pre_exit(0);
        emit("preexit instance=%d", ins->id);
    }
    if (plugin->cb_exit_ctx) {
        int rc = plugin->cb_exit_ctx(ins->remote_context);
        emit("exit instance=%d rc=%d cb=FLBPluginExitCtx", ins->id, rc);
    }
    else if (plugin->cb_exit) {
        int rc = plugin->cb_exit();
        emit("exit instance=%d rc=%d cb=FLBPluginExit", ins->id, rc);
    }
    else {
        emit("exit instance=%d rc=0 cb=none", ins->id);
    }
}

/*
 * Hot reload (flb_reload()): the same .so is registered again with
 * PreRegister(1), new instances (same properties, numbered after the old
 * ones) are initialised and flushed while the old ones still exist, then the
 * old context is stopped: its instances exit and the old definition is
 * unregistered. The new instances take over and exit at the end.
 */
static void do_reload(void)
{
    emit("reload");
    atomic_store(&phase, PH_REGISTER);
    if (cb_pre_register) {
        emit("preregister rc=%d hot_reloading=1", cb_pre_register(1));
    }
    struct flb_plugin_proxy_def *def2 = xmalloc(sizeof(*def2));
    memset(def2, GARBAGE, sizeof(*def2));
    int rrc = cb_register(def2);
    emit("register rc=%d type=%d proxy=%d flags=%d name=%s reload=1", rrc, def2->type, def2->proxy,
         def2->flags, (def2->name && (uintptr_t)def2->name != garbage_ptr) ? def2->name : "(unset)");

    struct instance *next = xmalloc(sizeof(*next) * (size_t)ninstances);
    atomic_store(&phase, PH_INIT);
    for (int i = 0; i < ninstances; i++) {
        struct instance *ins = &next[i];
        *ins = instances[i];
        ins->id = ninstances + i;
        ins->ctx = calloc(1, sizeof(*ins->ctx));
        ins->remote_context = NULL;
        ins->init_rc = 0;
        ins->initialized = 0;
        ins->next = 0;
        pthread_mutex_init(&ins->qlock, NULL);
        if (!ins->ctx) {
            emit("error msg=out of memory");
            exit(1);
        }
        ins->ctx->proxy = &proxy;
        plugin->o_ins = ins;
        plugin->context = ins->ctx;
        ins->init_rc = plugin->cb_init(plugin);
        ins->remote_context = ins->ctx->remote_context;
        emit("init instance=%d rc=%d remote_context=%s", ins->id, ins->init_rc,
             ins->remote_context ? "set" : "null");
        ins->initialized = ins->init_rc > 0;
    }
    atomic_store(&phase, PH_FLUSH);
    for (int i = 0; i < ninstances; i++) {
        for (int c = 0; next[i].initialized && c < next[i].nchunks; c++) {
            flush_one(&next[i], c, 0);
        }
    }
    emit("flushed reload=1");
    atomic_store(&phase, PH_EXIT);
    for (int i = 0; i < ninstances; i++) {
        if (instances[i].initialized) {
            exit_instance(&instances[i]);
        }
    }
    atomic_store(&phase, PH_UNREGISTER);
    if (cb_unregister) {
        cb_unregister(def);
        emit("unregister reload=1");
    }
    def = def2;
    instances = next;
}

static void *engine_main(void *unused)
{
    (void)unused;
    int failed = 0;

    /* flb_output_init_all(): instances in configuration order */
    atomic_store(&phase, PH_INIT);
    for (int i = 0; i < ninstances; i++) {
        struct instance *ins = &instances[i];
        ins->ctx = calloc(1, sizeof(*ins->ctx));
        if (!ins->ctx) {
            emit("error msg=out of memory");
            exit(1);
        }
        ins->ctx->proxy = &proxy;
        proxy.instance = ins;
        /* proxy_go_output_init(): rewrite the shared struct */
        plugin->api = proxy.api;
        plugin->o_ins = ins;
        plugin->context = ins->ctx;
        ins->init_rc = plugin->cb_init(plugin);
        ins->remote_context = ins->ctx->remote_context;
        emit("init instance=%d rc=%d remote_context=%s", i, ins->init_rc,
             ins->remote_context ? "set" : "null");
        if (ins->init_rc <= 0) {
            emit("error instance=%d msg=[go proxy]: plugin '%s' failed to initialize", i,
                 plugin->name);
            failed = 1;
            continue;
        }
        ins->initialized = 1;
    }

    /* flb_output_pre_run() */
    if (cb_pre_run) {
        atomic_store(&phase, PH_PRERUN);
        for (int i = 0; i < ninstances; i++) {
            if (instances[i].initialized) {
                int rc = cb_pre_run(0);
                emit("prerun instance=%d rc=%d", i, rc);
            }
        }
    }

    atomic_store(&phase, PH_FLUSH);
    if (nthreads <= 1) {
        /* no Workers: every flush runs on the engine thread */
        int first = 1;
        for (int i = 0; i < ninstances; i++) {
            struct instance *ins = &instances[i];
            if (!ins->initialized) {
                if (ins->nchunks) {
                    emit("skip instance=%d chunks=%d reason=init-failed", i, ins->nchunks);
                }
                continue;
            }
            for (int c = 0; c < ins->nchunks; c++) {
                if (!first && flush_gap_ms > 0) {
                    sleep_ms(flush_gap_ms);
                }
                first = 0;
                flush_one(ins, c, 0);
            }
        }
    }
    else {
        /* Workers N: each instance has its own pool; pools run concurrently */
        pthread_t *tids = xmalloc(sizeof(pthread_t) * (size_t)(ninstances * nthreads));
        struct worker_arg *args = xmalloc(sizeof(*args) * (size_t)(ninstances * nthreads));
        int n = 0;
        for (int i = 0; i < ninstances; i++) {
            struct instance *ins = &instances[i];
            if (!ins->initialized) {
                if (ins->nchunks) {
                    emit("skip instance=%d chunks=%d reason=init-failed", i, ins->nchunks);
                }
                continue;
            }
            if (ins->nchunks == 0) {
                continue;
            }
            for (int t = 0; t < nthreads; t++) {
                args[n].ins = ins;
                args[n].thread = t;
                if (pthread_create(&tids[n], NULL, worker_main, &args[n]) != 0) {
                    emit("error msg=pthread_create failed");
                    exit(1);
                }
                n++;
            }
        }
        for (int k = 0; k < n; k++) {
            pthread_join(tids[k], NULL);
        }
        free(tids);
        free(args);
    }
    emit("flushed");

    if (sleep_before_exit_ms > 0) {
        emit("sleep ms=%ld", sleep_before_exit_ms);
        sleep_ms(sleep_before_exit_ms);
        if (stop_signal) {
            emit("signal sig=%d msg=sleep cut short", (int)stop_signal);
        }
    }

    if (reload) {
        do_reload();
    }

    if (!no_exit) {
        /* flb_output_exit(): per instance, PreExit then ExitCtx (else Exit) */
        atomic_store(&phase, PH_EXIT);
        for (int i = 0; i < ninstances; i++) {
            if (instances[i].initialized) {
                exit_instance(&instances[i]);
            }
        }
    }
    engine_status = failed ? 3 : 0;
    return NULL;
}

/*
 * The process's peak RSS. ru_maxrss is not it: it survives execve, so a
 * host started by a large parent (a Go test, with vfork) reports the
 * parent's peak. VmHWM in /proc/self/status is this image's own.
 */
static long peak_rss_kb(long fallback)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) {
        return fallback;
    }
    char line[256];
    long kb = fallback;
    while (fgets(line, sizeof(line), f)) {
        if (strncmp(line, "VmHWM:", 6) == 0) {
            kb = strtol(line + 6, NULL, 10);
            break;
        }
    }
    fclose(f);
    return kb;
}

/* The process's CPU time and peak RSS, for the benchmarks. */
static void emit_rusage(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0) {
        emit("rusage utime_us=%ld stime_us=%ld maxrss_kb=%ld",
             (long)ru.ru_utime.tv_sec * 1000000L + (long)ru.ru_utime.tv_usec,
             (long)ru.ru_stime.tv_sec * 1000000L + (long)ru.ru_stime.tv_usec,
             peak_rss_kb((long)ru.ru_maxrss));
    }
}

static void on_signal(int sig)
{
    stop_signal = sig;
}

/* ---- main --------------------------------------------------------------- */

static void usage(void)
{
    fprintf(stderr,
            "usage: flbhost --so PATH [--threads N] [--tag TAG] [--sleep-before-exit-ms N]\n"
            "               [--flush-gap-ms N] [--no-exit] [--reload] [--coro-stack-size BYTES]\n"
            "               [--retry-limit N] [--retry-wait-ms N]\n"
            "               --instance [-p key=value]...   (repeatable)\n"
            "               [--chunks I FILE]...\n"
            "exit status: 0 ok, 1 usage/io error, 2 load/register failure, 3 an Init failed\n");
}

static long parse_long(const char *s, const char *what)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || end == s || v < 0) {
        fprintf(stderr, "flbhost: invalid %s: %s\n", what, s);
        emit("error msg=invalid %s: %s", what, s);
        exit(1);
    }
    return v;
}

static void *sym(void *h, const char *name)
{
    dlerror();
    void *s = dlsym(h, name);
    if (dlerror() != NULL) {
        return NULL;
    }
    return s;
}

int main(int argc, char **argv)
{
    struct {
        int ins;
        const char *path;
    } *files = xmalloc(sizeof(*files) * (size_t)argc);
    int nfiles = 0;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
#define NEED(n)                                                  \
    if (i + (n) >= argc) {                                       \
        fprintf(stderr, "flbhost: %s needs an argument\n", a);   \
        usage();                                                 \
        return 1;                                                \
    }
        if (strcmp(a, "--so") == 0) {
            NEED(1);
            so_path = argv[++i];
        }
        else if (strcmp(a, "--threads") == 0) {
            NEED(1);
            nthreads = (int)parse_long(argv[++i], "--threads");
            if (nthreads < 1) {
                nthreads = 1;
            }
        }
        else if (strcmp(a, "--tag") == 0) {
            NEED(1);
            tag = argv[++i];
        }
        else if (strcmp(a, "--sleep-before-exit-ms") == 0) {
            NEED(1);
            sleep_before_exit_ms = parse_long(argv[++i], a);
        }
        else if (strcmp(a, "--flush-gap-ms") == 0) {
            NEED(1);
            flush_gap_ms = parse_long(argv[++i], a);
        }
        else if (strcmp(a, "--coro-stack-size") == 0) {
            NEED(1);
            coro_stack_size = parse_long(argv[++i], a);
        }
        else if (strcmp(a, "--retry-limit") == 0) {
            NEED(1);
            retry_limit = (int)parse_long(argv[++i], a);
        }
        else if (strcmp(a, "--retry-wait-ms") == 0) {
            NEED(1);
            retry_wait_ms = parse_long(argv[++i], a);
        }
        else if (strcmp(a, "--reload") == 0) {
            reload = 1;
        }
        else if (strcmp(a, "--no-exit") == 0) {
            no_exit = 1;
        }
        else if (strcmp(a, "--instance") == 0) {
            struct instance *n = realloc(instances, sizeof(*n) * (size_t)(ninstances + 1));
            if (!n) {
                return 1;
            }
            instances = n;
            memset(&instances[ninstances], 0, sizeof(*n));
            instances[ninstances].id = ninstances;
            pthread_mutex_init(&instances[ninstances].qlock, NULL);
            ninstances++;
        }
        else if (strcmp(a, "-p") == 0) {
            NEED(1);
            const char *kv = argv[++i];
            const char *eq = strchr(kv, '=');
            if (ninstances == 0) {
                fprintf(stderr, "flbhost: -p before --instance\n");
                return 1;
            }
            if (!eq || eq == kv) {
                fprintf(stderr, "flbhost: -p wants key=value, got %s\n", kv);
                return 1;
            }
            struct instance *ins = &instances[ninstances - 1];
            struct prop *np = realloc(ins->props, sizeof(*np) * (size_t)(ins->nprops + 1));
            if (!np) {
                return 1;
            }
            ins->props = np;
            struct prop *p = &ins->props[ins->nprops++];
            p->key = xmalloc((size_t)(eq - kv) + 1);
            memcpy(p->key, kv, (size_t)(eq - kv));
            p->key[eq - kv] = '\0';
            p->val = expand_env(eq + 1);
            if (p->val[0] == '\0') {
                free(p->val);
                p->val = NULL;
            }
            p->hidden = core_key(p->key);
        }
        else if (strcmp(a, "--chunks") == 0) {
            NEED(2);
            files[nfiles].ins = (int)parse_long(argv[++i], "--chunks instance");
            files[nfiles].path = argv[++i];
            nfiles++;
        }
        else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage();
            return 0;
        }
        else {
            fprintf(stderr, "flbhost: unknown argument %s\n", a);
            usage();
            return 1;
        }
#undef NEED
    }
    if (!so_path) {
        fprintf(stderr, "flbhost: --so is required\n");
        usage();
        return 1;
    }
    for (int f = 0; f < nfiles; f++) {
        if (files[f].ins >= ninstances) {
            emit("error msg=--chunks %d %s: no such instance (have %d)", files[f].ins,
                 files[f].path, ninstances);
            return 1;
        }
        if (load_chunks(&instances[files[f].ins], files[f].path) != 0) {
            return 1;
        }
    }
    free(files);
    for (int i = 0; i < ninstances; i++) {
        emit("instance id=%d props=%d chunks=%d", i, instances[i].nprops, instances[i].nchunks);
    }

    /* flb_plugin_proxy_create() */
    void *h = dlopen(so_path, RTLD_LAZY);
    if (!h) {
        emit("error msg=[proxy] error opening plugin %s: '%s'", so_path, dlerror());
        return 2;
    }
    emit("load path=%s", so_path);

    cb_pre_register = sym(h, "FLBPluginPreRegister");
    cb_register = sym(h, "FLBPluginRegister");
    void *s_init = sym(h, "FLBPluginInit");
    void *s_flush = sym(h, "FLBPluginFlush");
    void *s_flush_ctx = sym(h, "FLBPluginFlushCtx");
    void *s_exit = sym(h, "FLBPluginExit");
    void *s_exit_ctx = sym(h, "FLBPluginExitCtx");
    cb_pre_run = sym(h, "FLBPluginOutputPreRun");
    cb_pre_exit = sym(h, "FLBPluginOutputPreExit");
    cb_unregister = sym(h, "FLBPluginUnregister");
    emit("symbols pre_register=%d register=%d init=%d flush=%d flush_ctx=%d exit=%d exit_ctx=%d "
         "pre_run=%d pre_exit=%d unregister=%d",
         cb_pre_register != NULL, cb_register != NULL, s_init != NULL, s_flush != NULL,
         s_flush_ctx != NULL, s_exit != NULL, s_exit_ctx != NULL, cb_pre_run != NULL,
         cb_pre_exit != NULL, cb_unregister != NULL);

    /* flb_plugin_proxy_register() */
    atomic_store(&phase, PH_REGISTER);
    if (cb_pre_register) {
        int rc = cb_pre_register(0);
        emit("preregister rc=%d", rc);
        if (rc == -1) {
            emit("error msg=FLBPluginPreRegister returned -1: plugin not registered");
            return 2;
        }
    }
    if (!cb_register) {
        emit("error msg=FLBPluginRegister not exported: plugin not registered");
        return 2;
    }
    def = malloc(sizeof(*def)); /* Fluent Bit <= 4.x: malloc, not zeroed */
    if (!def) {
        return 1;
    }
    memset(def, GARBAGE, sizeof(*def));
    int rrc = cb_register(def);
    int name_ok = def->name != NULL && (uintptr_t)def->name != garbage_ptr;
    int desc_ok = def->description != NULL && (uintptr_t)def->description != garbage_ptr;
    emit("register rc=%d type=%d proxy=%d flags=%d name=%s", rrc, def->type, def->proxy,
         def->flags, name_ok ? def->name : "(unset)");
    if (desc_ok) {
        emit("description msg=%s", def->description);
    }
    if (rrc != 0) {
        emit("error msg=FLBPluginRegister returned %d", rrc);
        return 2;
    }
    if (def->proxy != FLB_PROXY_GOLANG || def->type != FLB_PROXY_OUTPUT_PLUGIN || !name_ok) {
        emit("error msg=registration did not set type=%d proxy=%d and a name: Fluent Bit would "
             "silently ignore this plugin",
             FLB_PROXY_OUTPUT_PLUGIN, FLB_PROXY_GOLANG);
        return 2;
    }
    if (strncmp(def->name, "flb-", 4) == 0) {
        emit("warning msg=name starts with flb-");
    }

    /* proxy_go_output_register() */
    if (!s_init) {
        emit("error msg=[go proxy]: could not load FLBPluginInit symbol");
        return 2;
    }
    plugin = malloc(sizeof(*plugin)); /* flb_malloc, not zeroed */
    if (!plugin) {
        return 1;
    }
    memset(plugin, GARBAGE, sizeof(*plugin));
    plugin->cb_init = (int (*)(struct flbgo_output_plugin *))s_init;
    plugin->cb_flush = (int (*)(const void *, size_t, const char *))s_flush;
    plugin->cb_flush_ctx = (int (*)(void *, const void *, size_t, char *))s_flush_ctx;
    plugin->cb_exit = (int (*)(void))s_exit;
    plugin->cb_exit_ctx = (int (*)(void *))s_exit_ctx;
    plugin->name = xstrdup(def->name);
    proxy.def = def;
    proxy.api = &api;
    proxy.dso_handler = h;
    proxy.data = plugin;

    int any_chunks = 0;
    for (int i = 0; i < ninstances; i++) {
        any_chunks |= instances[i].nchunks > 0;
    }
    if (any_chunks && !s_flush && !s_flush_ctx) {
        emit("error msg=neither FLBPluginFlushCtx nor FLBPluginFlush exported: Fluent Bit "
             "segfaults on the first flush");
        return 2;
    }

    /* flb_signal_init() comes after the plugins are loaded */
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    pthread_t engine;
    if (pthread_create(&engine, NULL, engine_main, NULL) != 0) {
        emit("error msg=pthread_create failed");
        return 1;
    }
    pthread_join(engine, NULL);

    emit_rusage();
    if (no_exit) {
        emit("done status=%d exit=skipped", engine_status);
        fflush(NULL);
        _exit(engine_status);
    }

    /* flb_proxy_output_cb_destroy(): once per plugin */
    atomic_store(&phase, PH_UNREGISTER);
    if (cb_unregister) {
        cb_unregister(def);
        emit("unregister");
    }
    free(plugin->name);
    free(plugin);
    free(def);
    dlclose(h); /* no-op for Go: c-shared libraries are linked -z nodelete */
    emit("done status=%d", engine_status);
    return engine_status;
}
