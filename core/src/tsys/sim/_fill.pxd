# Declarations of the compiled simulator (see _fill.pyx and reference.py for the rules).

cdef struct FillBuf:
    Py_ssize_t n
    Py_ssize_t cap
    long long cur  # the decision set being simulated: recorded with every fill
    long long *sid
    long long *bar
    long long *sym
    signed char *side
    signed char *reason
    double *qty
    double *price
    double *ref
    double *fee
    double *slip
    double *unfilled
    double *stop0
    double *pos_after

cdef double floor_lot(double x, double lot) noexcept nogil
cdef double fee_of(double q, double px, double rate, double per_share, double minimum) noexcept nogil
cdef double affordable(double q, double px, double avail, double rate, double per_share,
                       double minimum, double lot) noexcept nogil
cdef bint valid_bar(double o, double h, double lo, double c, double v) noexcept nogil
