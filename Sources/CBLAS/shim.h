// OpenBLAS (Debian 12, pthread flavour). cblas.h lives in the openblas-pthread include
// dir that pkg-config's `openblas` adds; openblas_set_num_threads bounds BLAS threads.
#pragma once
#include <cblas.h>
#include <malloc.h>
