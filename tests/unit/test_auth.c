#include "autoconf.h"

#include "check.h"

int
main(void)
{
	return check_finish();
}
