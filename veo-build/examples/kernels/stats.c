/* Kernels of the `build_kernels` example of veo-build: compiled into
 * libstats.so and checked against the declarations of stats.rs. */

struct point {
    double x, y;
};

double average(const double *a, int n) {
    double s = 0;
    for (int i = 0; i < n; i++) s += a[i];
    return n > 0 ? s / n : 0;
}

void scale(double *x, unsigned long n, double f) {
    for (unsigned long i = 0; i < n; i++) x[i] *= f;
}

long count_above(const double *a, long n, double limit) {
    long c = 0;
    for (long i = 0; i < n; i++) c += a[i] > limit;
    return c;
}

void shift(struct point *p, double dx, double dy) {
    p->x += dx;
    p->y += dy;
}
