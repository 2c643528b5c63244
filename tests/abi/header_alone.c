/* ctm.h must compile on its own, first, under strict C99 and C11. */
#include "ctm.h"

int main(void)
{
    ctm_open_options opts = CTM_OPEN_OPTIONS_INIT;
    (void)opts;
    return CTM_VERSION_NUMBER > 0 ? 0 : 1;
}
