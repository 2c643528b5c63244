// ctm.h must compile on its own as C++ (extern "C" linkage for embedding applications).
#include "ctm.h"

int main()
{
    ctm_open_options opts = CTM_OPEN_OPTIONS_INIT;
    (void)opts;
    return CTM_VERSION_NUMBER > 0 ? 0 : 1;
}
