/* log.c -- JSON-lines logging. */
#include "core/log.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"

static _Atomic int log_level = LOG_INFO;
static _Atomic int audit_fd = -1;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void log_set_level(enum log_level lvl)
{
    log_level = lvl;
}

bool log_enabled(enum log_level lvl)
{
    return (int)lvl >= log_level;
}

int log_audit_open(const char *path)
{
    int old = atomic_exchange(&audit_fd, -1);
    if (old >= 0)
        close(old);
    if (path == NULL)
        return 0;
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    audit_fd = fd;
    return 0;
}

static void log_head(struct buf *b, const char *level, const char *event)
{
    /* The date part is formatted once per second and thread: gmtime_r takes glibc's time
     * zone lock and strftime is slow, and every request writes a line. */
    static _Thread_local time_t cached_sec = -1;
    static _Thread_local char cached[24];
    struct timespec ts;
    char ms[8];
    clock_gettime(CLOCK_REALTIME, &ts);
    if (ts.tv_sec != cached_sec) {
        struct tm tm;
        gmtime_r(&ts.tv_sec, &tm);
        strftime(cached, sizeof cached, "%Y-%m-%dT%H:%M:%S", &tm);
        cached_sec = ts.tv_sec;
    }
    long msec = ts.tv_nsec / 1000000;
    ms[0] = '.';
    ms[1] = (char)('0' + msec / 100);
    ms[2] = (char)('0' + msec / 10 % 10);
    ms[3] = (char)('0' + msec % 10);
    ms[4] = 'Z';
    ms[5] = '\0';
    buf_adds(b, "{\"time\":\"");
    buf_adds(b, cached);
    buf_adds(b, ms);
    buf_adds(b, "\",\"level\":\"");
    buf_adds(b, level);
    buf_adds(b, "\",\"event\":\"");
    buf_add_json(b, event);
    buf_adds(b, "\"");
}

static void log_write(int fd, struct buf *b)
{
    buf_adds(b, "}\n");
    if (!buf_failed(b)) {
        ssize_t rc = write(fd, buf_str(b), buf_len(b));
        (void)rc;
    }
    buf_free(b);
}

void log_event(enum log_level lvl, const char *event, const char *fmt, ...)
{
    if (!log_enabled(lvl))
        return;
    struct buf msg, b;
    va_list ap;
    buf_init(&msg, 16384);
    va_start(ap, fmt);
    buf_vaddf(&msg, fmt, ap);
    va_end(ap);
    buf_init(&b, 65536);
    log_head(&b, level_names[lvl], event);
    buf_adds(&b, ",\"msg\":\"");
    buf_add_json(&b, buf_str(&msg));
    buf_adds(&b, "\"");
    buf_free(&msg);
    log_write(STDERR_FILENO, &b);
}

/* Whether v is a JSON integer: an optional '-', then 1 to 18 digits without a leading 0. */
static bool is_json_int(const char *v)
{
    size_t n;
    if (*v == '-')
        v++;
    n = strspn(v, "0123456789");
    return n > 0 && n <= 18 && v[n] == '\0' && (v[0] != '0' || n == 1);
}

/* ,"key":"value" (a NULL value: null); numeric writes a JSON number (null if it is none). */
static void log_pair(struct buf *b, const char *k, const char *v, bool numeric)
{
    buf_adds(b, ",\"");
    buf_add_json(b, k);
    if (v == NULL || (numeric && !is_json_int(v))) {
        buf_adds(b, "\":null");
    } else if (numeric) {
        buf_adds(b, "\":");
        buf_adds(b, v);
    } else {
        buf_adds(b, "\":\"");
        buf_add_json(b, v);
        buf_adds(b, "\"");
    }
}

/* The NULL-terminated pairs of ap; NULL values are skipped; "#key" writes a number. */
static void log_pairs(struct buf *b, va_list ap)
{
    const char *k;
    while ((k = va_arg(ap, const char *)) != NULL) {
        const char *v = va_arg(ap, const char *);
        if (v == NULL)
            continue;
        log_pair(b, k[0] == '#' ? k + 1 : k, v, k[0] == '#');
    }
}

void log_kv(enum log_level lvl, const char *event, ...)
{
    if (!log_enabled(lvl))
        return;
    struct buf b;
    va_list ap;
    buf_init(&b, 65536);
    log_head(&b, level_names[lvl], event);
    va_start(ap, event);
    log_pairs(&b, ap);
    va_end(ap);
    log_write(STDERR_FILENO, &b);
}

void log_audit(const struct log_actor *who, const char *event, const char *result, ...)
{
    static const struct log_actor nobody;
    int fd = audit_fd;
    if (fd < 0)
        return;
    struct buf b;
    va_list ap;
    if (who == NULL)
        who = &nobody;
    buf_init(&b, 65536);
    log_head(&b, "audit", event);
    log_pair(&b, "result", result, false);
    log_pair(&b, "request_id", who->request_id, false);
    log_pair(&b, "source_ip", who->source_ip, false);
    log_pair(&b, "access_key", who->access_key, false);
    log_pair(&b, "principal", who->principal, false);
    va_start(ap, result);
    log_pairs(&b, ap);
    va_end(ap);
    log_write(fd, &b);
}
