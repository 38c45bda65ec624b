/* Point-mass launch vehicle in a vertical plane over a flat, non-rotating
 * Earth: inverse-square gravity, exponential atmosphere, quadratic drag and a
 * throttleable engine pointed along a pitch angle measured from the local
 * horizontal. Pure functions, shared by the inproc and process wrappers so
 * both compute bit-identical trajectories. */
#ifndef LAUNCH_VEHICLE_MODEL_H
#define LAUNCH_VEHICLE_MODEL_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct vehicle_params {
    double dry_mass;     /* kg */
    double fuel_mass;    /* kg */
    double max_thrust;   /* N, sea level */
    double isp;          /* s */
    double cd;           /* drag coefficient */
    double area;         /* m^2, reference area */
};

struct vehicle_state {
    double x, h;         /* downrange and altitude, m */
    double vx, vh;       /* m/s */
    double mass;         /* kg */
    double speed;        /* m/s */
    double q;            /* dynamic pressure, Pa */
    double accel;        /* sensed acceleration magnitude, m/s^2 */
    double thrust;       /* N actually produced */
};

#define VEHICLE_G0      9.80665
#define VEHICLE_R_EARTH 6371000.0

static inline void vehicle_default_params(struct vehicle_params *p)
{
    p->dry_mass = 4000.0;
    p->fuel_mass = 26000.0;
    p->max_thrust = 600000.0;
    p->isp = 280.0;
    p->cd = 0.3;
    p->area = 2.0;
}

/* Optional parameter file: "key value" lines, '#' comments. Returns 0, or -1
 * with a message in err. */
static inline int vehicle_load_params(struct vehicle_params *p, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "cannot open %s", path);
        return -1;
    }
    char line[256];
    int lineno = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        char key[64];
        double v;
        char *hash = strchr(line, '#');
        if (hash)
            *hash = '\0';
        if (sscanf(line, " %63s", key) != 1)
            continue;
        if (sscanf(line, " %63s %lf", key, &v) != 2 || !isfinite(v) || v < 0) {
            snprintf(err, errlen, "%s:%d: expected 'key non-negative-number'", path, lineno);
            fclose(f);
            return -1;
        }
        if (!strcmp(key, "dry_mass")) p->dry_mass = v;
        else if (!strcmp(key, "fuel_mass")) p->fuel_mass = v;
        else if (!strcmp(key, "max_thrust")) p->max_thrust = v;
        else if (!strcmp(key, "isp")) p->isp = v;
        else if (!strcmp(key, "cd")) p->cd = v;
        else if (!strcmp(key, "area")) p->area = v;
        else {
            snprintf(err, errlen, "%s:%d: unknown parameter '%s'", path, lineno, key);
            fclose(f);
            return -1;
        }
    }
    fclose(f);
    return 0;
}

static inline void vehicle_init(struct vehicle_state *s, const struct vehicle_params *p)
{
    memset(s, 0, sizeof *s);
    s->mass = p->dry_mass + p->fuel_mass;
}

static inline double vehicle_density(double h)
{
    return h < 0 ? 1.225 : 1.225 * exp(-h / 8500.0);
}

/* Advance by dt with thrust_cmd in newtons (clamped to [0, max]) along
 * pitch_deg above the horizontal. Semi-implicit Euler. */
static inline void vehicle_step(struct vehicle_state *s, const struct vehicle_params *p, double thrust_cmd,
                                double pitch_deg, double dt)
{
    double thrust = thrust_cmd < 0 ? 0 : thrust_cmd > p->max_thrust ? p->max_thrust : thrust_cmd;
    if (s->mass <= p->dry_mass)
        thrust = 0;
    double mdot = thrust / (p->isp * VEHICLE_G0);
    double pitch = pitch_deg * (M_PI / 180.0);
    double v = sqrt(s->vx * s->vx + s->vh * s->vh);
    double q = 0.5 * vehicle_density(s->h) * v * v;
    double drag = q * p->cd * p->area;
    double r = VEHICLE_R_EARTH / (VEHICLE_R_EARTH + s->h);
    double g = VEHICLE_G0 * r * r;
    double ax = (thrust * cos(pitch) - (v > 0 ? drag * s->vx / v : 0)) / s->mass;
    double ah = (thrust * sin(pitch) - (v > 0 ? drag * s->vh / v : 0)) / s->mass - g;
    /* Sitting on the pad: the ground carries what thrust does not. */
    if (s->h <= 0 && ah < 0 && s->vh <= 0) {
        ah = 0;
        ax = 0;
        s->vh = 0;
        s->vx = 0;
    }
    s->vx += ax * dt;
    s->vh += ah * dt;
    s->x += s->vx * dt;
    s->h += s->vh * dt;
    if (s->h < 0) {   /* impact: stop on the ground */
        s->h = 0;
        s->vh = 0;
        s->vx = 0;
    }
    s->mass -= mdot * dt;
    if (s->mass < p->dry_mass)
        s->mass = p->dry_mass;
    s->speed = sqrt(s->vx * s->vx + s->vh * s->vh);
    s->q = 0.5 * vehicle_density(s->h) * s->speed * s->speed;
    s->accel = sqrt(ax * ax + (ah + g) * (ah + g));
    s->thrust = thrust;
}

#endif
