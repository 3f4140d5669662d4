// OpenBLAS (Debian 12, pthread flavour). cblas.h lives in the openblas-pthread include
// dir that pkg-config's `openblas` adds; openblas_set_num_threads bounds BLAS threads.
#pragma once
#include <cblas.h>
#include <malloc.h>
#include <sys/prctl.h>

// Names the calling thread as the kernel shows it (15 bytes kept): prctl is variadic,
// which Swift cannot call.
static inline int cblas_shim_name_thread(const char *name) { return prctl(PR_SET_NAME, (unsigned long)name, 0, 0, 0); }
