/* The version the library was built as, to compare with the header's. */
#include "internal.h"
#include "orchestra/version.h"

ORC_API const char *orc_version(void)
{
	return ORC_VERSION_STRING;
}
