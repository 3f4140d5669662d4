// oneDNN 2.6 (Debian 12 `libdnnl-dev`, C API) and the OpenMP runtime it is built on
// (libgomp). Debian ships no pkg-config file for oneDNN; dnnl.h is in /usr/include.
#pragma once
#include <oneapi/dnnl/dnnl.h>
#include <stdio.h>
#include <sys/prctl.h>

// libgomp's entry points (omp.h lives in GCC's private include dir, which Swift's clang
// does not search). The OpenMP thread count is per calling thread (an ICV of its task).
extern void omp_set_num_threads(int);
extern int omp_get_max_threads(void);
extern int omp_get_thread_num(void);
extern void GOMP_parallel(void (*fn)(void *), void *data, unsigned num_threads, unsigned flags);

// Argument indices of dnnl_primitive_execute (macros of macros in dnnl_types.h).
static const int dnnl_shim_arg_src = DNNL_ARG_SRC;
static const int dnnl_shim_arg_weights = DNNL_ARG_WEIGHTS;
static const int dnnl_shim_arg_bias = DNNL_ARG_BIAS;
static const int dnnl_shim_arg_dst = DNNL_ARG_DST;
static const int dnnl_shim_arg_scratchpad = DNNL_ARG_SCRATCHPAD;

static void dnnl_shim_name_member(void *prefix) {
    int i = omp_get_thread_num();
    if (i == 0) return;  // the calling thread keeps its own name
    char name[16];
    snprintf(name, sizeof name, "%s-%d", (const char *)prefix, i);
    prctl(PR_SET_NAME, (unsigned long)name, 0, 0, 0);
}

// Sets the calling thread's OpenMP team size to `threads` and, the first time its team
// grows to that size, names the team's threads "<prefix>-1", "<prefix>-2", ... (libgomp
// keeps one team per calling thread; its threads inherit the caller's nice value when
// they are created, and its name, which this replaces).
static inline void dnnl_shim_prepare_threads(int threads, const char *prefix) {
    static __thread int named = 1;
    omp_set_num_threads(threads);
    if (threads > named) {
        GOMP_parallel(dnnl_shim_name_member, (void *)prefix, (unsigned)threads, 0);
        named = threads;
    }
}
