/* Integration-test helpers: see itest.h. The broker registry keeps copies of the
 * test_server records, not pointers, because a test's stack frame is gone by the time the
 * checked teardown runs after a failed assertion (CK_NOFORK longjmps out of the test).
 * Touched by the test thread only, except the counters. */
#include "tests/integration/itest.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* More brokers than any one test starts at once. */
enum { ITEST_SERVERS_MAX = 8 };

static struct test_server itest_servers[ITEST_SERVERS_MAX];

int64_t itest_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const char *itest_last_error(void)
{
    const char *text = nats_GetLastError(NULL);
    return text != NULL ? text : "";
}

static void server_register(struct test_server *server);

void itest_server_start(struct test_server *server, const struct test_server_options *options)
{
    int rc = test_server_start(server, options);
    ck_assert_msg(rc == 0, "broker did not start: %s (log %s)", strerror(-rc), server->log_path);
    server_register(server);
}

void itest_reference_start(struct test_server *server, const struct test_server_options *options)
{
    int rc = test_server_start_reference(server, options);
    ck_assert_msg(rc == 0, "nats-server did not start: %s (log %s)", strerror(-rc),
                  server->log_path);
    server_register(server);
}

/* Remembered for itest_teardown. */
static void server_register(struct test_server *server)
{
    for (int i = 0; i < ITEST_SERVERS_MAX; i++) {
        if (itest_servers[i].pid == 0) {
            itest_servers[i] = *server;
            return;
        }
    }
    test_server_stop(server);
    ck_abort_msg("more than %d brokers in one test", ITEST_SERVERS_MAX);
}

void itest_server_stop(struct test_server *server)
{
    for (int i = 0; i < ITEST_SERVERS_MAX; i++) {
        if (itest_servers[i].pid != 0 && itest_servers[i].pid == server->pid) {
            memset(&itest_servers[i], 0, sizeof itest_servers[i]);
        }
    }
    test_server_stop(server);
}

void itest_teardown(void)
{
    for (int i = 0; i < ITEST_SERVERS_MAX; i++) {
        if (itest_servers[i].pid != 0) {
            test_server_stop(&itest_servers[i]);
            memset(&itest_servers[i], 0, sizeof itest_servers[i]);
        }
    }
}

natsOptions *itest_options(const char *url)
{
    natsOptions *options = NULL;
    ITEST_OK(natsOptions_Create(&options));
    ITEST_OK(natsOptions_SetURL(options, url));
    ITEST_OK(natsOptions_SetAllowReconnect(options, false));
    ITEST_OK(natsOptions_SetTimeout(options, ITEST_CONNECT_TIMEOUT_MS));
    return options;
}

natsConnection *itest_connect_options(natsOptions *options)
{
    natsConnection *connection = NULL;
    ITEST_OK(natsConnection_Connect(&connection, options));
    return connection;
}

natsConnection *itest_connect(const char *url)
{
    natsOptions *options = itest_options(url);
    natsConnection *connection = itest_connect_options(options);
    natsOptions_Destroy(options);
    return connection;
}

void itest_flush(natsConnection *connection)
{
    ITEST_OK(natsConnection_FlushTimeout(connection, ITEST_WAIT_MS));
}

void itest_counter_init(struct itest_counter *counter)
{
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_mutex_init(&counter->lock, NULL);
    pthread_cond_init(&counter->changed, &attr);
    pthread_condattr_destroy(&attr);
    counter->count = 0;
    counter->wake_at = 0;
}

void itest_counter_destroy(struct itest_counter *counter)
{
    pthread_cond_destroy(&counter->changed);
    pthread_mutex_destroy(&counter->lock);
}

void itest_counter_add(struct itest_counter *counter, long amount)
{
    pthread_mutex_lock(&counter->lock);
    counter->count += amount;
    if (counter->count >= counter->wake_at) {
        pthread_cond_broadcast(&counter->changed);
    }
    pthread_mutex_unlock(&counter->lock);
}

