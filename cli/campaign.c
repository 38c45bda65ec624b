/* hermes campaign: the command's usage and dispatch to plan, run, collect and status (docs/campaigns.md). */
#include <stdio.h>
#include <string.h>

#include "campaign_dir.h"

const char usage_campaign[] =
    "usage: hermes campaign <command> ...\n"
    "\n"
    "  plan CAMPAIGN.yaml DIR [--force]   write DIR: runs.csv, copies, run-local.sh, campaign.sbatch\n"
    "  run DIR INDEX [--force] [--server] [--port N]\n"
    "                                     one run (as fast as possible) into DIR/runs/INDEX/\n"
    "  collect DIR                        DIR/results.csv (and .h5), failed and missing runs, rerun command\n"
    "  status DIR                         done / failed / missing counts\n"
    "\n"
    "exit status: 0 ok, 1 a run failed (run) or some runs failed or are missing (collect),\n"
    "2 bad command line, 3 invalid campaign or base config, 4 cannot read or write DIR.\n"
    "See docs/campaigns.md for the campaign file.\n";

/* The DIR of `hermes campaign NAME DIR` (collect, status), or NULL with the
 * exit status in @p status (0 after --help, C_USAGE after a usage error). */
const char *campaign_dir_arg(const char *name, int argc, char **argv, int *status)
{
    if (argc == 2 && argv[1][0] != '-')
        return argv[1];
    if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
        fputs(usage_campaign, stdout);
        *status = 0;
        return NULL;
    }
    fprintf(stderr, "hermes campaign %s: expected DIR\n\n%s", name, usage_campaign);
    *status = C_USAGE;
    return NULL;
}

int cmd_campaign(int argc, char **argv, const char *argv0)
{
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
        fputs(usage_campaign, argc < 2 ? stderr : stdout);
        return argc < 2 ? C_USAGE : 0;
    }
    const char *sub = argv[1];
    if (!strcmp(sub, "plan"))
        return cmd_campaign_plan(argc - 1, argv + 1, argv0);
    if (!strcmp(sub, "run"))
        return cmd_campaign_run(argc - 1, argv + 1);
    if (!strcmp(sub, "collect"))
        return cmd_campaign_collect(argc - 1, argv + 1);
    if (!strcmp(sub, "status"))
        return cmd_campaign_status(argc - 1, argv + 1);
    fprintf(stderr, "hermes campaign: unknown command '%s'\n\n%s", sub, usage_campaign);
    return C_USAGE;
}
