// C++ kernels returning double: one with a mangled name, one extern "C".
#include <cstdint>

namespace kern {
double twice(double x) { return 2.0 * x; }
}

extern "C" double cxx_hypot2(double a, double b) { return a * a + b * b; }