long itest_counter_get(struct itest_counter *counter)
{
    pthread_mutex_lock(&counter->lock);
    long count = counter->count;
    pthread_mutex_unlock(&counter->lock);
    return count;
}

long itest_counter_wait(struct itest_counter *counter, long target, int timeout_ms)
{
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += timeout_ms / 1000;
    deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec += 1;
        deadline.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&counter->lock);
    counter->wake_at = target;
    while (counter->count < target) {
        if (pthread_cond_timedwait(&counter->changed, &counter->lock, &deadline) != 0) {
            break; /* ETIMEDOUT: report what arrived */
        }
    }
    long count = counter->count;
    pthread_mutex_unlock(&counter->lock);
    return count;
}

static unsigned char payload_byte(size_t index, uint64_t seq)
{
    /* Multiplier 131 walks all 256 values, so NUL, CR and LF appear in every 256 bytes. */
    return (unsigned char)((index * 131u + seq * 7u) & 0xffu);
}

void itest_payload_fill(unsigned char *data, size_t size, uint64_t seq)
{
    size_t index = 0;
    for (; index < size && index < sizeof seq; index++) {
        data[index] = (unsigned char)(seq >> (8 * index));
    }
    for (; index < size; index++) {
        data[index] = payload_byte(index, seq);
    }
}

uint64_t itest_payload_seq(const void *data, size_t size)
{
    const unsigned char *bytes = data;
    uint64_t seq = 0;
    for (size_t index = 0; index < size && index < sizeof seq; index++) {
        seq |= (uint64_t)bytes[index] << (8 * index);
    }
    return seq;
}

bool itest_payload_check(const void *data, size_t size, uint64_t seq)
{
    const unsigned char *bytes = data;
    if (size > 0 && data == NULL) {
        return false;
    }
    size_t head = size < sizeof seq ? size : sizeof seq;
    for (size_t index = 0; index < head; index++) {
        if (bytes[index] != (unsigned char)(seq >> (8 * index))) {
            return false;
        }
    }
    for (size_t index = head; index < size; index++) {
        if (bytes[index] != payload_byte(index, seq)) {
            return false;
        }
    }
    return true;
}

