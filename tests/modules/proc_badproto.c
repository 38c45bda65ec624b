/* Test process module that speaks a protocol version Hermes does not: it
 * attaches through the library's internal entry point with version 999, as
 * a module built against a future libhermes would. Links the static core. */
#include <hermes/hermes.h>
#include <stdio.h>
#include <stdlib.h>

#include "module/protocol.h"

int main(void)
{
    hermes_module_t *m;
    int rc = hermes__module_attach_protocol(&m, getenv(HERMES_ENV_BACKPLANE), getenv(HERMES_ENV_MODULE), 999u);
    if (rc == 0) {
        fprintf(stderr, "proc_badproto: attach unexpectedly succeeded\n");
        hermes_module_close(m);
        return 0;
    }
    fprintf(stderr, "proc_badproto: %s\n", hermes_last_error());
    return rc == HERMES_EABI ? 4 : 1;
}
