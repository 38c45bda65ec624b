/* A real `hermes run` child for the end-to-end tests: started with its
 * stdout+stderr in a log file, its WebSocket port read back from the log line
 * event=listening, and reaped with a bounded wait. One child at a time per
 * test binary (the state below is per translation unit). */
#ifndef HERMES_TEST_CHILD_H
#define HERMES_TEST_CHILD_H

#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_util.h"

#ifndef HERMES_CLI
#error "HERMES_CLI must name the hermes executable"
#endif

static pid_t child = -1;
static char logpath[256];

/* Fork and exec `hermes run ARGS...` (NULL-terminated) with output in logpath. */
static void spawn_hermes(const char *const *args)
{
    child = fork();
    if (child == 0) {
        int fd = open(logpath, O_CREAT | O_TRUNC | O_WRONLY, 0644);
        if (fd < 0)
            _exit(127);
        dup2(fd, 1);
        dup2(fd, 2);
        char *argv[32];
        int k = 0;
        argv[k++] = (char *)HERMES_CLI;
        argv[k++] = (char *)"run";
        for (int i = 0; args[i] && k < 31; i++)
            argv[k++] = (char *)args[i];
        argv[k] = NULL;
        execv(HERMES_CLI, argv);
        _exit(127);
    }
}

/* The port from the child's event=listening line, or -1 when the child
 * exited or @p seconds passed. */
static int wait_listening_port(double seconds)
{
    double end = test_now() + seconds;
    while (child > 0 && test_now() < end) {
        FILE *f = fopen(logpath, "r");
        char line[2048];
        int port = -1;
        while (f && fgets(line, sizeof line, f)) {
            const char *p = strstr(line, "event=listening");
            if (p && (p = strstr(p, " port=")))
                port = atoi(p + 6);
        }
        if (f)
            fclose(f);
        if (port > 0)
            return port;
        if (waitpid(child, NULL, WNOHANG) == child) {
            child = -1;
            return -1;
        }
        usleep(20000);
    }
    return -1;
}

/* Exit status of hermes (128 + signal when killed), or -1 after @p seconds. */
static int wait_hermes(double seconds)
{
    double end = test_now() + seconds;
    while (child > 0 && test_now() < end) {
        int st;
        if (waitpid(child, &st, WNOHANG) == child) {
            child = -1;
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        }
        usleep(10000);
    }
    return -1;
}

/* Whether any line of the child's log contains @p needle. */
static bool log_contains(const char *needle) { return file_contains(logpath, needle); }

#endif
