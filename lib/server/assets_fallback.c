/* The built-in pages when the viewer is not built: one page saying how to get it. */
#include "server/assets.h"

static const unsigned char index_html[] =
    "<!doctype html>\n"
    "<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Hermes</title></head>\n"
    "<body><h1>Hermes</h1>\n"
    "<p>The Hermes viewer is not built into this library. To build it, install node and npm, then "
    "from the source tree run <code>npm ci --prefix viewer</code> and "
    "<code>meson setup --reconfigure build &amp;&amp; ninja -C build</code> (docs/viewer.md).</p>\n"
    "<p>The WebSocket protocol is served on this port (docs/protocol.md).</p>\n"
    "</body></html>\n";

static const struct hermes__asset assets[] = {
    {"/", "text/html; charset=utf-8", index_html, sizeof index_html - 1},
};

const struct hermes__asset *hermes__assets(size_t *count)
{
    *count = sizeof assets / sizeof assets[0];
    return assets;
}
