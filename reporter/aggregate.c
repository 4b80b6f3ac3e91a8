/* aggregate.c - placeholder until issue 3's aggregator lands. */
#include "sw/incident.h"
