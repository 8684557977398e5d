/* SPDX-License-Identifier: MIT
 * Upstream keeps its statistics interface (mi_stats_t, mi_stats_get, mi_stats_get_json) in
 * this header of its own. Here it is part of mimalloc.h, which this includes, so code that
 * includes either name compiles. */
#ifndef MIMALLOC_STATS_H
#define MIMALLOC_STATS_H

#include "mimalloc.h"

#endif /* MIMALLOC_STATS_H */