int itest_run(Suite *suite)
{
    /* A broker closing a raw socket must fail a send, not kill the test. */
    signal(SIGPIPE, SIG_IGN);
    SRunner *runner = srunner_create(suite);
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

int itest_monitor_port(const struct test_server *server, long wait_ms)
{
    return itest_log_port(server, "Starting http monitor on ", wait_ms);
}

int itest_log_port(const struct test_server *server, const char *needle, long wait_ms)
{
    int port = 0;
    int64_t deadline = itest_now_ms() + wait_ms;
    while (port == 0 && itest_now_ms() < deadline) {
        char line[512];
        FILE *log = fopen(server->log_path, "r");
        ck_assert_ptr_nonnull(log);
        while (port == 0 && fgets(line, sizeof line, log) != NULL) {
            const char *found = strstr(line, needle);
            const char *colon = found != NULL ? strrchr(found, ':') : NULL;
            if (colon != NULL) {
                port = atoi(colon + 1); /* host:port, the host possibly [v6] */
            }
        }
        fclose(log);
        if (port == 0) {
            struct timespec pause = {.tv_nsec = 10 * 1000 * 1000};
            nanosleep(&pause, NULL);
        }
    }
    ck_assert_msg(port > 0, "no monitoring port in %s", server->log_path);
    return port;
}

bool itest_certs_make(char *cert_dir, size_t size)
{
    snprintf(cert_dir, size, "/tmp/ionats-test-tls-XXXXXX");
    if (mkdtemp(cert_dir) == NULL) {
        return false;
    }
    char command[2048];
    snprintf(command, sizeof command,
             "(cd %s && "
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "
             "ca.key -out ca.pem -days 2 -subj '/CN=ionats test CA' && "
             "openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout server.key "
             "-out server.csr -subj '/CN=localhost' && "
             "printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > server.ext && "
             "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out "
             "server.pem -days 2 -extfile server.ext && "
             "openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout client.key "
             "-out client.csr -subj '/CN=client' && "
             "printf 'extendedKeyUsage=clientAuth\\n' > client.ext && "
             "openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out "
             "client.pem -days 2 -extfile client.ext) >/dev/null 2>&1",
             cert_dir);
    return system(command) == 0;
}

void itest_certs_remove(const char *cert_dir)
{
    char command[128];
    snprintf(command, sizeof command, "rm -rf %s", cert_dir);
    if (system(command) != 0) {
        fprintf(stderr, "could not remove %s\n", cert_dir);
    }
}

void itest_config_rewrite(struct test_server *server, const char *before, const char *after)
{
    static char text[1 << 16];
    static char rewritten[1 << 16];
    FILE *f = fopen(server->config_path, "r");
    ck_assert_ptr_nonnull(f);
    size_t length = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[length] = '\0';
    char *at = strstr(text, before);
    ck_assert_ptr_nonnull(at);
    snprintf(rewritten, sizeof rewritten, "%.*s%s%s", (int)(at - text), text, after,
             at + strlen(before));
    f = fopen(server->config_path, "w");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_ge(fputs(rewritten, f), 0);
    fclose(f);
    ck_assert_int_eq(kill(server->pid, SIGHUP), 0);
}

bool itest_log_shows(const struct test_server *server, const char *text, long wait_ms)
{
    static char log[1 << 16];
    int64_t deadline = itest_now_ms() + wait_ms;
    for (;;) {
        FILE *f = fopen(server->log_path, "r");
        size_t length = 0;
        if (f != NULL) {
            length = fread(log, 1, sizeof log - 1, f);
            fclose(f);
        }
        log[length] = '\0';
        if (strstr(log, text) != NULL) {
            return true;
        }
        if (itest_now_ms() >= deadline) {
            return false;
        }
        struct timespec pause = {.tv_nsec = 10L * 1000L * 1000L};
        nanosleep(&pause, NULL);
    }
}

void itest_logs_show(void)
{
    for (int i = 0; i < ITEST_SERVERS_MAX; i++) {
        if (itest_servers[i].pid == 0) {
            continue;
        }
        fprintf(stderr, "---- %s (pid %d) ----\n", itest_servers[i].log_path,
                (int)itest_servers[i].pid);
        FILE *log = fopen(itest_servers[i].log_path, "r");
        if (log == NULL) {
            continue;
        }
        static char tail[8192];
        fseek(log, 0, SEEK_END);
        long size = ftell(log);
        fseek(log, size > (long)sizeof tail - 1 ? size - (long)sizeof tail + 1 : 0, SEEK_SET);
        size_t length = fread(tail, 1, sizeof tail - 1, log);
        fclose(log);
        tail[length] = '\0';
        fputs(tail, stderr);
    }
}

/* Waits until a message published on `from` reaches a subscription on `to` for `subject`
 * (the link is up and the interest crossed it). False after ITEST_WAIT_MS. */
bool itest_interest_crossed(natsConnection *from, natsConnection *to, const char *subject)
{
    natsSubscription *sub = NULL;
    ITEST_OK(natsConnection_SubscribeSync(&sub, to, subject));
    itest_flush(to);
    bool crossed = false;
    int64_t deadline = itest_now_ms() + ITEST_WAIT_MS;
    while (!crossed && itest_now_ms() < deadline) {
        ITEST_OK(natsConnection_PublishString(from, subject, "probe"));
        itest_flush(from);
        natsMsg *msg = NULL;
        if (natsSubscription_NextMsg(&msg, sub, ITEST_PROBE_STEP_MS) == NATS_OK) {
            crossed = true;
            natsMsg_Destroy(msg);
        }
    }
    natsSubscription_Unsubscribe(sub);
    natsSubscription_Destroy(sub);
    return crossed;
}

/* interest_crossed, or the test fails with the brokers' logs on stderr. */
void itest_expect_crossed(natsConnection *from, natsConnection *to, const char *subject)
{
    if (!itest_interest_crossed(from, to, subject)) {
        itest_logs_show();
        ck_abort_msg("the interest in %s never crossed", subject);
    }
}
