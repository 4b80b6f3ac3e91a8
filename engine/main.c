/* main.c - placeholder until the pipeline lands (issue 2). */
#include <stdio.h>

#include "sw/sw.h"

int main(void)
{
    printf("stanzawatch %s\n", SW_VERSION);
    return 0;
}
