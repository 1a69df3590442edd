/* being written */
#include "internal.h"
